"""Thinking models end to end over a loopback reasoning stand-in: the reasoning budget, forced
answers after a cut thought, reasoning tokens counted apart, and the request parameters of
OpenAI's reasoning models as the openai SDK itself sends them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from listrank.backends.base import GenerationRequest  # noqa: E402
from listrank.backends.openai import OpenAIBackend  # noqa: E402
from listrank.errors import ConfigError  # noqa: E402
from listrank.evaluation.summary import RunSummary  # noqa: E402
from listrank.methods.permutation import PermutationMethod  # noqa: E402
from listrank.methods.setwise import SetwiseMethod  # noqa: E402
from listrank.pipeline.reranker import Reranker  # noqa: E402
from listrank.strategies.window import SlidingWindow  # noqa: E402
from listrank.types import Candidate, Query, Ranking  # noqa: E402
from tests.support.fake_reasoner import FakeReasoner  # noqa: E402

THINK = 60
SHORT = 5
"""A reasoning budget that, with the answer's own budget, stops inside the thought."""
KEY = "sk-reasoning-test-0123"
CANDS = [Candidate(f"d{i}", f"passage number {i} about topic") for i in range(12)]
MSGS: list[Any] = [{"role": "user", "content": "[1] a\n[2] b\nRank them."}]


@pytest.fixture(params=["text", "field"])
def reasoner(request: pytest.FixtureRequest) -> Iterator[FakeReasoner]:
    with FakeReasoner(think_tokens=THINK, style=request.param) as srv:
        yield srv


def _rerank(url: str, **method_options: Any) -> tuple[Ranking, OpenAIBackend]:
    backend = OpenAIBackend("qwen3-fake", base_url=url, api_key=KEY)
    method = PermutationMethod(backend, thinking="on", **method_options)
    reranker = Reranker(backend, method=method, strategy=SlidingWindow(window=6, step=3))
    return reranker.rerank("what topic", CANDS), backend


def _summary(ranking: Ranking) -> RunSummary:
    summary = RunSummary()
    summary.add(ranking)
    return summary


def test_a_budget_at_least_the_thought_cuts_no_call(reasoner: FakeReasoner) -> None:
    ranking, backend = _rerank(reasoner.url, reasoning_budget=THINK)
    calls = ranking.trace.calls
    # reported by the server (field), else counted by the backend's tokenizer (text)
    thought = " ".join(f"step{i}" for i in range(THINK))
    expected = THINK if reasoner.style == "field" else backend.count_tokens(thought)
    assert calls and len(reasoner.requests) == len(calls)  # no forced answers
    for record in calls:
        assert not record.repair.cut_in_reasoning and not record.repair.forced_answer
        assert not record.repair.repaired
        assert record.reasoning_tokens == expected
        # the stand-in ranks in reverse: every block came back reversed, not in input order
        assert record.order == tuple(reversed(range(len(record.docids))))
    for seen in reasoner.requests:
        assert seen.body["chat_template_kwargs"] == {"enable_thinking": True}
        assert seen.body["max_tokens"] > THINK  # answer budget + reasoning budget
    if reasoner.style == "field":  # usage counts what the server reports
        assert backend.usage.reasoning_tokens == THINK * len(calls)
    summary = _summary(ranking)
    assert summary.reasoning_tokens == expected * len(calls) == ranking.trace.reasoning_tokens
    assert "forced answers: 0" in summary.format()
    assert "warning" not in summary.format()
    backend.close()


def test_a_budget_inside_the_thought_is_recovered_by_forced_answers(
    reasoner: FakeReasoner,
) -> None:
    ranking, backend = _rerank(reasoner.url, reasoning_budget=SHORT)
    calls = ranking.trace.calls
    assert len(reasoner.requests) == 2 * len(calls)  # every call needed its answer forced
    for record in calls:
        assert record.repair.cut_in_reasoning and record.repair.forced_answer
        assert record.repair.repaired and record.calls == 2
        assert record.order == tuple(reversed(range(len(record.docids))))
        assert record.reasoning_tokens > 0
    first = [s for s in reasoner.requests if not s.body.get("continue_final_message")]
    forced = [s for s in reasoner.requests if s.body.get("continue_final_message")]
    assert len(forced) == len(first) == len(calls)
    for cut, seen in zip(first, forced, strict=True):
        assert cut.body["max_tokens"] < THINK
        prefix = seen.body["messages"][-1]
        assert prefix["role"] == "assistant" and prefix["content"].rstrip().endswith("</think>")
        assert seen.body["messages"][:-1] == cut.body["messages"]
        # the answer alone, with the answer's own budget
        assert seen.body["max_tokens"] == cut.body["max_tokens"] - SHORT
    summary = _summary(ranking)
    assert summary.forced_answers == len(calls) == ranking.trace.forced_answers
    assert f"forced answers: {len(calls)}" in summary.format()
    assert summary.repaired == len(calls)
    backend.close()


