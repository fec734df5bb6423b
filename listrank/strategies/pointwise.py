"""Pointwise: every candidate judged alone, all in one stage, ordered by its score.

Each block is one candidate, so a method that scores single candidates (``pointwise``) is
asked for all of them in one call, and the many-query scheduler merges the calls of every
query in flight into one batch. The candidates' own scores are returned, so linear fusion
blends real scores rather than ranks. A candidate its method left unscored (NaN, or no score
at all) goes after the scored ones, in input order.
"""

from __future__ import annotations

import math

from listrank.strategies.base import Block, BlockJudge, Strategy, StrategyResult
from listrank.types import Plan


class Pointwise(Strategy):
    name = "pointwise"
    needs_scores = True
    """Only a method whose single-candidate scores mean something (``scores_alone``, i.e.
    pointwise) can be used; the Reranker checks it."""

    def plan(self, n: int) -> Plan:
        return Plan(self.name, n, calls=n, depth=1 if n else 0, block_sizes=(1,) * n)

    def rank(self, n: int, judge: BlockJudge) -> StrategyResult:
        if n == 0:
            return StrategyResult([], [])
        judgements = judge([Block([i], f"candidate {i}") for i in range(n)])
        # a judgement without a score (an order-only judge) counts as unscored: the Reranker
        # refuses such methods up front, a bare judge keeps the input order
        scores = [
            float(j.scores[0]) if j.scores is not None and len(j.scores) == 1 else math.nan
            for j in judgements
        ]
        scored = sorted(
            (i for i in range(n) if not math.isnan(scores[i])), key=lambda i: -scores[i]
        )
        unscored = [i for i in range(n) if math.isnan(scores[i])]
        floor = min((scores[i] for i in scored), default=0.0)
        values = [scores[i] for i in scored] + [floor - 1.0 - r for r in range(len(unscored))]
        return StrategyResult(scored + unscored, values)
