"""Usage and cost accounting for API calls: one record per call, totals per run.

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
    """Thread-safe running totals; ``calls`` keeps every record since the last ``reset``."""

    calls: list[CallUsage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, record: CallUsage) -> None:
        with self._lock:
            self.calls.append(record)

    def reset(self) -> list[CallUsage]:
        with self._lock:
            out, self.calls = self.calls, []
        return out

    @property
    def prompt_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.calls)

    @property
    def reasoning_tokens(self) -> int:
        return sum(c.reasoning_tokens for c in self.calls)

    @property
    def reasoning_cost(self) -> float | None:
        costs = [c.reasoning_cost for c in self.calls]
        if not costs or any(c is None for c in costs):
            return None
        return float(sum(c for c in costs if c is not None))

    @property
    def attempts(self) -> int:
        return sum(c.attempts for c in self.calls)

    @property
    def failed_calls(self) -> int:
        return sum(1 for c in self.calls if c.error is not None)

    @property
    def cost(self) -> float | None:
        """Total dollars, or None when any call has no price."""
        costs = [c.cost for c in self.calls]
        if not costs or any(c is None for c in costs):
            return None
        return float(sum(c for c in costs if c is not None))

    def summary(self) -> dict[str, float | int | None]:
        return {
            "calls": len(self.calls),
            "attempts": self.attempts,
            "failed_calls": self.failed_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost": self.cost,
            "reasoning_cost": self.reasoning_cost,
        }
