"""Usage and cost accounting for API calls: one record per call, summed into running totals.

Prices are a table ``{model: (dollars per 1M prompt tokens, dollars per 1M completion tokens)}``
given by the user; listrank ships no prices (they change). Without a price for the model the
cost is None, never a guess.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from listrank.errors import ConfigError

PriceTable = Mapping[str, tuple[float, float]]


def validate_prices(prices: PriceTable | None) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for model, pair in (prices or {}).items():
        try:
            inp, outp = (float(x) for x in pair)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"price for {model!r} must be (input per 1M tokens, output per 1M tokens)"
            ) from exc
        if inp < 0 or outp < 0:
            raise ConfigError(f"price for {model!r} is negative")
        out[model] = (inp, outp)
    return out


def cost_of(
    prices: Mapping[str, tuple[float, float]], model: str, prompt: int, completion: int
) -> float | None:
    if model not in prices:
        return None
    inp, outp = prices[model]
    return (prompt * inp + completion * outp) / 1_000_000


@dataclass(frozen=True)
class CallUsage:
    """One logical call (all its retries together)."""

    kind: str
    """"generate" or "logprobs"."""
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    latency_s: float
    """Wall time of the call including retries and waits."""
    cost: float | None = None
    usage_reported: bool = True
    """False when the server sent no usage and the counts are listrank's estimate."""
    error: str | None = None
    """Set when retries ran out and the call was degraded instead of raising."""
    waits_s: tuple[float, ...] = ()
    reasoning_tokens: int = 0
    """Of ``completion_tokens``, those the model spent thinking (billed as completion)."""
    reasoning_cost: float | None = None
    """Of ``cost``, the reasoning tokens' part."""


@dataclass
class UsageMeter:
    """Thread-safe running totals since the last ``reset``.

    Only sums and the latest record are kept, never one record per call: a long-lived
    service or a 100k-query run holds the same few numbers as a single call."""

    calls: int = 0
    attempts: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    """Of ``completion_tokens``, those the model spent thinking."""
    unreported_calls: int = 0
    """Calls whose token counts are listrank's estimate (the server sent no usage)."""
    max_attempts: int = 0
    """The most attempts any one call took."""
    latency_s: float = 0.0
    """Summed wall time of the calls (retries and waits included)."""
    last: CallUsage | None = None
    """The latest call's record (for inspection; earlier ones are only in the sums)."""
    _priced: float = 0.0
    _unpriced: int = 0
    _reasoning_priced: float = 0.0
    _reasoning_unpriced: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, record: CallUsage) -> None:
        with self._lock:
            self.calls += 1
            self.attempts += record.attempts
            self.failed_calls += int(record.error is not None)
            self.prompt_tokens += record.prompt_tokens
            self.completion_tokens += record.completion_tokens
            self.reasoning_tokens += record.reasoning_tokens
            self.unreported_calls += int(not record.usage_reported)
            self.max_attempts = max(self.max_attempts, record.attempts)
            self.latency_s += record.latency_s
            if record.cost is None:
                self._unpriced += 1
            else:
                self._priced += record.cost
            if record.reasoning_cost is None:
                self._reasoning_unpriced += 1
            else:
                self._reasoning_priced += record.reasoning_cost
            self.last = record

    def reset(self) -> dict[str, float | int | None]:
        """Start the sums over; returns the summary of what they held."""
        with self._lock:
            out = self._summary()
            self.calls = self.attempts = self.failed_calls = 0
            self.prompt_tokens = self.completion_tokens = self.reasoning_tokens = 0
            self.unreported_calls = self.max_attempts = 0
            self.latency_s, self.last = 0.0, None
            self._priced, self._unpriced = 0.0, 0
            self._reasoning_priced, self._reasoning_unpriced = 0.0, 0
        return out

    @property
    def cost(self) -> float | None:
        """Total dollars, or None when no call was made or any call has no price."""
        if not self.calls or self._unpriced:
            return None
        return self._priced

    @property
    def reasoning_cost(self) -> float | None:
        """Of ``cost``, the reasoning tokens' part (None as for ``cost``)."""
        if not self.calls or self._reasoning_unpriced:
            return None
        return self._reasoning_priced

    def summary(self) -> dict[str, float | int | None]:
        with self._lock:
            return self._summary()

    def _summary(self) -> dict[str, float | int | None]:
        return {
            "calls": self.calls,
            "attempts": self.attempts,
            "failed_calls": self.failed_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost": self.cost,
            "reasoning_cost": self.reasoning_cost,
        }
