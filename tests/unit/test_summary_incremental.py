"""The run summary keeps running sums only: its size does not grow with the queries, its bias
report equals the one computed from every call record, and parts of a run (workers) merge and
travel as JSON into the same summary."""

from __future__ import annotations

import hashlib
import json
import random
import re

import pytest

from listrank import Reranker
from listrank.backends.base import GenerationRequest
from listrank.backends.fake import FakeBackend
from listrank.batch.stats import merge, ranking_fields, summary_fields
from listrank.evaluation.bias import BiasReport, BiasTally, bias_report
from listrank.evaluation.summary import RunSummary
from listrank.types import CallRecord, Ranking, RepairStats

_SHOWN = re.compile(r"\[(\d+)\]")


def _judge(request: GenerationRequest) -> str:
    """A deterministic judge with a mild first-slot habit; some answers are malformed."""
    text = "\n".join(m["content"] for m in request.messages)
    shown = sorted({int(i) for i in _SHOWN.findall(text)})
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    if rng.random() < 0.15:
        return "I cannot decide."
    rng.shuffle(shown)
    if rng.random() < 0.4 and 1 in shown:
        shown.remove(1)
        shown.insert(0, 1)
    return " > ".join(f"[{i}]" for i in shown)


def _rankings(queries: int, strategy: str = "sliding") -> list[Ranking]:
    reranker = Reranker(backend=FakeBackend(responder=_judge), method="rankgpt", strategy=strategy)
    rng = random.Random(3)
    out = []
    for q in range(queries):
        n = rng.randint(8, 45)
        cands = [{"docid": f"d{i}", "text": f"passage {i} of {q}"} for i in range(n)]
        out.append(reranker.rerank(f"query {q}", cands))
    return out


def _same(a: BiasReport, b: BiasReport) -> None:
    assert (a.blocks, a.answered, a.skipped, a.scope) == (b.blocks, b.answered, b.skipped, b.scope)
    assert a.top_slot_counts == b.top_slot_counts
    assert a.reasons == b.reasons
    for name in ("top_first_share", "top_last_share", "chance_top_share", "max_slot_share"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), abs=1e-12)
    assert a.mean_spearman == pytest.approx(b.mean_spearman, abs=1e-12)
    assert a.format() == b.format()


@pytest.fixture(scope="module")
def rankings() -> list[Ranking]:
    return _rankings(24)


@pytest.mark.parametrize("scope", ["first-stage", "all"])
def test_tally_matches_the_report_over_every_record(rankings: list[Ranking], scope: str) -> None:
    calls = [c for r in rankings for c in r.trace.calls]
    whole = BiasTally(scope)
    parts = [BiasTally(scope) for _ in range(3)]
    for i, c in enumerate(calls):
        whole.add(c)
        parts[i % 3].add(c)
    merged = BiasTally(scope)
    for p in parts:
        merged.merge(BiasTally.from_json(json.loads(json.dumps(p.to_json()))))
    want = bias_report(calls, scope=scope)
    assert want.blocks > 20 and 0 < want.answered < want.blocks
    assert whole.report() == want  # same order of additions: identical, floats too
    _same(merged.report(), want)


def test_tally_refuses_mixed_scopes() -> None:
    with pytest.raises(ValueError, match="scope"):
        BiasTally("everything")
    with pytest.raises(ValueError, match="cannot merge"):
        BiasTally("all").merge(BiasTally())


def test_summary_equals_the_record_based_report(rankings: list[Ranking]) -> None:
    summary = RunSummary()
    for r in rankings:
        summary.add(r)
    calls = [c for r in rankings for c in r.trace.calls]
    assert summary.bias() == bias_report(calls)
    assert summary.bias().skipped > 0  # later sliding windows are left out
    assert summary.as_dict()["latency_s_total"] == round(
        sum(r.trace.latency_s for r in rankings), 3
    )


def test_summary_size_does_not_grow_with_queries(rankings: list[Ranking]) -> None:
    def size(n: int) -> int:
        summary = RunSummary()
        for r in (rankings * 10)[:n]:
            summary.add(r)
        assert summary.queries == n
        return len(json.dumps(summary_fields(summary)))

    small, large = size(len(rankings)), size(10 * len(rankings))
    # only digits of the counts grow; per-call or per-query lists would grow tenfold
    assert large < small + 200, (small, large)


def test_per_query_parts_merge_into_the_whole(rankings: list[Ranking]) -> None:
    whole = RunSummary()
    for r in rankings:
        whole.add(r)
    parts = [json.loads(json.dumps(ranking_fields(r))) for r in rankings]  # as workers ship them
    merged = merge(parts)
    assert merged.as_dict() == whole.as_dict()
    _same(merged.bias(), whole.bias())
    assert merged.bias().skipped == whole.bias().skipped > 0  # stages survive the trip
    assert merged.format() == whole.format()


def test_older_manifest_fields_still_merge() -> None:
    def record(order: list[int], malformed: bool = False) -> dict[str, object]:
        return {
            "method": "rankgpt",
            "docids": [f"d{i}" for i in range(len(order))],
            "order": order,
            "repair": {"malformed": malformed},
            "error": None,
            "calls": 1,
            "cached": False,
        }

    legacy = {
        "queries": 2,
        "calls": 3,
        "latencies_s": [0.5, 0.25],
        "call_records": [record([0, 1, 2]), record([2, 1, 0]), record([1, 0, 2], True)],
    }
    summary = merge([legacy, {"queries": 1, "calls": 1, "latencies_s": [1.0]}])
    assert summary.queries == 3 and summary.calls == 4
    assert summary.latency_s_total == pytest.approx(1.75)
    want = bias_report(
        [
            CallRecord("m", ("a", "b", "c"), 0, 0, "", 0.0, order=(0, 1, 2)),
            CallRecord("m", ("a", "b", "c"), 0, 0, "", 0.0, order=(2, 1, 0)),
            CallRecord(
                "m", ("a", "b", "c"), 0, 0, "", 0.0, RepairStats(malformed=True), order=(1, 0, 2)
            ),
        ]
    )
    assert summary.bias() == want and want.blocks == 3 and want.answered == 2
