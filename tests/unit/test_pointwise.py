"""Pointwise yes/no scoring: the closed form on a scripted judge, the tiny model's own logits,
the label check, unscored candidates, the one-stage strategy, calibration and fusion."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from listrank import Reranker
from listrank.backends.base import GenerationRequest, LogprobRequest
from listrank.backends.fake import FakeBackend
from listrank.backends.hf import HFBackend
from listrank.errors import ConfigError, TemplateError
from listrank.methods.pointwise import PointwiseMethod, yes_probability
from listrank.pipeline.fusion import Fusion
from listrank.prompting.templates import PromptTemplate, load_template
from listrank.testing import tiny_backend
from listrank.types import Candidate, Query

QUERY = Query("which animals bark at night")
# per passage: (logprob of "yes", logprob of "no"), the scripted judge's answer
SCRIPT = {
    "dogs bark at night": (-0.1, -2.5),
    "cats purr softly": (-3.0, -0.2),
    "foxes bark in winter": (-0.7, -0.9),
    "fish swim": (-6.0, -0.01),
}


def _passage(request: LogprobRequest, script: dict[str, tuple[float, float]] = SCRIPT) -> str:
    text = request.messages[-1]["content"]
    return next(p for p in script if f"Passage: {p}" in text)


def scripted(extra: dict[str, tuple[float, float]] | None = None) -> FakeBackend:
    script = {**SCRIPT, **(extra or {})}

    def answer(request: LogprobRequest) -> dict[str, float]:
        assert tuple(request.tokens) == ("Yes", "No")  # the template's labels
        yes, no = script[_passage(request, script)]
        return {"Yes": yes, "No": no}

    return FakeBackend(logprob_responder=answer)


def closed_form(yes: float, no: float) -> float:
    return math.exp(yes) / (math.exp(yes) + math.exp(no))


def test_scores_equal_the_closed_form_and_order_by_them() -> None:
    backend = scripted()
    rr = Reranker(backend, method="pointwise", strategy="pointwise")
    ranking = rr.rerank(QUERY, list(SCRIPT))
    expected = {str(i): closed_form(*lp) for i, lp in enumerate(SCRIPT.values())}
    assert ranking.docids == sorted(expected, key=lambda d: -expected[d])
    for r in ranking.ranked:
        assert r.score == pytest.approx(expected[r.candidate.docid], abs=1e-12)
    # one stage: every candidate in one backend call, one record per candidate
    assert backend.batches == [4]
    assert ranking.trace.depth == 1 and ranking.trace.n_calls == 4
    assert ranking.trace.plan is not None and ranking.trace.plan.calls == 4


def test_yes_probability_is_stable_and_nan_when_a_label_is_missing() -> None:
    assert yes_probability(-1000.0, -1001.0) == pytest.approx(1 / (1 + math.exp(-1)))
    assert yes_probability(0.0, -800.0) == pytest.approx(1.0)
    assert math.isnan(yes_probability(None, -1.0))
    assert math.isnan(yes_probability(-1.0, math.nan))


def test_a_candidate_without_both_labels_is_unscored_last_and_reported() -> None:
    def answer(request: LogprobRequest) -> dict[str, float]:
        passage = _passage(request)
        if passage == "dogs bark at night":
            return {"No": -0.3}  # "Yes" fell outside a truncated top-k
        yes, no = SCRIPT[passage]
        return {"Yes": yes, "No": no}

    method = PointwiseMethod(FakeBackend(logprob_responder=answer))
    cands = [Candidate(str(i), p) for i, p in enumerate(SCRIPT)]
    (block,) = method.judge(QUERY, [cands])  # a block of several: scored one by one
    assert block.scores is not None and math.isnan(block.scores[0])
    assert block.order[-1] == 0 and block.filled == frozenset({0})
    assert block.record.extra["unscored"] == {"0": ["Yes"]}
    assert block.record.calls == 4
    ranking = Reranker(
        FakeBackend(logprob_responder=answer), method="pointwise", strategy="pointwise"
    ).rerank(QUERY, list(SCRIPT))
    assert ranking.docids[-1] == "0"
    assert ranking.ranked[-1].score < min(r.score for r in ranking.ranked[:-1])


def test_labels_must_be_single_tokens() -> None:
    template = PromptTemplate.from_dict(
        {
            "methods": ["pointwise"],
            "labels": ["yes indeed", "no"],
            "passage": "{passage}",
            "messages": [{"role": "user", "content": "{query} {passages} relevant?"}],
        }
    )
    with pytest.raises(TemplateError, match="'yes indeed' -> "):
        PointwiseMethod(scripted(), template=template)


def test_a_pointwise_template_needs_two_labels() -> None:
    with pytest.raises(TemplateError, match="labels = \\[positive, negative\\]"):
        PromptTemplate.from_dict(
            {
                "methods": ["pointwise"],
                "labels": ["yes"],
                "messages": [{"role": "user", "content": "{query} {passages}"}],
            }
        )


def test_the_pointwise_strategy_refuses_a_method_without_scores() -> None:
    with pytest.raises(ConfigError, match="method='pointwise'"):
        Reranker(FakeBackend(["[1]"]), method="rankgpt", strategy="pointwise")


def test_qwen3_reranker_template_renders_its_format() -> None:
    t = load_template("qwen3_reranker")
    p = t.render("what is a fox", ["Foxes are canids."])
    assert p.messages[0]["content"].startswith("Judge whether the Document meets")
    assert p.messages[1]["content"] == (
        "<Instruct>: Given a web search query, retrieve relevant passages that answer the "
        "query\n<Query>: what is a fox\n<Document>: Foxes are canids."
    )
    assert p.assistant_prefix == "<think>\n\n</think>\n\n"
    assert t.labels == ("yes", "no")


@pytest.fixture(scope="module")
def tiny() -> HFBackend:
    return tiny_backend("llama")


@pytest.mark.parametrize("template", ["pointwise", "qwen3_reranker"])
def test_scores_equal_the_tiny_models_own_logits(tiny: HFBackend, template: str) -> None:
    method = PointwiseMethod(tiny, template=template)
    cands = [Candidate(str(i), p) for i, p in enumerate(SCRIPT)]
    judgements = method.judge(QUERY, [[c] for c in cands])  # one padded batch
    loaded = load_template(template)
    yes, no = (tiny.token_ids(label)[0] for label in loaded.labels)
    for c, j in zip(cands, judgements, strict=True):
        p = loaded.render(QUERY.text, [c.text])
        text = tiny.prompt_text(p.messages, p.assistant_prefix)
        ids = tiny.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = tiny.model(ids).logits[0, -1]
        expected = float(torch.softmax(logits[[yes, no]], -1)[0])
        assert j.scores == pytest.approx((expected,), abs=1e-4)
        assert j.record.prompt_tokens == ids.shape[1]


def test_calibration_subtracts_the_content_free_score() -> None:
    extra = {"N/A": (-1.0, -1.0)}  # the content-free pair scores 0.5
    plain = Reranker(scripted(extra), method="pointwise", strategy="pointwise")
    calibrated = Reranker(scripted(extra), method="pointwise", strategy="pointwise", calibrate=True)
    assert calibrated.plan(4).calls == 5  # the prior's one call is planned
    a, b = plain.rerank(QUERY, list(SCRIPT)), calibrated.rerank(QUERY, list(SCRIPT))
    assert a.docids == b.docids  # one prior for every candidate: the order stays
    for x, y in zip(a.ranked, b.ranked, strict=True):
        assert y.score == pytest.approx(x.score - 0.5)
    assert calibrated.plan(4).calls == 4  # measured once, then kept


def test_linear_fusion_blends_the_pointwise_scores() -> None:
    cands = [Candidate(str(i), p, score=float(10 - i)) for i, p in enumerate(SCRIPT)]
    fusion = Fusion("linear", weight=1.0)
    ranking = Reranker(scripted(), method="pointwise", strategy="pointwise", fusion=fusion).rerank(
        QUERY, cands
    )
    probs = [closed_form(*lp) for lp in SCRIPT.values()]
    lo, hi = min(probs), max(probs)
    for r in ranking.ranked:  # min-max of the probabilities themselves, not of ranks
        assert r.score == pytest.approx((probs[int(r.candidate.docid)] - lo) / (hi - lo))


def test_many_queries_share_one_backend_call() -> None:
    backend = scripted()
    rr = Reranker(backend, method="pointwise", strategy="pointwise")
    assert rr._gate is not None
    rr._gate.linger_s = 30.0  # only "everyone is waiting" dispatches
    reqs = [(Query(f"query {i}", f"q{i}"), list(SCRIPT)) for i in range(5)]
    many = rr.rerank_many(reqs, max_in_flight=5)
    assert backend.batches == [20]  # 5 queries x 4 candidates, one stage, one call
    one = Reranker(scripted(), method="pointwise", strategy="pointwise").rerank(QUERY, list(SCRIPT))
    assert all(r.docids == one.docids for r in many)


class ThinkingFake(FakeBackend):
    """Generation marks a thought cut when it lacks ``</think>`` (the budget ran out)."""

    def generate(self, requests):  # type: ignore[no-untyped-def]
        out = super().generate(requests)
        return [dataclasses.replace(r, truncated="</think>" not in r.text) for r in out]


def rank1_backend(cut: set[str]) -> ThinkingFake:
    """Reasons briefly (or runs out of budget for the passages in ``cut``), then scores
    " true"/" false" after the closed thought from SCRIPT."""

    def think(request: GenerationRequest) -> str:
        assert request.assistant_prefix == "<think>" and "</think>" in request.stop
        passage = next(p for p in SCRIPT if f"Passage: {p}" in request.messages[-1]["content"])
        return "this passage is about" if passage in cut else "it mentions barking </think> true"

    def score(request: LogprobRequest) -> dict[str, float]:
        assert request.assistant_prefix.endswith("</think>")  # read right after the thought
        assert tuple(request.tokens) == (" true", " false")
        passage = next(p for p in SCRIPT if f"Passage: {p}" in request.messages[-1]["content"])
        yes, no = SCRIPT[passage]
        return {" true": yes, " false": no}

    return ThinkingFake(responder=think, logprob_responder=score)


def test_rank1_reasons_then_scores_true_after_the_thought() -> None:
    backend = rank1_backend(cut={"fish swim"})
    rr = Reranker.from_preset("rank1", backend=backend)
    ranking = rr.rerank(QUERY, list(SCRIPT))
    expected = {str(i): closed_form(*lp) for i, lp in enumerate(SCRIPT.values())}
    for r in ranking.ranked:
        assert r.score == pytest.approx(expected[r.candidate.docid], abs=1e-12)
    # one batched generation (the thoughts), one batched scoring pass
    assert backend.batches == [4, 4]
    assert ranking.trace.n_calls == 8 and ranking.trace.plan is not None
    assert ranking.trace.plan.calls == 8
    prefixes = [r.assistant_prefix for r in backend.history if isinstance(r, LogprobRequest)]
    assert "<think>it mentions barking </think>" in prefixes
    assert "<think>this passage is about</think>" in prefixes  # the cut one, closed
    forced = [c.extra["forced_answers"] for c in ranking.trace.calls]
    assert sum(forced) == 1


def test_rank1_without_forced_answers_leaves_a_cut_thought_unscored() -> None:
    backend = rank1_backend(cut={"dogs bark at night"})
    method = PointwiseMethod(backend, template="rank1", reasoning_budget=64, force_answer=False)
    cands = [Candidate(str(i), p) for i, p in enumerate(SCRIPT)]
    judged = method.judge(QUERY, [[c] for c in cands])
    assert judged[0].scores is not None and math.isnan(judged[0].scores[0])
    assert all(not math.isnan(j.scores[0]) for j in judged[1:] if j.scores is not None)
