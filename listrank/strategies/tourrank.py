"""TourRank (Chen et al.): staged tournaments with points, several run side by side.

A tournament is a fixed schedule of stages; in each, the entering items are split into groups
(by stride over the current standings: group i gets places i, i+G, …), each group's order
is judged and its best advance and score a point. For 100 items and window 20 the schedule is
the paper's: 5 groups of 20 keep 10 → 5 groups of 10 keep 4 → 20 keep 10 → 10 keep 5 → 5 keep
2 (13 calls, 5 stages). Other sizes scale the group sizes and keeps with the window; if more
than 2 items are left after the schedule, its last three stages repeat.

``tournaments`` tournaments run in parallel: tournament t ≥ 1 starts from a seeded shuffle of
the input order, and every group is shown to the model in a seeded shuffled order. Stage s of
all tournaments is one judge call. Points are summed; ``tiebreak`` settles equal points:
``"place"`` (default) by the summed place within the last group each item was judged in, then
by input order; ``"input"`` by input order only, as the original TourRank code does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from listrank.errors import ConfigError
from listrank.options import Option
from listrank.strategies.base import BlockJudge, Strategy, StrategyResult
from listrank.types import Plan

# (group size, keep) per stage as fractions of the window and of the group (the paper's for w=20)
_SCHEDULE = ((1.0, 0.5), (0.5, 0.4), (1.0, 0.5), (0.5, 0.5), (0.25, 0.4))
_REPEAT_FROM = 2
TIEBREAKS = ("place", "input")


@dataclass
class _Tour:
    rng: random.Random
    standing: list[int]
    """Entering items of the next stage, best first."""
    points: dict[int, float] = field(default_factory=dict)
    place: dict[int, float] = field(default_factory=dict)
    """Tiebreak: place (0 = best, normalised to [0, 1)) in the last group judged."""

    def key(self, x: int) -> tuple[float, float, int]:
        return (-self.points[x], self.place[x], x)


class TourRank(Strategy):
    name = "tourrank"
    OPTIONS = (
        Option("window", int, 20, "largest group size", changes_answers=True, ge=4),
        Option("tournaments", int, 2, "independent tournaments summed", changes_answers=True, ge=1),
        Option("seed", int, 0, "grouping shuffle seed", changes_answers=True),
        Option(
            "tiebreak",
            str,
            "place",
            "order of equal points",
            changes_answers=True,
            choices=TIEBREAKS,
        ),
    )

    def __init__(
        self, *, window: int = 20, tournaments: int = 2, seed: int = 0, tiebreak: str = "place"
    ) -> None:
        if window < 4:
            raise ConfigError("window must be >= 4")
        if tournaments < 1:
            raise ConfigError("tournaments must be >= 1")
        if tiebreak not in TIEBREAKS:
            raise ConfigError(f"tiebreak must be one of {', '.join(TIEBREAKS)}; got {tiebreak!r}")
        self.window, self.tournaments, self.seed = window, tournaments, seed
        self.tiebreak = tiebreak

    def stages(self, n: int) -> list[tuple[int, int]]:
        """(group size, keep per full group) of every stage for n items."""
        out: list[tuple[int, int]] = []
        m, s = n, 0
        while m > 2 or (m == 2 and not out):
            frac_size, frac_keep = _SCHEDULE[s]
            size = max(2, round(self.window * frac_size))
            keep = max(1, round(size * frac_keep))
            out.append((size, keep))
            m = sum(self._keeps(m, size, keep))
            s = s + 1 if s + 1 < len(_SCHEDULE) else _REPEAT_FROM
        return out

    @staticmethod
    def _groups(m: int, size: int) -> int:
        return -(-m // size)

    def _keeps(self, m: int, size: int, keep: int) -> list[int]:
        """How many advance from each group when m items enter a stage."""
        g = self._groups(m, size)
        lens = [len(range(i, m, g)) for i in range(g)]
        return [min(n_i - 1, max(1, round(keep * n_i / size))) if n_i > 1 else n_i for n_i in lens]

    def plan(self, n: int) -> Plan:
        blocks: list[int] = []
        depth, m = 0, n
        for size, keep in self.stages(n):
            g = self._groups(m, size)
            lens = [len(range(i, m, g)) for i in range(g)]
            judged = [x for x in lens if x >= 2] * self.tournaments
            blocks += judged
            depth += 1 if judged else 0
            m = sum(self._keeps(m, size, keep))
        return Plan(self.name, n, len(blocks), depth, tuple(blocks))

    def rank(self, n: int, judge: BlockJudge) -> StrategyResult:
        tours = []
        for t in range(self.tournaments):
            rng = random.Random(f"tourrank:{self.seed}:{t}")
            start = list(range(n))
            if t:
                rng.shuffle(start)
            tours.append(
                _Tour(rng, start, dict.fromkeys(range(n), 0.0), dict.fromkeys(range(n), 1.0))
            )
        for size, keep in self.stages(n):
            m = len(tours[0].standing)
            g = self._groups(m, size)
            keeps = self._keeps(m, size, keep)
            blocks: list[list[int]] = []
            owners: list[tuple[_Tour, int]] = []
            for tour in tours:
                for i in range(g):
                    group = tour.standing[i::g]
                    tour.rng.shuffle(group)
                    blocks.append(group)
                    owners.append((tour, keeps[i]))
            judged = [b for b in blocks if len(b) >= 2]
            verdicts = iter(judge(judged)) if judged else iter(())
            for tour in tours:
                tour.standing = []
            for group, (tour, k) in zip(blocks, owners, strict=True):
                order = [group[j] for j in next(verdicts).order] if len(group) >= 2 else group
                for rank, x in enumerate(order):
                    tour.place[x] = rank / len(order)
                for x in order[:k]:
                    tour.points[x] += 1
                tour.standing += order[:k]
            for tour in tours:
                tour.standing.sort(key=tour.key)
        points = {i: sum(t.points[i] for t in tours) for i in range(n)}
        places = {i: sum(t.place[i] for t in tours) for i in range(n)}
        if self.tiebreak == "input":
            places = dict.fromkeys(range(n), 0.0)
        order = sorted(range(n), key=lambda i: (-points[i], places[i], i))
        return StrategyResult(order)
