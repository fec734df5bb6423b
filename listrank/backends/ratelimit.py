"""Requests- and tokens-per-minute limits for API calls: two token buckets, awaited together.

Each bucket holds at most one minute's allowance and refills continuously, so a burst up to the
limit goes out at once and later calls are spaced evenly. A request larger than a whole minute's
token allowance is let through alone once the bucket is full (otherwise it would wait forever).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from listrank.errors import ConfigError


class _Bucket:
    def __init__(self, per_minute: float, clock: Callable[[], float]) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.level = self.capacity
        self._clock = clock
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (0 when it is now)."""
        self._refill()
        need = min(amount, self.capacity) - self.level
        return max(0.0, need / self.rate)

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= min(amount, self.capacity)


class RateLimiter:
    """Async limiter for requests and tokens per minute; either limit may be None (unlimited)."""

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        for label, value in (
            ("requests_per_minute", requests_per_minute),
            ("tokens_per_minute", tokens_per_minute),
        ):
            if value is not None and value <= 0:
                raise ConfigError(f"{label} must be > 0 (or None for no limit), not {value}")
        self._requests = _Bucket(requests_per_minute, clock) if requests_per_minute else None
        self._tokens = _Bucket(tokens_per_minute, clock) if tokens_per_minute else None
        self._lock: asyncio.Lock | None = None
        self._sleep = sleep

    @property
    def active(self) -> bool:
        return self._requests is not None or self._tokens is not None

    async def acquire(self, tokens: int = 0) -> float:
        """Wait until one request of ``tokens`` tokens may go out; returns the seconds waited."""
        if not self.active:
            return 0.0
        if self._lock is None:  # created lazily: it must belong to the running loop
            self._lock = asyncio.Lock()
        waited = 0.0
        # one waiter at a time keeps the order fair (first come, first served)
        async with self._lock:
            while True:
                delay = max(
                    self._requests.wait_for(1) if self._requests else 0.0,
                    self._tokens.wait_for(tokens) if self._tokens else 0.0,
                )
                if delay <= 0:
                    break
                await self._sleep(delay)
                waited += delay
            if self._requests:
                self._requests.take(1)
            if self._tokens:
                self._tokens.take(tokens)
        return waited
