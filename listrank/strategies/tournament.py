"""Tournament sort, ListT5 style: m-ary groups keep their best r, recurse to one final.

The tree is fixed by the input order: leaf groups of ``m`` consecutive items; a group one level
up takes the survivors of ``m // r`` child groups (at most m items). Each level is one stage.
The final's top-1 is the winner; to find the next, the winner is removed and the tree is
evaluated again, but every group whose inputs did not change reuses its cached result, so only
the groups on the winner's path are judged again: O(n/m + k·log n) calls for the top k.

Items not in the top k follow, ordered by how high in the tree they got in the last evaluation,
then by their place in that group's judgement, then input order. Short groups are judged as
they are (no padding); a group of one passes through without a call.
"""

from __future__ import annotations

from itertools import chain

from listrank.errors import ConfigError
from listrank.options import Option
from listrank.strategies.base import BlockJudge, Strategy, StrategyResult
from listrank.types import Plan

Group = tuple[int, ...]


class Tournament(Strategy):
    name = "tournament"
    OPTIONS = (
        Option("m", int, 5, "group size", changes_answers=True, ge=2),
        Option("r", int, 2, "survivors per group (1..m // 2)", changes_answers=True, ge=1),
        Option("top_k", int, 10, "winners found one by one", changes_answers=True, ge=1),
    )

    def __init__(self, *, m: int = 5, r: int = 2, top_k: int = 10) -> None:
        if m < 2:
            raise ConfigError("m (group size) must be >= 2")
        if not 1 <= r <= m // 2:
            raise ConfigError(f"r must be between 1 and m // 2 ({m // 2}) so the tree shrinks")
        if top_k < 1:
            raise ConfigError("top_k must be >= 1")
        self.m, self.r, self.top_k = m, r, top_k
        self.fan_in = m // r

    def _leaves(self, n: int) -> list[Group]:
        return [tuple(range(i, min(i + self.m, n))) for i in range(0, n, self.m)]

    def _parents(self, outs: list[Group]) -> list[tuple[Group, bool]]:
        """Parent inputs, each with whether it needs judging: a parent fed by a single child
        holds that child's judged order already."""
        f = self.fan_in
        chunks = [outs[i : i + f] for i in range(0, len(outs), f)]
        return [(tuple(chain(*c)), sum(1 for g in c if g) >= 2) for c in chunks]

    def _evaluate(
        self, active: set[int], cache: dict[Group, Group], judge: BlockJudge, n: int
    ) -> list[list[Group]]:
        """Judged groups per level, leaves first; the last level is the single final."""
        inputs = [(tuple(x for x in leaf if x in active), True) for leaf in self._leaves(n)]
        levels: list[list[Group]] = []
        while True:
            need = [g for g, fresh in inputs if fresh and len(g) >= 2 and g not in cache]
            if need:
                for g, judgement in zip(need, judge(need), strict=True):
                    cache[g] = tuple(g[j] for j in judgement.order)
            ranked = [cache[g] if fresh and len(g) >= 2 else g for g, fresh in inputs]
            levels.append(ranked)
            if len(inputs) == 1:
                return levels
            inputs = self._parents([g[: self.r] for g in ranked])

    def rank(self, n: int, judge: BlockJudge) -> StrategyResult:
        active = set(range(n))
        cache: dict[Group, Group] = {}
        top: list[int] = []
        levels: list[list[Group]] = []
        while active and len(top) < self.top_k:
            levels = self._evaluate(active, cache, judge, n)
            winner = levels[-1][0][0]
            top.append(winner)
            active.remove(winner)
        reached: dict[int, tuple[int, int]] = {}
        for height, groups in enumerate(levels):
            for g in groups:
                for place, x in enumerate(g):
                    reached[x] = (-height, place)
        rest = sorted(active, key=lambda x: (*reached.get(x, (1, 0)), x))
        return StrategyResult(top + rest)

    def plan(self, n: int) -> Plan:
        """The first evaluation is exact; every later winner re-judges at most one group per
        level (exact=False: fewer when path groups are short or shrink to one item)."""
        # per group: (size, needs judging)
        groups = [(len(g), True) for g in self._leaves(n)]
        calls, depth, blocks, widest = 0, 0, [], []
        while True:
            judged = [size for size, fresh in groups if fresh and size >= 2]
            calls += len(judged)
            depth += 1 if judged else 0
            blocks += judged
            widest.append(max(judged, default=0))
            if len(groups) <= 1:
                break
            outs = [min(size, self.r) for size, _ in groups]
            f = self.fan_in
            chunks = [outs[i : i + f] for i in range(0, len(outs), f)]
            groups = [(sum(c), sum(1 for x in c if x) >= 2) for c in chunks]
        later = [s for s in widest if s >= 2]
        rounds = max(0, min(self.top_k, n) - 1)
        calls += rounds * len(later)
        depth += rounds * len(later)
        blocks += later * rounds
        exact = rounds == 0 or not later
        return Plan(self.name, n, calls, depth, tuple(blocks), exact=exact)
