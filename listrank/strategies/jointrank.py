"""JointRank: judge overlapping blocks in one parallel stage, then aggregate comparisons.

Every block's order yields its pairwise comparisons "earlier beats later" (items only placed by
repair never win); an aggregator (``strategies.aggregate``) turns them into one ranking. Items no
block compared go last in input order.
"""

from __future__ import annotations

from listrank.errors import ConfigError
from listrank.options import Option
from listrank.strategies.aggregate import (
    AGGREGATORS,
    Comparison,
    comparisons_from_order,
    rank_items,
)
from listrank.strategies.base import BlockJudge, Strategy, StrategyResult
from listrank.strategies.designs import DESIGNS, Design, build_design
from listrank.types import Plan


class JointRank(Strategy):
    """``design`` (see ``strategies.designs``) decides the blocks of ``block_size`` items, each
    item in ``replication`` blocks (Latin-square and triangular designs fix it at 2);
    ``aggregator`` is one of ``strategies.aggregate.AGGREGATORS`` (default pagerank)."""

    name = "jointrank"
    OPTIONS = (
        Option("block_size", int, 20, "candidates per block", changes_answers=True, ge=2),
        Option("replication", int, 4, "blocks each candidate is in", changes_answers=True, ge=1),
        Option(
            "design",
            str,
            "equi-replicate",
            "block design",
            changes_answers=True,
            choices=DESIGNS,
        ),
        Option(
            "aggregator",
            str,
            "pagerank",
            "how block orders merge",
            changes_answers=True,
            choices=tuple(AGGREGATORS),
        ),
        Option("seed", int, 0, "design seed", changes_answers=True),
    )

    def __init__(
        self,
        *,
        block_size: int = 20,
        replication: int = 4,
        design: str = "equi-replicate",
        aggregator: str = "pagerank",
        seed: int = 0,
    ) -> None:
        if block_size < 2:
            raise ConfigError("block_size must be >= 2")
        if replication < 1:
            raise ConfigError("replication must be >= 1")
        if design not in DESIGNS:
            raise ConfigError(f"unknown design {design!r}; choose one of: {', '.join(DESIGNS)}")
        if aggregator not in AGGREGATORS:
            raise ConfigError(
                f"unknown aggregator {aggregator!r}; choose one of: {', '.join(AGGREGATORS)}"
            )
        self.block_size, self.replication = block_size, replication
        self.design, self.aggregator, self.seed = design, aggregator, seed

    def blocks(self, n: int) -> Design:
        return build_design(self.design, n, self.block_size, self.replication, seed=self.seed)

    def plan(self, n: int) -> Plan:
        blocks = self.blocks(n).blocks
        return Plan(
            self.name,
            n,
            calls=len(blocks),
            depth=1 if blocks else 0,
            block_sizes=tuple(len(b) for b in blocks),
        )

    def rank(self, n: int, judge: BlockJudge) -> StrategyResult:
        blocks = self.blocks(n).blocks
        if not blocks:
            return StrategyResult(list(range(n)))
        comparisons: list[Comparison] = []
        for block, judgement in zip(blocks, judge(blocks), strict=True):
            order = [block[j] for j in judgement.order]
            comparisons += comparisons_from_order(order, (block[j] for j in judgement.filled))
        return StrategyResult(rank_items(n, comparisons, self.aggregator))
