"""Run statistics that travel between processes: a RunSummary as plain fields, and merging.

Workers summarise what they reranked; the driver merges those parts into one RunSummary of the
same shape a single-process run prints (``RunSummary.merge``: counts and sums add, bias tallies
merge). Manifests written before the summary kept running sums hold ``latencies_s`` and
``call_records`` lists; those still merge, so such a job resumes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from listrank.evaluation.bias import BiasTally
from listrank.evaluation.summary import RunSummary
from listrank.types import CallRecord, Ranking, RepairStats


def _legacy_record(data: Mapping[str, Any]) -> CallRecord:
    """A call record as older manifests kept it (no stage: every call counted as stage 0)."""
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
    """JSON-safe fields of a summary (not ``as_dict``: that rounds and drops the bias sums)."""
    out = {f.name: getattr(summary, f.name) for f in fields(summary)}
    out["bias_tally"] = summary.bias_tally.to_json()
    return out


def summary_from_fields(part: Mapping[str, Any]) -> RunSummary:
    one = RunSummary()
    for f in fields(one):
        if f.name == "bias_tally":
            if f.name in part:
                one.bias_tally = BiasTally.from_json(part[f.name])
        elif f.name in part:
            setattr(one, f.name, part[f.name])
    if "latencies_s" in part:  # older manifests
        one.latency_s_total += sum(part["latencies_s"])
    for record in part.get("call_records", ()):
        one.bias_tally.add(_legacy_record(record))
    return one


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
    total.merge(summary_from_fields(part))
