"""Adaptive: spend calls only where the top k is still uncertain (after AcuRank,
soyoung97/AcuRank, arXiv 2505.18512).

1. **First round**: every candidate once, in one parallel stage — a partition into blocks of
   ``block_size`` (a JointRank design with replication 1), seeded by stride over the input
   order: block b holds input positions b, b+B, b+2B, … So each block gets an even share of
   the first stage's best, and no block holds more of the true top k than the next stage can
   carry forward. (A sliding pass would cost ⌈(n−w)/s⌉+1 *sequential* stages — 9 for 100 —
   before anything adaptive could start; JointRank's r=4 design costs 20 calls.)
2. **Posterior**: a Gaussian over every candidate's strength from all judgements so far
   (Plackett–Luce, ``strategies.posterior``), with a prior from the input order
   (``prior_weight``), and from it each candidate's probability pᵢ of being in the top k.
3. **Further stages**, one at a time: blocks of ``block_size`` (at most
   ``max_blocks_per_stage`` per stage, all judged at once) filled first with settled top-k
   members not yet judged together (their order within the top k is still open), then with the
   uncertain candidates — tol < pᵢ < 1 − tol — likeliest first, each block ordered by
   posterior mean so neighbours at the top-k boundary meet. It stops after ``stages`` stages,
   at ``budget`` calls, or once the top k is settled (every pᵢ ≤ tol or ≥ 1 − tol, or the
   estimated probability that the top-k set is right reaches ``confidence``) and has been
   judged together.

The final order is by posterior mean, except that with ``final="last-block"`` (the default)
the slots the last stage's items hold are refilled in the order that stage judged them, as a
sliding window writes its window back: the posterior decides who is in contention, the
latest direct comparison of the contenders decides their order. (With an exact judge the
posterior mean alone sometimes keeps a strong first-stage item above a true top-10 one that
beat it; ``final="posterior"`` is the pure aggregate.) AcuRank differs: TrueSkill updated
block by block (so the order of blocks matters; here every stage refits from all
judgements), every uncertain item chunked into as many windows as it takes per stage, and a
stop when fewer than U items are uncertain; ``max_blocks_per_stage`` and ``stages`` large
approach that.

Every block's trace label says why it was chosen (stage, contenders, how many uncertain
items it holds and their pᵢ range). Any method works: orders (rankgpt), scores (first, icr:
their order is used), setwise labels (the winner beats the set; repair-filled items never
win). ``plan`` reports the worst case and the mean under ``PLAN_JUDGE``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from listrank.errors import ConfigError
from listrank.options import Option
from listrank.strategies.base import Block, BlockJudge, Strategy, StrategyResult
from listrank.strategies.posterior import (
    Observation,
    Posterior,
    fit,
    rank_prior,
    top_k_probabilities,
)
from listrank.types import Plan

DEFAULT_TOL = 0.02
PLAN_JUDGE = "oracle on uniform grades, first stage = grades + N(0, 0.3), judge noise σ 0.2"
"""The judge model ``plan`` simulates for its expected case (the strategies benchmark's)."""
PLAN_SEEDS = 8
FINAL_ORDERS = ("posterior", "last-block")


@dataclass(frozen=True)
class StageChoice:
    """The blocks of one later stage and why."""

    blocks: list[Block]
    uncertain: int
    contenders: int


def _set_confidence(p: Sequence[float], top: Sequence[int]) -> float:
    """P(the top-k set is exactly ``top``), treating memberships as independent."""
    inside = set(top)
    logp = sum(math.log(max(p[i] if i in inside else 1.0 - p[i], 1e-300)) for i in range(len(p)))
    return math.exp(logp)


class Adaptive(Strategy):
    name = "adaptive"
    OPTIONS = (
        Option("block_size", int, 20, "candidates per block", changes_answers=True, ge=2),
        Option("top_k", int, 10, "the top k whose membership decides", changes_answers=True, ge=1),
        Option(
            "budget",
            int | None,
            None,
            "most model calls per query (None: stages decide)",
            changes_answers=True,
            ge=1,
            example=6,
        ),
        Option("stages", int, 3, "most sequential stages", changes_answers=True, ge=1),
        Option(
            "confidence",
            float,
            0.95,
            "stop once P(the top-k set is right) reaches this",
            changes_answers=True,
            ge=0.0,
            le=1.0,
            example=0.8,
        ),
        Option(
            "tol",
            float,
            DEFAULT_TOL,
            "P(top k) within tol of 0 or 1 counts as settled",
            changes_answers=True,
            ge=0.0,
            le=0.5,
            example=0.05,
        ),
        Option(
            "prior_weight",
            float,
            0.5,
            "how much the input order counts (0: not at all)",
            changes_answers=True,
            ge=0.0,
        ),
        Option(
            "sharpness",
            float,
            3.0,
            "weight of each judgement against the prior",
            changes_answers=True,
            ge=0.0,
        ),
        Option(
            "max_blocks_per_stage",
            int,
            1,
            "blocks per later stage",
            changes_answers=True,
            ge=1,
        ),
        Option(
            "final",
            str,
            "last-block",
            "final order: the posterior, or later stages' orders written back",
            changes_answers=True,
            choices=FINAL_ORDERS,
        ),
    )

    def __init__(
        self,
        *,
        block_size: int = 20,
        top_k: int = 10,
        budget: int | None = None,
        stages: int = 3,
        confidence: float = 0.95,
        tol: float = DEFAULT_TOL,
        prior_weight: float = 0.5,
        sharpness: float = 3.0,
        max_blocks_per_stage: int = 1,
        final: str = "last-block",
    ) -> None:
        if block_size < 2:
            raise ConfigError("block_size must be >= 2")
        if top_k < 1:
            raise ConfigError("top_k must be >= 1")
        if budget is not None and budget < 1:
            raise ConfigError(f"budget must be >= 1 call; got {budget}")
        if stages < 1:
            raise ConfigError("stages must be >= 1")
        if not 0.0 < confidence <= 1.0:
            raise ConfigError("confidence must be in (0, 1]")
        if not 0.0 < tol < 0.5:
            raise ConfigError("tol must be in (0, 0.5)")
        if prior_weight < 0:
            raise ConfigError("prior_weight must be >= 0")
        if max_blocks_per_stage < 1:
            raise ConfigError("max_blocks_per_stage must be >= 1")
        self.block_size, self.top_k, self.budget, self.stages = block_size, top_k, budget, stages
        self.confidence, self.tol, self.prior_weight = confidence, tol, prior_weight
        self.max_blocks_per_stage = max_blocks_per_stage
        if sharpness <= 0:
            raise ConfigError("sharpness must be > 0")
        self.sharpness = sharpness
        if final not in FINAL_ORDERS:
            raise ConfigError(f"final must be one of {', '.join(FINAL_ORDERS)}; got {final!r}")
        self.final = final
        self._plans: dict[int, Plan] = {}

    # -- the rounds ------------------------------------------------------------------------
    def first_round(self, n: int) -> list[Block]:
        if n < 2:
            return []
        count = math.ceil(n / self.block_size)
        blocks = [list(range(b, n, count)) for b in range(count)]
        if len(blocks[-1]) < 2 and len(blocks) > 1:  # a lone item joins the previous block
            blocks[-2] += blocks.pop()
        if self.budget is not None:
            blocks = blocks[: self.budget]
        return [
            Block(
                b,
                f"stage 1: first round, block {i + 1}/{len(blocks)} (input positions "
                f"{i}, {i + count}, … by stride {count})",
            )
            for i, b in enumerate(blocks)
        ]

    def posterior(self, n: int, observations: Sequence[Observation]) -> Posterior:
        return fit(n, observations, rank_prior(n, self.prior_weight), sharpness=self.sharpness)

    def choose(
        self,
        stage: int,
        p: Sequence[float],
        post: Posterior,
        calls_left: int | None,
        together: set[int],
    ) -> StageChoice:
        """The blocks of a later stage (empty when nothing is left to decide).

        Priority: settled members of the top k that no later block has judged together yet
        (their order within the top k is still open), then the uncertain, likeliest members
        first, then settled members already judged together."""
        n = len(p)
        w = self.block_size
        uncertain = [i for i in range(n) if self.tol < p[i] < 1.0 - self.tol]
        sure = [i for i in range(n) if p[i] >= 1.0 - self.tol]
        contenders = sure + uncertain

        unsure = set(uncertain)
        uncertain_set = unsure
        ranked = sorted(
            contenders,
            key=lambda i: (
                0
                if i not in together and i not in uncertain_set
                else 1
                if i in uncertain_set
                else 2,
                -p[i],
            ),
        )
        room = self.max_blocks_per_stage
        if calls_left is not None:
            room = min(room, calls_left)
        chosen = ranked[: room * w]
        if len(chosen) < 2 or not (set(chosen) & unsure or set(chosen) - together):
            return StageChoice([], len(uncertain), len(contenders))
        chosen.sort(key=lambda i: -post.mean[i])
        count = math.ceil(len(chosen) / w)
        size = math.ceil(len(chosen) / count)
        parts = [chosen[j : j + size] for j in range(0, len(chosen), size)]
        blocks = []
        for b, part in enumerate(parts):
            doubt = [p[i] for i in part if i in unsure]
            fresh = sum(1 for i in part if i not in unsure and i not in together)
            why = (
                f"{len(doubt)} of {len(uncertain)} uncertain (P(top-{self.top_k}) "
                f"{min(doubt):.2f}–{max(doubt):.2f})"
                if doubt
                else "no uncertain items"
            )
            why += f", {fresh} settled members not yet judged together" if fresh else ""
            blocks.append(
                Block(
                    part,
                    f"stage {stage}: block {b + 1}/{len(parts)} of {len(contenders)} "
                    f"contenders; {why}",
                )
            )
        return StageChoice(blocks, len(uncertain), len(contenders))

    def rank(self, n: int, judge: BlockJudge) -> StrategyResult:
        first = self.first_round(n)
        if not first:
            return StrategyResult(list(range(n)))
        observations: list[Observation] = []
        spent = 0
        # items judged together in one block after the first round (or in the only block)
        together: set[int] = set(first[0]) if len(first) == 1 else set()
        later_obs: list[Observation] = []  # the judgements of stages after the first

        def run(blocks: list[Block]) -> None:
            nonlocal spent
            for block, j in zip(blocks, judge(blocks), strict=True):
                order = tuple(block[i] for i in j.order)
                observations.append(Observation(order, frozenset(block[i] for i in j.filled)))
                if spent:
                    later_obs.append(observations[-1])
            spent += len(blocks)

        run(first)
        if len(first) == 1:  # that block is the last direct comparison of everything
            later_obs.extend(observations)
        post = self.posterior(n, observations)
        later = self.stages if len(first) > 1 else 1  # one block held everything: done
        for stage in range(2, later + 1):
            left = None if self.budget is None else self.budget - spent
            if left is not None and left <= 0:
                break
            p = top_k_probabilities(post, self.top_k)
            top = sorted(range(n), key=lambda i: -post.mean[i])[: self.top_k]
            settled = all(x <= self.tol or x >= 1.0 - self.tol for x in p)
            confident = _set_confidence(p, top) >= self.confidence or settled
            if confident and set(top) <= together:
                break
            choice = self.choose(stage, p, post, left, together)
            if not choice.blocks:
                break
            run(choice.blocks)
            for b in choice.blocks:
                together |= set(b)
            post = self.posterior(n, observations)
        order = sorted(range(n), key=lambda i: (-post.mean[i], i))
        scores = [post.mean[i] for i in order]
        if self.final == "last-block":
            # each later stage's slots refilled in the order it judged them, the last last
            for obs in later_obs:
                slots = sorted(order.index(i) for i in obs.order)
                for slot, item in zip(slots, obs.order, strict=True):
                    order[slot] = item
        return StrategyResult(order, scores)

    # -- plans -----------------------------------------------------------------------------
    def plan(self, n: int) -> Plan:
        """Worst case (every later stage full) with the expected case under ``PLAN_JUDGE``
        (simulated once per n: the Reranker plans every query)."""
        if n not in self._plans:
            self._plans[n] = self._plan(n)
        return self._plans[n]

    def _plan(self, n: int) -> Plan:
        first = [len(b) for b in self.first_round(n)]
        later_blocks = self.max_blocks_per_stage
        later = self.stages - 1 if len(first) > 1 else 0
        worst_later = [min(self.block_size, n)] * later_blocks * later
        sizes = first + worst_later
        if self.budget is not None:
            sizes = sizes[: self.budget]
        calls = len(sizes)
        depth = min(self.stages, 1 + math.ceil(max(0, calls - len(first)) / later_blocks))
        expected_calls, expected_depth = self._expected(n)
        return Plan(
            self.name,
            n,
            calls=calls,
            depth=depth if calls else 0,
            block_sizes=tuple(sizes),
            exact=False,
            expected_calls=expected_calls,
            expected_depth=expected_depth,
            judge_model=PLAN_JUDGE,
        )

    def _expected(self, n: int) -> tuple[float, float]:
        import random

        from listrank.strategies.oracle import OracleJudge

        calls, depths = [], []
        for seed in range(PLAN_SEEDS):
            rng = random.Random(seed)
            grades = [rng.random() for _ in range(n)]
            first_stage = sorted(range(n), key=lambda i: -(grades[i] + rng.gauss(0, 0.3)))
            judge = OracleJudge([grades[i] for i in first_stage], grade_noise=0.2, seed=seed)
            self.rank(n, judge)
            calls.append(judge.calls)
            depths.append(judge.depth)
        return statistics.mean(calls), statistics.mean(depths)
