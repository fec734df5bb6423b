"""A prompt fitted by a method is counted once: the API backend's own count of the same prompt
(rate limiter, usage estimate) comes from the memo, with the same number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from listrank.backends.apitokens import CountMemo, EstimateCounter
from listrank.types import ChatMessage


class Spy(EstimateCounter):
    def __init__(self) -> None:
        self.seen = 0

    def count_messages(self, messages: Sequence[ChatMessage], assistant_prefix: str) -> int:
        self.seen += 1
        return super().count_messages(messages, assistant_prefix)


def msgs(text: str) -> list[Any]:
    return [{"role": "system", "content": "rank"}, {"role": "user", "content": text}]


def test_same_prompt_is_counted_once_with_the_same_result() -> None:
    spy = Spy()
    memo = CountMemo(spy, size=2)
    first = memo.count_messages(msgs("a b c " * 50), "[")
    again = memo.count_messages(msgs("a b c " * 50), "[")  # equal content, new objects
    assert first == again == EstimateCounter().count_messages(msgs("a b c " * 50), "[")
    assert spy.seen == 1
    assert memo.count_messages(msgs("a b c " * 50), "") != first  # the prefix is part of it
    memo.count_messages([{"role": "user", "content": "rank"}, msgs("x")[1]], "")  # roles too
    assert spy.seen == 3


def test_memo_is_bounded() -> None:
    spy = Spy()
    memo = CountMemo(spy, size=2)
    for text in ("one", "two", "three", "one"):
        memo.count_messages(msgs(text), "")
    assert spy.seen == 4  # "one" was evicted by "three"
    assert len(memo._cache) == 2


def test_every_block_of_many_queries_in_flight_is_counted_once() -> None:
    spy = Spy()
    memo = CountMemo(spy)
    prompts = [msgs(f"query {q} block {b} " * 20) for q in range(32) for b in range(20)]
    fitted = [memo.count_messages(m, "[") for m in prompts]  # every block fitted first
    sent = [memo.count_messages(m, "[") for m in prompts]  # then every request goes out
    assert sent == fitted and spy.seen == len(prompts)


def test_backend_counts_a_fitted_prompt_once() -> None:
    pytest.importorskip("openai")
    from listrank.backends.base import GenerationRequest
    from listrank.backends.openai import OpenAIBackend
    from tests.support.fake_openai import FakeOpenAIServer

    with FakeOpenAIServer() as srv:
        b = OpenAIBackend("m", base_url=srv.url, api_key="sk-test")
        spy = Spy()
        b._counts = CountMemo(spy)
        m = msgs("[1] a [2] b")
        fitted = b.count_prompt_tokens(m, "")  # as the method's prompt fitting does
        out = b.generate([GenerationRequest(m, 5)])
    assert spy.seen == 1
    assert b.usage.last.prompt_tokens == out[0].prompt_tokens
    assert fitted == EstimateCounter().count_messages(m, "")
