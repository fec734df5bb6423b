"""TDPart, top-down partitioning (Parry et al.): find the top-k with a pivot, not a full sort.

One round: rank the first ``window`` candidates (one stage); the item at 1-based position
``pivot`` is the pivot. The other candidates go in chunks of window−1, each with the pivot in
front, all judged in one parallel stage. Items ranked above the pivot stay candidates; the pivot
and everything below it are set aside. Rounds repeat until the candidates fit one window (one
final call sorts them) or only the pivot−1 items above the pivot remain, which are then exactly
the top pivot−1 and the pivot is next.

Set-aside items follow the sorted candidates: later rounds' first (they beat an earlier pivot),
each round's pivot first, then its items interleaved by how far below the pivot they were
ranked. (The reference appends later rounds after earlier ones, which puts better items lower.)
"""

from __future__ import annotations

from itertools import zip_longest

from listrank.errors import ConfigError
from listrank.strategies.base import BlockJudge, Strategy, StrategyResult
from listrank.strategies.planning import simulate
from listrank.types import Plan


def _interleave(lists: list[list[int]]) -> list[int]:
    return [x for row in zip_longest(*lists) for x in row if x is not None]


class TDPart(Strategy):
    name = "tdpart"

    def __init__(self, *, window: int = 20, pivot: int = 10) -> None:
        if window < 2:
            raise ConfigError("window must be >= 2")
        if not 1 <= pivot < window:
            raise ConfigError(f"pivot must be between 1 and window−1 ({window - 1}); got {pivot}")
        self.window, self.pivot = window, pivot

    def rank(self, n: int, judge: BlockJudge) -> StrategyResult:
        w, p = self.window, self.pivot
        cands = list(range(n))
        set_aside: list[int] = []
        while len(cands) > w:
            first = cands[:w]
            (judgement,) = judge([first])
            ranked = [first[j] for j in judgement.order]
            pivot, above, below = ranked[p - 1], ranked[: p - 1], [ranked[p:]]
            rest = cands[w:]
            chunks = [[pivot, *rest[i : i + w - 1]] for i in range(0, len(rest), w - 1)]
            for chunk, jd in zip(chunks, judge(chunks), strict=True):
                order = [chunk[j] for j in jd.order]
                cut = order.index(pivot)
                above += order[:cut]
                below.append(order[cut + 1 :])
            set_aside = [pivot, *_interleave(below), *set_aside]
            cands = above
            if len(cands) == p - 1:
                return StrategyResult(cands + set_aside)
        if len(cands) >= 2:
            (judgement,) = judge([cands])
            cands = [cands[j] for j in judgement.order]
        return StrategyResult(cands + set_aside)

    def plan(self, n: int) -> Plan:
        # worst case: every chunk item beats the pivot (reverse order puts the pivot, shown
        # first, last); best case: none does. Exact when the two agree (n <= window).
        worst = simulate(lambda j: self.rank(n, j), lambda b: list(reversed(range(len(b)))))
        best = simulate(lambda j: self.rank(n, j), lambda b: list(range(len(b))))
        exact = (best.calls, best.depth) == (worst.calls, worst.depth)
        return Plan(self.name, n, worst.calls, worst.depth, worst.block_sizes, exact=exact)
