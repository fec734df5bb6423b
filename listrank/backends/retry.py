"""Bounded retries for one API call, with tenacity: exponential backoff with jitter, a server's
Retry-After honoured, a cap on attempts and on total time. Nothing here knows the HTTP client:
the caller says which exceptions are transient and how long the server asked to wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
    wait_random,
)

from listrank.errors import ConfigError, RetryExhaustedError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one call.

    The wall time of a call is bounded by ``max_total_s``: each attempt is cut at its own
    deadline (``attempt_timeout_s`` of :func:`call_with_retries`: connect, every read and the
    rate limiter's wait together, so a server that trickles bytes cannot hold it) and at the
    time left of the whole budget; a retry whose wait would end past ``max_total_s`` is not
    started (a Retry-After longer than the time left ends the call at once).
    """

    max_attempts: int = 6
    max_total_s: float = 120.0
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    jitter_s: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError("max_attempts must be >= 1")
        if self.max_total_s <= 0 or self.initial_backoff_s < 0 or self.max_backoff_s < 0:
            raise ConfigError("retry times must be positive")


@dataclass
class Attempts:
    """What retrying one call took: attempts made, and each wait with the error before it."""

    count: int = 0
    waits: list[tuple[float, str]] = field(default_factory=list)
    elapsed_s: float = 0.0


class AttemptTimeout(Exception):
    """One attempt ran past its total deadline (transient: retried while the budget lasts)."""


class RetriesExhausted(RetryExhaustedError):
    """RetryExhaustedError that also says what the attempts were."""

    def __init__(self, message: str, attempts: Attempts) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T
    attempts: Attempts


class _Wait:
    """Backoff with jitter, but never shorter than the server's Retry-After."""

    def __init__(
        self, policy: RetryPolicy, retry_after: Callable[[BaseException], float | None]
    ) -> None:
        self._backoff = wait_exponential(
            multiplier=policy.initial_backoff_s, max=policy.max_backoff_s
        ) + wait_random(0, policy.jitter_s)
        self._retry_after = retry_after

    def __call__(self, state: RetryCallState) -> float:
        backoff = float(self._backoff(state))
        exc = state.outcome.exception() if state.outcome else None
        asked = self._retry_after(exc) if exc is not None else None
        return max(backoff, asked) if asked is not None else backoff


async def call_with_retries(
    fn: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    is_transient: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], float | None],
    describe: Callable[[BaseException], str] = str,
    what: str = "call",
    attempt_timeout_s: float | None = None,
) -> Outcome[T]:
    """Run ``fn`` until it succeeds, a non-transient error escapes (re-raised as is), or the
    policy gives up (RetryExhaustedError naming the attempts, the time and the last error).
    Each attempt is cut at ``attempt_timeout_s`` or the budget's time left, whichever is first."""
    attempts = Attempts()
    start = time.monotonic()

    async def timed() -> T:
        left = policy.max_total_s - (time.monotonic() - start)
        limit = left if attempt_timeout_s is None else min(attempt_timeout_s, left)
        if limit <= 0:
            raise AttemptTimeout(f"no time left of the {policy.max_total_s:g}s budget")
        try:
            async with asyncio.timeout(limit):
                return await fn()
        except TimeoutError:
            raise AttemptTimeout(f"no complete answer within {limit:.3g}s (deadline)") from None

    def describe_any(exc: BaseException) -> str:
        return str(exc) if isinstance(exc, AttemptTimeout) else describe(exc)

    def transient(exc: BaseException) -> bool:
        return isinstance(exc, AttemptTimeout) or is_transient(exc)

    def note_wait(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        attempts.waits.append((float(wait), describe_any(exc) if exc else ""))

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts) | stop_before_delay(policy.max_total_s),
        wait=_Wait(policy, retry_after),
        retry=retry_if_exception(transient),
        before_sleep=note_wait,
        sleep=asyncio.sleep,
    )
    try:
        async for attempt in retrying:
            with attempt:
                attempts.count = attempt.retry_state.attempt_number
                value = await timed()
    except RetryError as exc:
        attempts.elapsed_s = time.monotonic() - start
        last = exc.last_attempt.exception()
        reason = describe_any(last) if last is not None else "unknown error"
        raise RetriesExhausted(
            f"{what} failed after {attempts.count} attempt(s) in {attempts.elapsed_s:.1f}s "
            f"(limits: {policy.max_attempts} attempts, {policy.max_total_s:g}s); last error: "
            f"{reason}",
            attempts,
        ) from None
    attempts.elapsed_s = time.monotonic() - start
    return Outcome(value, attempts)