def test_without_forced_answers_cut_calls_are_reported_and_warned(reasoner: FakeReasoner) -> None:
    ranking, backend = _rerank(reasoner.url, reasoning_budget=SHORT, force_answer=False)
    calls = ranking.trace.calls
    assert len(reasoner.requests) == len(calls)
    for record in calls:
        assert record.repair.cut_in_reasoning and not record.repair.forced_answer
        assert record.repair.truncated
        assert record.order == tuple(range(len(record.docids)))  # no answer: input order
    text = _summary(ranking).format()
    assert "cut inside reasoning: " + str(len(calls)) in text
    assert "warning:" in text and "reasoning_budget" in text
    backend.close()


def test_plan_counts_the_reasoning_budget_as_the_worst_case() -> None:
    with FakeReasoner() as srv:
        backend = OpenAIBackend("qwen3-fake", base_url=srv.url, api_key=KEY)
        method = PermutationMethod(backend, thinking="on", reasoning_budget=500)
        plan = Reranker(backend, method=method, strategy=SlidingWindow(window=6, step=3)).plan(12)
        assert plan.calls == 3 and plan.reasoning_tokens == 1500
        plain = Reranker(backend, method=PermutationMethod(backend), strategy=SlidingWindow())
        assert plain.plan(12).reasoning_tokens is None
        backend.close()


def test_reasoning_cost_is_counted_apart() -> None:
    with FakeReasoner(think_tokens=40, style="field") as srv:
        backend = OpenAIBackend(
            "qwen3-fake", base_url=srv.url, api_key=KEY, prices={"qwen3-fake": (1.0, 10.0)}
        )
        backend.generate([GenerationRequest(MSGS, 100, thinking=True)])
        summary = backend.usage.summary()
        assert summary["reasoning_tokens"] == 40
        assert summary["reasoning_cost"] == pytest.approx(40 * 10.0 / 1e6)
        assert summary["cost"] is not None and summary["cost"] > summary["reasoning_cost"]
        backend.close()


def test_setwise_thinks_and_forces_its_label() -> None:
    with FakeReasoner(think_tokens=30) as srv:
        srv.responder = lambda path, body: "[C]"
        backend = OpenAIBackend("qwen3-fake", base_url=srv.url, api_key=KEY)
        method = SetwiseMethod(backend, thinking="on", reasoning_budget=10)
        (judgement,) = method.judge(Query("q"), [CANDS[:4]])
        assert judgement.order[0] == 2 and judgement.record.repair.forced_answer
        backend.close()


def _sdk(url: str) -> Any:
    return openai.OpenAI(api_key=KEY, base_url=url, max_retries=0, timeout=5.0)


def test_reasoning_model_body_equals_the_sdk_create() -> None:
    with FakeReasoner(think_tokens=3) as srv:
        backend = OpenAIBackend("o3-mini", base_url=srv.url, api_key=KEY, reasoning_effort="low")
        backend.generate([GenerationRequest(MSGS, 40)])
        _sdk(srv.url).chat.completions.create(
            model="o3-mini",
            messages=MSGS,
            max_completion_tokens=40,
            reasoning_effort="low",
            seed=0,
        )
        ours, sdk = srv.requests
        assert ours.path == sdk.path and ours.body == sdk.body
        assert "temperature" not in ours.body and "max_tokens" not in ours.body
        backend.close()


def test_thinking_off_asks_a_reasoning_model_for_its_least_effort() -> None:
    with FakeReasoner(think_tokens=3) as srv:
        for model, least in (("gpt-5-mini", "minimal"), ("o4-mini", "low")):
            backend = OpenAIBackend(model, base_url=srv.url, api_key=KEY)
            backend.generate([GenerationRequest(MSGS, 40, thinking=False)])
            assert srv.requests[-1].body["reasoning_effort"] == least
            backend.close()
        plain = OpenAIBackend("gpt-4o", base_url=srv.url, api_key=KEY)
        plain.generate([GenerationRequest(MSGS, 40)])
        body = srv.requests[-1].body
        assert body["max_tokens"] == 40 and body["temperature"] == 0.0
        assert "reasoning_effort" not in body and "chat_template_kwargs" not in body
        plain.close()


def test_thinking_settings_are_checked() -> None:
    with FakeReasoner() as srv:
        backend = OpenAIBackend("qwen3-fake", base_url=srv.url, api_key=KEY)
        with pytest.raises(ConfigError, match="thinking="):
            PermutationMethod(backend, thinking="maybe")
        with pytest.raises(ConfigError, match="reasoning_budget"):
            PermutationMethod(backend, thinking="off", reasoning_budget=100)
        with pytest.raises(ConfigError, match="reasoning_budget"):
            PermutationMethod(backend, reasoning_budget=-1)
        assert PermutationMethod(backend, thinking="on").reasoning_budget == 10_000
        with pytest.raises(ConfigError, match="reasoning_effort"):
            OpenAIBackend("o3", base_url=srv.url, api_key=KEY, reasoning_effort="max")
        backend.close()
