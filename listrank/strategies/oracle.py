"""An oracle judge for testing strategies (yours too): it orders any block by hidden grades.

With ``swap_prob`` or ``grade_noise`` it becomes a seeded noisy oracle, a stand-in for a model
that is right most of the time. It records every stage, so tests can compare a run with its
plan without a model.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from listrank.errors import ConfigError
from listrank.strategies.planning import scripted_judgement
from listrank.types import Judgement


class OracleJudge:
    """A BlockJudge: ``judge(blocks)`` orders each block of positions by ``grades`` (higher
    is better; ties keep block order), optionally with noise:

    - ``grade_noise``: Gaussian noise of this standard deviation added to every grade, drawn
      afresh for every block (so the same items can be judged differently twice);
    - ``swap_prob``: after sorting, each adjacent pair is swapped with this probability.
    """

    def __init__(
        self,
        grades: Sequence[float],
        *,
        swap_prob: float = 0.0,
        grade_noise: float = 0.0,
        seed: int = 0,
    ) -> None:
        if not 0.0 <= swap_prob <= 1.0:
            raise ConfigError("swap_prob must be between 0 and 1")
        if grade_noise < 0:
            raise ConfigError("grade_noise must be >= 0")
        self.grades = list(grades)
        self.swap_prob = swap_prob
        self.grade_noise = grade_noise
        self.rng = random.Random(seed)
        self.stages: list[list[tuple[int, ...]]] = []
        """Every call's blocks, in order (one entry per sequential stage)."""

    @property
    def calls(self) -> int:
        return sum(len(s) for s in self.stages)

    @property
    def depth(self) -> int:
        return len(self.stages)

    @property
    def block_sizes(self) -> tuple[int, ...]:
        return tuple(len(b) for s in self.stages for b in s)

    def local_order(self, block: Sequence[int]) -> list[int]:
        noisy = [self.grades[i] + self.rng.gauss(0, self.grade_noise) for i in block]
        order = sorted(range(len(block)), key=lambda j: -noisy[j])
        if self.swap_prob:
            for j in range(len(order) - 1):
                if self.rng.random() < self.swap_prob:
                    order[j], order[j + 1] = order[j + 1], order[j]
        return order

    def __call__(self, blocks: Sequence[Sequence[int]]) -> list[Judgement]:
        if not blocks:
            raise ConfigError("a strategy called the judge with no blocks")
        self.stages.append([tuple(b) for b in blocks])
        return [scripted_judgement(self.local_order(b)) for b in blocks]
