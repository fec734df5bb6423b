"""Single window and sliding window (RankGPT), correct at the edges."""

from __future__ import annotations

from listrank.errors import ConfigError
from listrank.options import Option
from listrank.strategies.base import (
    Block,
    BlockJudge,
    Strategy,
    StrategyResult,
    apply_local_order,
)
from listrank.types import Plan

LAST_WINDOW_RULES = ("full", "rank_llm")


class SingleWindow(Strategy):
    """One call on the top ``window`` candidates (all of them when window is None); the rest
    keep their input order below."""

    name = "single"
    OPTIONS = (
        Option(
            "window",
            int | None,
            None,
            "candidates judged (default: all)",
            changes_answers=True,
            ge=2,
            example=10,
        ),
    )

    def __init__(self, *, window: int | None = None) -> None:
        if window is not None and window < 2:
            raise ConfigError("window must be >= 2")
        self.window = window

    def _size(self, n: int) -> int:
        return n if self.window is None else min(n, self.window)

    def plan(self, n: int) -> Plan:
        size = self._size(n)
        calls = 1 if size >= 2 else 0
        return Plan(self.name, n, calls=calls, depth=calls, block_sizes=(size,) * calls)

    def rank(self, n: int, judge: BlockJudge) -> StrategyResult:
        order = list(range(n))
        size = self._size(n)
        if size >= 2:
            positions = list(range(size))
            (judgement,) = judge([Block(positions, f"positions 0-{size - 1}")])
            apply_local_order(order, positions, judgement)
        return StrategyResult(order)


class SlidingWindow(Strategy):
    """Back-to-front sliding window: windows [N−w, N), then step s toward the top.

    The last window is clamped to start at 0, so the top position is always judged even when
    (N − w) % s ≠ 0; N ≤ w is one window. ``step`` defaults to half the window (RankGPT: 20/10);
    ``passes`` repeats the sweep.

    ``last_window="rank_llm"`` reproduces rank_llm's rule instead: every window ends ``step``
    above the previous one and its start is clamped at 0, so the last window can be shorter
    than ``window`` (N = 21: [1, 21) then [0, 11), where listrank's is [0, 20)). listrank's
    default ("full") judges the top with a full window, which is what decides the head.
    """

    name = "sliding"
    OPTIONS = (
        Option("window", int, 20, "candidates per window", changes_answers=True, ge=2),
        Option(
            "step",
            int | None,
            None,
            "shift between windows (default: window // 2)",
            changes_answers=True,
            ge=1,
            example=5,
        ),
        Option("passes", int, 1, "sweeps over the list", changes_answers=True, ge=1),
        Option(
            "last_window",
            str,
            "full",
            "the last window: full (judge the top with a whole window) or rank_llm's rule",
            changes_answers=True,
            choices=("full", "rank_llm"),
        ),
    )

    def __init__(
        self,
        *,
        window: int = 20,
        step: int | None = None,
        passes: int = 1,
        last_window: str = "full",
    ) -> None:
        if window < 2:
            raise ConfigError("window must be >= 2")
        if step is None:
            step = max(1, window // 2)
        if not 1 <= step <= window:
            raise ConfigError(f"step must be between 1 and window ({window}); got {step}")
        if passes < 1:
            raise ConfigError("passes must be >= 1")
        if last_window not in LAST_WINDOW_RULES:
            raise ConfigError(
                f"last_window={last_window!r}: use one of {', '.join(LAST_WINDOW_RULES)}"
            )
        self.window, self.step, self.passes = window, step, passes
        self.last_window = last_window

    def spans(self, n: int) -> list[tuple[int, int]]:
        """The [start, end) windows of one pass, in the order they run."""
        if self.last_window == "full":
            return [(s, min(s + self.window, n)) for s in self.starts(n)]
        if n < 2:
            return []
        out = []
        end, start = n, max(n - self.window, 0)
        while end - start >= 1:
            out.append((start, end))
            if start == 0:
                break
            end, start = end - self.step, max(start - self.step, 0)
        return out

    def starts(self, n: int) -> list[int]:
        """Start positions of the windows of one pass, in the order they run."""
        if n < 2:
            return []
        if n <= self.window:
            return [0]
        out = []
        start = n - self.window
        while start > 0:
            out.append(start)
            start -= self.step
        out.append(0)
        return out

    def plan(self, n: int) -> Plan:
        sizes = [end - start for start, end in self.spans(n)] * self.passes
        return Plan(self.name, n, calls=len(sizes), depth=len(sizes), block_sizes=tuple(sizes))

    def rank(self, n: int, judge: BlockJudge) -> StrategyResult:
        order = list(range(n))
        for _ in range(self.passes):
            for start, end in self.spans(n):
                positions = list(range(start, end))
                label = f"positions {positions[0]}-{positions[-1]}"
                (judgement,) = judge([Block([order[p] for p in positions], label)])
                apply_local_order(order, positions, judgement)
        return StrategyResult(order)
