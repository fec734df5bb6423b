"""The LLM prefilter: a pointwise (or any) LLM stage keeps the top k for the listwise stage;
both stages are in the trace and the plan, and the config builds and checks it."""

from __future__ import annotations

import math
import re

import pytest

from listrank import Reranker
from listrank.backends.base import GenerationRequest, LogprobRequest
from listrank.backends.fake import FakeBackend
from listrank.errors import ConfigError
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.llm_prefilter import LLMPrefilter
from listrank.pipeline.schema import check
from listrank.strategies.planning import check_trace, describe_plan

# passage i's P(yes) rises with i: the prefilter's order reverses the input
PASSAGES = [f"passage number {i}" for i in range(8)]


def _yes_no(request: LogprobRequest) -> dict[str, float]:
    i = int(re.search(r"passage number (\d+)", request.messages[-1]["content"]).group(1))  # type: ignore[union-attr]
    positive, negative = request.tokens
    return {positive: math.log(0.1 + 0.1 * i), negative: math.log(0.9 - 0.1 * i)}


def _keep_order(request: GenerationRequest) -> str:
    n = len(re.findall(r"^\[\d+\]", request.messages[-1]["content"], flags=re.M)) or sum(
        1 for m in request.messages if re.match(r"\[\d+\]", m["content"])
    )
    return " > ".join(f"[{i + 1}]" for i in range(n))


def fake() -> FakeBackend:
    return FakeBackend(responder=_keep_order, logprob_responder=_yes_no)


def test_the_top_k_by_pointwise_score_go_to_the_listwise_stage() -> None:
    backend = fake()
    rr = Reranker(
        backend, method="rankgpt", strategy="sliding", window=3, prefilter=LLMPrefilter(k=3)
    )
    ranking = rr.rerank("query", PASSAGES)
    assert ranking.docids == ["7", "6", "5", "4", "3", "2", "1", "0"]
    calls = ranking.trace.calls
    pre = [c for c in calls if c.extra.get("pipeline_stage") == "prefilter"]
    listwise = [c for c in calls if c.extra.get("pipeline_stage") != "prefilter"]
    assert len(pre) == 8 and calls[:8] == tuple(pre)  # every candidate scored, first
    assert [set(c.docids) for c in listwise] == [{"7", "6", "5"}]  # only the top 3 listwise
    assert {c.stage for c in pre} == {0} and {c.stage for c in listwise} == {1}
    assert ranking.trace.depth == 2
    assert backend.batches[0] == 8  # the prefilter stage is one backend call
    plan = ranking.trace.plan
    assert plan is not None and (plan.calls, plan.depth) == (9, 2)
    assert check_trace(ranking.trace).ok


def test_plan_counts_both_stages() -> None:
    rr = Reranker(fake(), method="first", strategy="sliding", prefilter=LLMPrefilter(k=20))
    plan = rr.plan(100)
    assert (plan.calls, plan.depth) == (101, 2)
    assert [p.calls for p in plan.parts] == [100, 1]
    text = describe_plan(plan)
    assert "prefilter" in text and "pointwise on 100: 100 calls" in text
    with_tokens = rr.plan(100, "query", [f"passage {i}" for i in range(100)])
    parts = with_tokens.parts
    assert with_tokens.prompt_tokens == sum(p.prompt_tokens or 0 for p in parts) > 0


def test_the_prefilter_may_use_any_method() -> None:
    """FIRST as the prefilter (blocks of 4 by sliding), then RankGPT on its top 2."""
    rr = Reranker(
        fake(),
        method="rankgpt",
        strategy="single",
        prefilter=LLMPrefilter(k=2, method="first", strategy="sliding", window=4),
    )
    assert rr.prefilter is not None and rr.prefilter.inner.method.name == "first"
    assert rr.plan(8).parts[0].strategy == "sliding"


def test_many_queries_merge_the_prefilter_stage() -> None:
    backend = fake()
    rr = Reranker(
        backend, method="rankgpt", strategy="single", prefilter=LLMPrefilter(k=3), window=3
    )
    assert rr._gate is not None
    rr._gate.linger_s = 30.0
    many = rr.rerank_many([(f"query {q}", PASSAGES) for q in range(3)], max_in_flight=3)
    assert backend.batches == [24, 3]  # 3 x 8 pointwise pairs, then 3 listwise windows
    assert all(r.docids[:3] == ["7", "6", "5"] for r in many)


def test_config_builds_and_checks_an_llm_prefilter() -> None:
    data = {
        "backend": {"name": "fake"},
        "method": {"name": "rankgpt"},
        "prefilter": {"type": "llm", "k": 5, "template": "qwen3_reranker"},
    }
    cfg = PipelineConfig.from_dict(data)
    check(cfg)
    rr = cfg.build()
    assert isinstance(rr.prefilter, LLMPrefilter) and rr.prefilter.k == 5
    assert rr.prefilter.inner.method.template.name == "qwen3_reranker"  # type: ignore[attr-defined]
    bad = {**data, "prefilter": {"type": "llm", "windw": 3}}
    with pytest.raises(ConfigError, match=r"prefilter.*windw"):
        check(PipelineConfig.from_dict(bad))
    with pytest.raises(ConfigError, match="k must be"):
        check(PipelineConfig.from_dict({**data, "prefilter": {"type": "llm", "k": 0}}))
