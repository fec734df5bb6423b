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

``budget`` (the authors' ``buffer``; their default is ``AUTHORS_BUDGET`` = 20) switches to the
authors' scan: chunks are judged one per stage, in input order, and the scan stops once
``budget`` candidates are above the pivot. Candidates beyond the budget are set aside just
above the pivot, unscanned items just below its round's judged items. Without a budget
(default) every chunk is judged in one parallel stage: more calls, fewer stages, and no item
is set aside unjudged.
"""

from __future__ import annotations

from functools import cache
from itertools import zip_longest
from typing import cast

from listrank.errors import ConfigError
from listrank.options import Option
from listrank.strategies.base import BlockJudge, Strategy, StrategyResult
from listrank.strategies.planning import simulate
from listrank.types import Judgement, Plan

AUTHORS_BUDGET = 20
"""``buffer`` in the authors' code (Parry-Parry/TDPart)."""


def _interleave(lists: list[list[int]]) -> list[int]:
    return [x for row in zip_longest(*lists) for x in row if x is not None]


class TDPart(Strategy):
    name = "tdpart"
    OPTIONS = (
        Option("window", int, 20, "candidates per call", changes_answers=True, ge=2),
        Option("pivot", int, 10, "1-based pivot position (< window)", changes_answers=True, ge=1),
        Option(
            "budget",
            int | None,
            None,
            "authors' scan: stop once this many beat the pivot",
            changes_answers=True,
            example=AUTHORS_BUDGET,
        ),
    )

    def __init__(self, *, window: int = 20, pivot: int = 10, budget: int | None = None) -> None:
        if window < 2:
            raise ConfigError("window must be >= 2")
        if not 1 <= pivot < window:
            raise ConfigError(f"pivot must be between 1 and window−1 ({window - 1}); got {pivot}")
        if budget is not None and budget < pivot:
            raise ConfigError(f"budget must be >= pivot ({pivot}); got {budget}")
        self.window, self.pivot, self.budget = window, pivot, budget

    def _scan(
        self, chunks: list[list[int]], judge: BlockJudge, above: int
    ) -> tuple[list[tuple[list[int], Judgement]], list[int]]:
        """Judged chunks and the items left unscanned. Without a budget: every chunk in one
        stage. With one: a chunk per stage until ``budget`` items are above the pivot."""
        if self.budget is None:
            return list(zip(chunks, judge(chunks), strict=True)), []
        judged: list[tuple[list[int], Judgement]] = []
        for i, chunk in enumerate(chunks):
            if above >= self.budget:
                return judged, [x for c in chunks[i:] for x in c[1:]]
            (jd,) = judge([chunk])
            judged.append((chunk, jd))
            above += jd.order.index(0)  # the pivot is shown first: local position 0
        return judged, []

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
            judged, unscanned = self._scan(chunks, judge, len(above))
            for chunk, jd in judged:
                order = [chunk[j] for j in jd.order]
                cut = order.index(pivot)
                above += order[:cut]
                below.append(order[cut + 1 :])
            keep = len(above) if self.budget is None else self.budget
            over = above[keep:]
            set_aside = [*over, pivot, *_interleave(below), *unscanned, *set_aside]
            cands = above[:keep]
            if len(cands) == p - 1:
                return StrategyResult(cands + set_aside)
        if len(cands) >= 2:
            (judgement,) = judge([cands])
            cands = [cands[j] for j in judgement.order]
        return StrategyResult(cands + set_aside)

    def _budget_plan(self, n: int) -> Plan:
        """The most calls any judge can cause with a budget (every call is its own stage).

        A round on m > window candidates judges the first window, then chunk after chunk. It
        stops after chunk s < C only once ``budget`` items are above the pivot (then exactly
        ``budget`` go on); after all C chunks anywhere from pivot−1 to the budget go on. The
        next round is the worst over those outcomes."""
        w, p, budget = self.window, self.pivot, cast(int, self.budget)

        @cache
        def worst(m: int) -> tuple[int, ...]:
            """Block sizes of the costliest path from m candidates."""
            if m <= w:
                return (m,) if m >= 2 else ()
            chunks = [min(w - 1, m - w - i) + 1 for i in range(0, m - w, w - 1)]
            best: tuple[int, ...] = ()
            for s in range(1, len(chunks) + 1):
                if s < len(chunks):
                    # stopping here needs enough items seen to fill the budget
                    nexts = [budget] if p - 1 + sum(c - 1 for c in chunks[:s]) >= budget else []
                else:
                    before = min(budget - 1, p - 1 + sum(c - 1 for c in chunks[:-1]))
                    nexts = list(range(p - 1, min(budget, before + chunks[-1] - 1) + 1))
                for nxt in nexts:
                    rest = () if nxt == p - 1 else worst(nxt)
                    path = (w, *chunks[:s], *rest)
                    best = max(best, path, key=len)
            return best

        sizes = worst(n)
        return Plan(self.name, n, len(sizes), len(sizes), sizes, exact=n <= w)

    def plan(self, n: int) -> Plan:
        if self.budget is not None:
            return self._budget_plan(n)
        # worst case: every chunk item beats the pivot (reverse order puts the pivot, shown
        # first, last); best case: none does. Exact when the two agree (n <= window).
        worst = simulate(lambda j: self.rank(n, j), lambda b: list(reversed(range(len(b)))))
        best = simulate(lambda j: self.rank(n, j), lambda b: list(range(len(b))))
        exact = (best.calls, best.depth) == (worst.calls, worst.depth)
        return Plan(self.name, n, worst.calls, worst.depth, worst.block_sizes, exact=exact)
