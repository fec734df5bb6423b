"""Run statistics that travel between processes: a RunSummary as plain fields, and merging.

Workers summarise what they reranked; the driver merges those parts into one RunSummary of the
same shape a single-process run prints. Merging is generic over the dataclass fields (counts
add, latency lists concatenate) so it stays right when RunSummary grows a field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from typing import Any

from listrank.evaluation.summary import RunSummary
from listrank.types import CallRecord, Ranking, RepairStats


def _record_json(record: CallRecord) -> dict[str, Any]:
    """What the run summary needs of a call (the bias report), JSON-safe and small."""
    return {
        "method": record.method,
        "docids": list(record.docids),
        "order": None if record.order is None else list(record.order),
        "repair": asdict(record.repair),
        "error": record.error,
        "calls": record.calls,
        "cached": record.cached,
    }


def _record_from_json(data: Mapping[str, Any]) -> CallRecord:
    order = data.get("order")
    return CallRecord(
        method=str(data["method"]),
        docids=tuple(data["docids"]),
        prompt_tokens=0,
        completion_tokens=0,
        output="",
        latency_s=0.0,
        repair=RepairStats(**data["repair"]),
        error=data.get("error"),
        order=None if order is None else tuple(order),
        calls=int(data.get("calls", 1)),
        cached=bool(data.get("cached", False)),
    )


def summary_fields(summary: RunSummary) -> dict[str, Any]:
    """JSON-safe fields of a summary (not ``as_dict``: that rounds and drops the latencies)."""
    out = {f.name: getattr(summary, f.name) for f in fields(summary)}
    out["call_records"] = [_record_json(c) for c in summary.call_records]
    return out


def ranking_fields(ranking: Ranking) -> dict[str, Any]:
    one = RunSummary()
    one.add(ranking)
    return summary_fields(one)


def merge(parts: Iterable[Mapping[str, Any]]) -> RunSummary:
    total = RunSummary()
    for part in parts:
        merge_into(total, part)
    return total


def merge_into(total: RunSummary, part: Mapping[str, Any]) -> None:
    for f in fields(total):
        if f.name not in part:
            continue
        current = getattr(total, f.name)
        if f.name == "call_records":
            current.extend(_record_from_json(c) for c in part[f.name])
        elif isinstance(current, list):
            current.extend(part[f.name])
        else:
            setattr(total, f.name, current + part[f.name])
