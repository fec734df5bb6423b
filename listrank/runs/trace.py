"""Call traces as JSON lines (`--trace FILE.jsonl`): one line per model call, with what was
sent, what came back, how it was parsed and repaired, and what it cost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from listrank.runs import safe_json
from listrank.types import CallRecord, Ranking

TRACE_KEYS = (
    "qid",
    "call",
    "stage",
    "block",
    "method",
    "docids",
    "messages",
    "prompt",
    "raw_answer",
    "order",
    "ranked_docids",
    "repairs",
    "repaired",
    "scores",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "latency_s",
    "cached",
    "calls",
    "error",
)
"""Every line has these keys (plus ``system`` in an A/B trace); ``messages`` is empty and
``prompt`` set for methods that send text (ICR)."""


def call_line(qid: str, index: int, record: CallRecord, **more: Any) -> dict[str, Any]:
    order = list(record.order) if record.order is not None else None
    line: dict[str, Any] = {
        **more,
        "qid": qid,
        "call": index,
        "stage": record.stage,
        "block": record.extra.get("block", ""),
        "method": record.method,
        "docids": list(record.docids),
        "messages": [dict(m) for m in record.messages],
        "prompt": record.prompt,
        "raw_answer": record.output,
        "order": order,
        "ranked_docids": None if order is None else [record.docids[i] for i in order],
        "repairs": asdict(record.repair),
        "repaired": record.repair.repaired,
        "scores": None if record.scores is None else list(record.scores),
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "reasoning_tokens": record.reasoning_tokens,
        "latency_s": record.latency_s,
        "cached": record.cached,
        "calls": record.calls,
        "error": record.error,
    }
    return line


def trace_records(ranking: Ranking, **more: Any) -> Iterator[dict[str, Any]]:
    for i, record in enumerate(ranking.trace.calls):
        yield call_line(ranking.query.qid, i, record, **more)


def trace_text(ranking: Ranking, **more: Any) -> str:
    """A query's trace lines as text (NaN scores written as null: JSON has no NaN)."""
    return "".join(
        safe_json.escape_for_utf8(json.dumps(_finite(line), ensure_ascii=False)) + "\n"
        for line in trace_records(ranking, **more)
    )


def _finite(line: dict[str, Any]) -> dict[str, Any]:
    scores = line.get("scores")
    if scores is not None:
        line["scores"] = [s if s == s and abs(s) != float("inf") else None for s in scores]
    return line
