"""Run statistics that travel between processes: a RunSummary as plain fields, and merging.

Workers summarise what they reranked; the driver merges those parts into one RunSummary of the
same shape a single-process run prints. Merging is generic over the dataclass fields (counts
add, latency lists concatenate) so it stays right when RunSummary grows a field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from listrank.summary import RunSummary
from listrank.types import Ranking


def summary_fields(summary: RunSummary) -> dict[str, Any]:
    """JSON-safe fields of a summary (not ``as_dict``: that rounds and drops the latencies)."""
    return {f.name: getattr(summary, f.name) for f in fields(summary)}


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
        if isinstance(current, list):
            current.extend(part[f.name])
        else:
            setattr(total, f.name, current + part[f.name])
