"""What a strategy is: it decides which blocks get judged and merges local orders.

A strategy never sees a backend or candidate text: it works on positions ``0..n-1`` of the
input list and calls a ``BlockJudge`` with every block of one sequential stage at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from listrank.types import Judgement, Plan


class Block(list[int]):
    """A block of input positions with a label for the trace (e.g. "positions 0-19").
    Strategies may pass plain lists instead."""

    def __init__(self, items: Sequence[int], label: str = "") -> None:
        super().__init__(items)
        self.label = label


BlockJudge = Callable[[Sequence[Sequence[int]]], list[Judgement]]
"""Judges blocks of input positions; each call is one sequential stage."""


@dataclass(frozen=True)
class StrategyResult:
    order: list[int]
    """A permutation of range(n), best first."""
    scores: list[float] | None = None
    """Optional score per entry of ``order`` (same length, non-increasing)."""


class Strategy(ABC):
    name: str = "strategy"
    needs_scores: bool = False
    """Declared: it orders candidates by the score each gets alone (a method must declare
    ``scores_alone``)."""

    @abstractmethod
    def rank(self, n: int, judge: BlockJudge) -> StrategyResult:
        """Order positions 0..n-1, calling ``judge`` once per sequential stage."""

    @abstractmethod
    def plan(self, n: int) -> Plan:
        """Calls, depth and block sizes for n candidates, without running anything."""


def apply_local_order(order: list[int], positions: Sequence[int], judgement: Judgement) -> None:
    """Write a block's local order back into the global order, in place.

    ``positions`` are the slots of ``order`` the block occupies (ascending)."""
    block = [order[p] for p in positions]
    for slot, local in zip(positions, judgement.order, strict=True):
        order[slot] = block[local]
