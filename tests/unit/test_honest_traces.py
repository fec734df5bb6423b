"""A trace's raw_answer holds only what the model wrote: score methods (FIRST, ICR, setwise
likelihood) record their scores and an empty raw_answer, never an order listrank built."""

from __future__ import annotations

import json
from typing import Any

from listrank import Reranker
from listrank.backends.fake import FakeBackend
from listrank.runs.trace import trace_text

PASSAGES = [f"passage {i} about dogs and the night" for i in range(5)]


def lines(ranking: Any) -> list[dict[str, Any]]:
    return [json.loads(x) for x in trace_text(ranking).splitlines()]


def test_first_records_scores_and_no_invented_answer() -> None:
    scores = {"A": -2.0, "B": -0.1, "C": -3.0, "D": -1.0, "E": -4.0}
    fake = FakeBackend(logprob_responder=lambda r: dict(scores))
    ranking = Reranker(fake, method="first", strategy="single").rerank("dogs", PASSAGES)
    (call,) = lines(ranking)
    assert call["raw_answer"] == "" and call["scores"] == [-2.0, -0.1, -3.0, -1.0, -4.0]
    assert ranking.docids[:2] == ["1", "3"]  # the scores' order is still the ranking


def test_permutation_averaged_scores_keep_an_empty_answer() -> None:
    fake = FakeBackend(logprob_responder=lambda r: {t: -float(i) for i, t in enumerate(r.tokens)})
    reranker = Reranker(fake, method="first", strategy="single", permutations=2)
    (call,) = lines(reranker.rerank("dogs", PASSAGES))
    assert call["raw_answer"] == "" and call["calls"] == 2


def test_icr_records_attention_scores_and_no_answer(tiny_hf: Any) -> None:
    ranking = Reranker(tiny_hf, method="icr", strategy="single").rerank("dogs", PASSAGES)
    (call,) = lines(ranking)
    assert call["raw_answer"] == "" and len(call["scores"]) == 5


def test_a_generated_answer_is_kept_verbatim() -> None:
    fake = FakeBackend()
    fake.enqueue(["Sure: [2] > [1] > [3]"])
    ranking = Reranker(fake, method="rankgpt", strategy="single").rerank("dogs", PASSAGES[:3])
    (call,) = lines(ranking)
    assert call["raw_answer"] == "Sure: [2] > [1] > [3]" and call["scores"] is None
