"""Position-bias calibration for methods that score every slot (FIRST logprobs, ICR attention):
subtract a per-slot prior from each block's scores. The prior is measured once per block size
and kept for the life of the method.

Two priors:

- ``content-free`` (contextual calibration, Zhao et al. 2021): the scores of one block whose
  query and passages are all "N/A". One call per block size. Cheap, but it measures the model on
  input unlike any real block: with SmolLM2 and FIRST on DL19 it moves the favourite top slot
  from the first of 20 to the 19th instead of removing it.
- ``reference`` (batch calibration, Zhou et al. 2024): the mean scores per slot over R blocks of
  real passages drawn at random from an unlabelled pool of the collection being reranked, each
  block with a random query from the pool. Random draws put every kind of passage in every slot,
  so what the mean keeps is the position effect, under realistic passage lengths. R calls per
  block size. No relevance labels are used.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from listrank.errors import ConfigError
from listrank.methods.base import Method, WrappingMethod, order_from_scores
from listrank.types import CallRecord, Candidate, Judgement, Query

if TYPE_CHECKING:
    from listrank.runs.io import Request

CONTENT_FREE = "N/A"
CALIBRATIONS = ("content-free", "reference")
DEFAULT_REFERENCE_BLOCKS = 8


@dataclass(frozen=True)
class CalibrationPool:
    """Unlabelled queries and passages from the collection being reranked."""

    queries: tuple[str, ...]
    passages: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.queries or not self.passages:
            raise ConfigError(
                "a calibration pool needs at least one query and one passage "
                f"(got {len(self.queries)} queries, {len(self.passages)} passages)"
            )

    @classmethod
    def from_requests(cls, requests: Iterable[Request]) -> CalibrationPool:
        reqs = list(requests)
        return cls(
            queries=tuple(r.query.text for r in reqs),
            passages=tuple(c.text for r in reqs for c in r.candidates),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> CalibrationPool:
        """A JSONL file in the rerank input format (e.g. the very file being reranked)."""
        from listrank.runs.io import read_requests

        return cls.from_requests(read_requests(path))

    @classmethod
    def coerce(cls, pool: CalibrationPool | Sequence[Request] | str | Path) -> CalibrationPool:
        if isinstance(pool, CalibrationPool):
            return pool
        if isinstance(pool, str | Path):
            return cls.from_file(pool)
        return cls.from_requests(pool)


def _mean_per_slot(rows: Sequence[Sequence[float]], size: int) -> tuple[float, ...]:
    """Mean over rows per slot, NaNs skipped; a slot never scored gets no correction (0)."""
    out = []
    for i in range(size):
        values = [r[i] for r in rows if not math.isnan(r[i])]
        out.append(sum(values) / len(values) if values else 0.0)
    return tuple(out)


class CalibratedMethod(WrappingMethod):
    """Score − prior(slot); see the module docstring for the two priors."""

    def __init__(
        self,
        inner: Method,
        *,
        calibration: str = "content-free",
        pool: CalibrationPool | Sequence[Request] | str | Path | None = None,
        blocks: int = DEFAULT_REFERENCE_BLOCKS,
        seed: int = 0,
    ) -> None:
        if not inner.produces_scores:
            raise ConfigError(
                f"calibration needs a method that scores each position (first, icr); "
                f"{inner.name!r} only returns an order"
            )
        if calibration not in CALIBRATIONS:
            raise ConfigError(
                f"unknown calibration {calibration!r}; use one of {', '.join(CALIBRATIONS)}"
            )
        if calibration == "reference":
            if pool is None:
                raise ConfigError(
                    "reference calibration needs calibration_pool: unlabelled queries and "
                    "passages of the collection being reranked (a JSONL file in the rerank "
                    "input format, or its requests); `listrank rerank` uses its input file"
                )
            if blocks < 1:
                raise ConfigError("calibration_blocks must be >= 1")
        elif pool is not None:
            raise ConfigError("calibration_pool is only used by calibration='reference'")
        self.inner = inner
        self.calibration = calibration
        self.pool = CalibrationPool.coerce(pool) if pool is not None else None
        self.blocks, self.seed = blocks, seed
        self.name = f"{inner.name}+calibrated"
        self.priors: dict[int, tuple[float, ...]] = {}
        self.prior_records: list[CallRecord] = []
        # the service shares one method between request threads: one prior per size, charged once
        self._prior_lock = threading.Lock()
        self.produces_scores = True
        self.scores_alone = inner.scores_alone

    @property
    def calls_per_prior(self) -> int:
        """Model calls one new block size costs."""
        blocks = self.blocks if self.calibration == "reference" else 1
        return blocks * self.inner.calls_per_block

    def _new_sizes(self, block_sizes: Sequence[int]) -> list[int]:
        """Sizes whose prior is not measured yet (a block of one needs none)."""
        return sorted({s for s in block_sizes if self.calibrates(s)} - set(self.priors))

    def prior_calls(self, block_sizes: Sequence[int]) -> int:
        # a prior judges blocks of its size: a per-candidate method pays per candidate
        per = self.inner.calls_per_candidate
        return sum(self.calls_per_prior * (s if per else 1) for s in self._new_sizes(block_sizes))

    def prior_prompt_tokens(self, block_sizes: Sequence[int]) -> int:
        return sum(self._size_prior_tokens(s) for s in self._new_sizes(block_sizes))

    def calibrates(self, size: int) -> bool:
        """Whether blocks of ``size`` get a prior (and so cost the prior's calls once)."""
        return size >= 2 or (size == 1 and self.scores_alone)

    def prior(self, size: int) -> tuple[float, ...]:
        if size not in self.priors:
            pairs = self._prior_blocks(size)
            rows: list[Sequence[float]] = []
            # blocks that share a query go to the inner method in one (batched) call
            by_query: dict[str, list[list[Candidate]]] = {}
            for q, block in pairs:
                by_query.setdefault(q, []).append(block)
            for q, blocks in by_query.items():
                for j in self.inner.judge(Query(q, qid=f"calibration-{self.calibration}"), blocks):
                    if j.scores is None:
                        raise ConfigError(f"{self.inner.name} returned no scores for the prior")
                    rows.append(j.scores)
                    self.prior_records.append(j.record)
            self.priors[size] = _mean_per_slot(rows, size)
        return self.priors[size]

    def _prior_blocks(self, size: int) -> list[tuple[str, list[Candidate]]]:
        if self.pool is None:
            block = [Candidate(docid=f"content-free-{i}", text=CONTENT_FREE) for i in range(size)]
            return [(CONTENT_FREE, block)]
        # seeded by size so a prior does not depend on which block size was needed first
        rng = random.Random(f"{self.seed}|{size}")
        passages = self.pool.passages
        out = []
        for r in range(self.blocks):
            if len(passages) >= size:
                texts = rng.sample(passages, size)
            else:  # a small pool: draw with replacement rather than refuse
                texts = rng.choices(passages, k=size)
            block = [Candidate(docid=f"reference-{r}-{i}", text=t) for i, t in enumerate(texts)]
            out.append((rng.choice(self.pool.queries), block))
        return out

    def _size_prior_tokens(self, size: int) -> int:
        """Prompt tokens the prior of one block size will cost (its blocks drawn, not judged)."""
        return sum(
            self.inner.estimate_prompt_tokens(Query(q), block)
            for q, block in self._prior_blocks(size)
        )

    def judge(self, query: Query, blocks: Sequence[Sequence[Candidate]]) -> list[Judgement]:
        out = []
        for block, j in zip(blocks, self.inner.judge(query, blocks), strict=True):
            raw = j.scores
            # one slot has no position to correct, unless its score stands alone (pointwise)
            if raw is None or not self.calibrates(len(block)):
                out.append(j)
                continue
            with self._prior_lock:
                new_priors = len(self.prior_records)
                prior = self.prior(len(block))
                charged = self.prior_records[new_priors:]
            # the prior's own model calls are charged to the judgement that needed them
            for rec in charged:
                j = dataclasses.replace(
                    j,
                    record=dataclasses.replace(
                        j.record,
                        calls=j.record.calls + rec.calls,
                        prompt_tokens=j.record.prompt_tokens + rec.prompt_tokens,
                    ),
                )
            scores = tuple(s - p for s, p in zip(raw, prior, strict=True))
            order = order_from_scores(scores)
            extra = {
                **j.record.extra,
                "calibration": self.calibration,
                "prior": prior,
                "raw_scores": raw,
            }
            record = dataclasses.replace(j.record, scores=scores, extra=extra)
            out.append(Judgement(order=order, record=record, scores=scores, filled=j.filled))
        return out
