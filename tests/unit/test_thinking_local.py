"""Thinking on an in-process model: enable_thinking reaches the chat template, and a run with
thinking on, a template asking for <think>, and a reasoning budget the model overruns ends
with every call's answer forced after its closed thought (the tiny random model never closes
one itself: the mechanics, not the judgement, are under test)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from listrank.backends.base import GenerationRequest
from listrank.backends.hf import HFBackend
from listrank.evaluation.summary import RunSummary
from listrank.methods.permutation import PermutationMethod
from listrank.pipeline.reranker import Reranker
from listrank.strategies.window import SlidingWindow
from listrank.testing.tiny import embedded_tokenizer, tiny_model

# Qwen3's switch, reduced: thinking on opens the thought in the generation prompt, off closes
# an empty one, unset leaves it to the model
THINKING_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined %}{% if enable_thinking %}<think>\n"
    "{% else %}<think>\n\n</think>\n\n{% endif %}{% endif %}{% endif %}"
)
MSGS: Any = [{"role": "user", "content": "rank [1] a [2] b"}]


@pytest.fixture(scope="module")
def thinking_backend() -> HFBackend:
    tokenizer = copy.deepcopy(embedded_tokenizer())
    tokenizer.chat_template = THINKING_TEMPLATE
    return HFBackend("tiny-thinker", model_obj=tiny_model(), tokenizer=tokenizer, device="cpu")


def test_enable_thinking_reaches_the_chat_template(thinking_backend: HFBackend) -> None:
    on = thinking_backend.prompt_text(MSGS, thinking=True)
    off = thinking_backend.prompt_text(MSGS, thinking=False)
    default = thinking_backend.prompt_text(MSGS)
    assert on.endswith("assistant\n<think>\n")
    assert off.endswith("<think>\n\n</think>\n\n")
    assert default.endswith("assistant\n")
    other = HFBackend(
        "tiny-thinker",
        model_obj=thinking_backend.model,
        tokenizer=thinking_backend.tokenizer,
        device="cpu",
        chat_template_kwargs={"enable_thinking": True},
    )
    assert other.prompt_text(MSGS) == on  # the backend option sets it for every prompt


def test_generation_prompts_carry_the_thinking_setting(thinking_backend: HFBackend) -> None:
    (on,) = thinking_backend.generate([GenerationRequest(MSGS, 3, thinking=True)])
    (off,) = thinking_backend.generate([GenerationRequest(MSGS, 3, thinking=False)])
    count = thinking_backend.count_prompt_tokens
    assert on.prompt_tokens == count(MSGS) + len(thinking_backend.token_ids("<think>\n"))
    assert off.prompt_tokens > on.prompt_tokens


def test_thinking_on_runs_end_to_end_with_forced_answers(thinking_backend: HFBackend) -> None:
    from listrank.types import Candidate

    cands = [Candidate(f"d{i}", f"passage {i} about fleas and cats") for i in range(6)]
    method = PermutationMethod(
        thinking_backend, template="reasonrank", thinking="on", reasoning_budget=6
    )
    reranker = Reranker(thinking_backend, method=method, strategy=SlidingWindow(window=4, step=2))
    ranking = reranker.rerank("fleas", cands)
    assert sorted(ranking.docids) == sorted(c.docid for c in cands)
    calls = ranking.trace.calls
    assert calls and ranking.trace.forced_answers == len(calls)
    for record in calls:
        assert record.repair.cut_in_reasoning and record.repair.forced_answer
        assert "</think>" in record.output and record.calls == 2
        assert record.reasoning_tokens > 0
        assert sorted(record.order or ()) == list(range(len(record.docids)))
    summary = RunSummary()
    summary.add(ranking)
    assert f"forced answers: {len(calls)}" in summary.format()
    plan = reranker.plan(len(cands))
    assert plan.reasoning_tokens == plan.calls * 6
