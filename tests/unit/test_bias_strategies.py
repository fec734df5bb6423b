"""The position-bias report never blames a perfect judge, under any strategy (later blocks are
built from earlier judgements, e.g. a sliding window's previous winner in slot 11), while a
judge with an injected slot preference is still flagged."""

from __future__ import annotations

import random
import re

import pytest

from listrank import Reranker, registry
from listrank.backends.base import GenerationRequest
from listrank.backends.fake import FakeBackend
from listrank.evaluation.bias import bias_report
from listrank.evaluation.summary import RunSummary
from listrank.types import CallRecord

_PASSAGE = re.compile(r"\[(\d+)\] doc grade (\d+)")
QUERIES = 12
N = 60
# a permutation judge's slot bias; strategies that score each candidate alone show it no block
STRATEGIES = [
    s for s in registry.names("strategy") if not registry.get("strategy", s).load().needs_scores
]


def oracle(biased_slot: int | None = None) -> FakeBackend:
    """Orders the shown passages by the grade written in them; with ``biased_slot`` that slot
    always comes first."""

    def respond(request: GenerationRequest) -> str:
        text = "\n".join(m["content"] for m in request.messages)
        shown = {int(i): int(g) for i, g in _PASSAGE.findall(text)}
        order = sorted(shown, key=lambda i: (-shown[i], i))
        if biased_slot is not None and biased_slot + 1 in shown:
            order.remove(biased_slot + 1)
            order.insert(0, biased_slot + 1)
        return " > ".join(f"[{i}]" for i in order)

    return FakeBackend(responder=respond)


def run(
    strategy: str,
    backend: FakeBackend,
    *,
    perfect: bool = True,
    calls: list[CallRecord] | None = None,
) -> RunSummary:
    reranker = Reranker(backend=backend, method="rankgpt", strategy=strategy)
    rng = random.Random(7)
    summary = RunSummary()
    for q in range(QUERIES):
        grades = list(range(N))
        rng.shuffle(grades)  # input order carries no information about the grades
        cands = [{"docid": f"d{i}", "text": f"doc grade {g}"} for i, g in enumerate(grades)]
        ranking = reranker.rerank(f"query {q}", cands)
        if perfect and strategy in ("sliding", "single", "tdpart"):
            top = [int(r.candidate.text.split()[-1]) for r in ranking.ranked[:5]]
            assert top == [N - 1, N - 2, N - 3, N - 4, N - 5]  # the oracle really is perfect
        summary.add(ranking)
        if calls is not None:
            calls.extend(ranking.trace.calls)
    return summary


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_perfect_oracle_is_never_flagged(strategy: str) -> None:
    summary = run(strategy, oracle())
    report = summary.bias()
    assert report.blocks >= QUERIES, report.format()
    assert not report.position_driven, report.format()
    assert "stage-0 blocks only" in report.format()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_injected_slot_bias_is_flagged(strategy: str) -> None:
    report = run(strategy, oracle(biased_slot=0), perfect=False).bias()
    assert report.position_driven, report.format()
    assert "slot 1 was the top pick" in report.format()


def test_all_blocks_scope_shows_why_later_blocks_are_left_out() -> None:
    # under back-to-front sliding, slot 11 of each later window holds the previous winner
    calls: list[CallRecord] = []
    summary = run("sliding", oracle(), calls=calls)
    everything = bias_report(calls, scope="all")
    assert everything.top_slot_counts.get(10, 0) > everything.blocks // 2
    assert everything.position_driven
    first = summary.bias()
    assert first.skipped == everything.blocks - first.blocks > 0
