"""The API usage meter keeps running sums, never one record per call."""

from __future__ import annotations

import threading

import pytest

from listrank.backends.usage import CallUsage, UsageMeter


def record(prompt: int, attempts: int = 1, cost: float | None = 0.5, **kw: object) -> CallUsage:
    return CallUsage("generate", prompt, 2, attempts, 0.25, cost, **kw)  # type: ignore[arg-type]


def test_sums_match_the_records_and_nothing_grows_with_calls() -> None:
    meter = UsageMeter()

    def add_many(offset: int) -> None:
        for i in range(5000):
            meter.add(record(offset + i % 7, attempts=1 + i % 3))

    threads = [threading.Thread(target=add_many, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert meter.calls == 20_000
    assert meter.prompt_tokens == sum(k + i % 7 for k in range(4) for i in range(5000))
    assert meter.completion_tokens == 40_000
    assert meter.attempts == 4 * sum(1 + i % 3 for i in range(5000))
    assert meter.max_attempts == 3
    assert meter.latency_s == pytest.approx(5000.0)
    assert meter.cost == pytest.approx(10_000.0)
    # only scalars and the latest record: no container that could grow with the calls
    kept = [v for k, v in vars(meter).items() if k != "_lock"]
    assert not any(isinstance(v, list | dict | set | tuple) for v in kept)


def test_cost_is_none_if_any_call_is_unpriced_and_reset_starts_over() -> None:
    meter = UsageMeter()
    assert meter.cost is None  # no calls: no cost, not zero
    meter.add(record(3))
    meter.add(record(4, cost=None, usage_reported=False, error="gave up"))
    assert meter.cost is None
    assert meter.unreported_calls == 1 and meter.failed_calls == 1
    assert meter.last is not None and meter.last.prompt_tokens == 4
    summary = meter.reset()
    assert summary == {
        "calls": 2,
        "attempts": 2,
        "failed_calls": 1,
        "prompt_tokens": 7,
        "completion_tokens": 4,
        "reasoning_tokens": 0,
        "cost": None,
        "reasoning_cost": None,
    }
    assert meter.calls == 0 and meter.last is None and meter.summary()["prompt_tokens"] == 0
    meter.add(record(1, cost=0.25))
    assert meter.cost == pytest.approx(0.25)
