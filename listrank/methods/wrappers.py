"""Permutation averaging, a method wrapper that makes small, position-biased judges more
useful; it wraps any Method and is itself one, so it works with every strategy (calibration,
the other such wrapper, is in ``listrank.methods.calibration``).

- ``PermutationAveraged``: judges k seeded shuffles of each block in one batch and averages the
  ranks each candidate gets (self-consistency over orderings).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

from listrank.errors import ConfigError
from listrank.methods.base import Method, WrappingMethod, order_from_scores
from listrank.types import Candidate, Judgement, Query


class PermutationAveraged(WrappingMethod):
    """Judge ``k`` orderings of every block (one batched inner call for all of them) and order
    by mean rank. The first ordering is the input order, so k=1 is the inner method.

    ``design="cyclic"`` (default) uses rotations by multiples of n/k: every candidate visits
    evenly spread slots, and with k = n each one sits in every slot exactly once, which cancels
    a pure position bias exactly. ``design="random"`` uses seeded random shuffles.
    """

    def __init__(self, inner: Method, *, k: int = 3, seed: int = 0, design: str = "cyclic") -> None:
        if k < 1:
            raise ConfigError("permutations must be >= 1")
        if design not in ("cyclic", "random"):
            raise ConfigError(f"unknown permutation design {design!r}; use cyclic or random")
        self.inner, self.k, self.seed, self.design = inner, k, seed, design
        self.name = f"{inner.name}+avg{k}"
        self.produces_scores = True

    @property
    def calls_per_block(self) -> int:
        return self.k * self.inner.calls_per_block  # priors: the shuffles have the blocks' sizes

    def estimate_prompt_tokens(self, query: Query, block: Sequence[Candidate]) -> int:
        return self.k * self.inner.estimate_prompt_tokens(query, block)

    def _shuffles(self, query: Query, block: Sequence[Candidate]) -> list[list[int]]:
        n = len(block)
        if self.design == "cyclic":
            return [
                [(pos + j * n // self.k) % n for pos in range(n)] if n else []
                for j in range(self.k)
            ]
        # seeded by content so the same block gets the same shuffles in every run
        rng = random.Random(f"{self.seed}|{query.text}|{'|'.join(c.docid for c in block)}")
        perms = [list(range(len(block)))]
        for _ in range(self.k - 1):
            p = list(range(len(block)))
            rng.shuffle(p)
            perms.append(p)
        return perms

    def judge(self, query: Query, blocks: Sequence[Sequence[Candidate]]) -> list[Judgement]:
        perms = [self._shuffles(query, b) for b in blocks]
        shown = [[b[i] for i in p] for b, ps in zip(blocks, perms, strict=True) for p in ps]
        judged = self.inner.judge(query, shown)
        out = []
        for bi, block in enumerate(blocks):
            n = len(block)
            rank_sum = [0.0] * n
            filled_votes = [0] * n
            records = []
            for pi, perm in enumerate(perms[bi]):
                j = judged[bi * self.k + pi]
                records.append(j.record)
                for pos, local in enumerate(j.order):
                    rank_sum[perm[local]] += pos
                for local in j.filled:
                    filled_votes[perm[local]] += 1
            scores = tuple(-r / self.k for r in rank_sum)  # higher is better
            order = order_from_scores(scores)
            filled = frozenset(i for i in range(n) if filled_votes[i] == self.k)
            first = records[0]
            record = dataclasses.replace(
                first,
                method=self.name,
                calls=sum(r.calls for r in records),
                prompt_tokens=sum(r.prompt_tokens for r in records),
                completion_tokens=sum(r.completion_tokens for r in records),
                latency_s=sum(r.latency_s for r in records),
                # only model text: score methods' records have none
                output=" || ".join(r.output for r in records)
                if any(r.output for r in records)
                else "",
                repair=sum((r.repair for r in records[1:]), first.repair),
                scores=scores,
                extra={
                    **first.extra,
                    "permutations": [list(p) for p in perms[bi]],
                    "calls": self.k,
                },
            )
            out.append(Judgement(order=order, record=record, scores=scores, filled=filled))
        return out
