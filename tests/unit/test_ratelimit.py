"""RateLimiter on a simulated clock: bursts up to a minute's allowance, then even spacing."""

from __future__ import annotations

import asyncio

import pytest

from listrank.backends.ratelimit import RateLimiter
from listrank.errors import ConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(limiter: RateLimiter, tokens: list[int]) -> list[float]:
    async def go() -> list[float]:
        return [await limiter.acquire(t) for t in tokens]

    return asyncio.run(go())


def test_requests_per_minute() -> None:
    clock = Clock()
    limiter = RateLimiter(requests_per_minute=60, clock=clock, sleep=clock.sleep)
    waits = run(limiter, [0] * 62)
    assert waits[:60] == [0.0] * 60
    assert waits[60] == pytest.approx(1.0) and waits[61] == pytest.approx(1.0)
    assert clock.now == pytest.approx(2.0)


def test_tokens_per_minute() -> None:
    clock = Clock()
    limiter = RateLimiter(tokens_per_minute=1200, clock=clock, sleep=clock.sleep)  # 20 tok/s
    waits = run(limiter, [500, 500, 500])
    assert waits[:2] == [0.0, 0.0]
    assert waits[2] == pytest.approx(300 / 20)  # 200 left, 300 more to refill


def test_oversized_request_waits_for_a_full_bucket_only() -> None:
    clock = Clock()
    limiter = RateLimiter(tokens_per_minute=600, clock=clock, sleep=clock.sleep)
    waits = run(limiter, [100, 5000])
    assert waits[1] == pytest.approx(10.0)  # refill the 100 used, then go


def test_no_limits_never_wait_and_bad_limits_are_rejected() -> None:
    assert run(RateLimiter(), [10**9] * 3) == [0.0, 0.0, 0.0]
    with pytest.raises(ConfigError):
        RateLimiter(requests_per_minute=0)
