"""Fusion with the first stage, as the pipeline's final stage: a small judge's order is blended
with the retriever's instead of replacing it.

- ``rrf``: reciprocal-rank fusion, w/(k + rank_llm) + (1 − w)/(k + rank_first).
- ``linear``: w·llm + (1 − w)·first on min-max normalized scores (ranks stand in for missing
  first-stage scores).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from listrank.errors import ConfigError
from listrank.types import Candidate, RankedCandidate

FUSION_METHODS = ("rrf", "linear")


def _minmax(values: Sequence[float]) -> list[float]:
    lo, hi = min(values), max(values)
    if hi == lo:
        return [0.5] * len(values)
    return [(v - lo) / (hi - lo) for v in values]


@dataclass(frozen=True)
class Fusion:
    method: str = "rrf"
    weight: float = 0.5
    """Weight of the LLM's ranking; 1 − weight goes to the first stage."""
    k: int = 60

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> Fusion:
        """A ``[fusion]`` table (method, weight, k), every key and type checked."""
        unknown = set(section) - {"method", "weight", "k"}
        if unknown:
            raise ConfigError(
                f"[fusion] takes method ({', '.join(FUSION_METHODS)}), weight, k; unknown: "
                f"{sorted(unknown)}"
            )
        return cls(**section)

    def __post_init__(self) -> None:
        # a TOML value of the wrong type is a clear error, not a TypeError deep in fuse()
        if not isinstance(self.method, str):
            raise ConfigError(f"fusion method must be a string; got {self.method!r}")
        weight: Any = self.weight
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ConfigError(f"fusion weight must be a number between 0 and 1; got {weight!r}")
        k: Any = self.k
        if isinstance(k, bool) or not isinstance(k, int):
            raise ConfigError(f"fusion k must be a whole number >= 1; got {k!r}")
        if self.method not in FUSION_METHODS:
            raise ConfigError(f"unknown fusion {self.method!r}; choose {', '.join(FUSION_METHODS)}")
        if not 0.0 <= self.weight <= 1.0:  # NaN fails this too
            raise ConfigError("fusion weight must be between 0 and 1")
        if self.k < 1:
            raise ConfigError("fusion k must be >= 1")

    def fuse(
        self, first_stage: Sequence[Candidate], llm: Sequence[RankedCandidate]
    ) -> list[RankedCandidate]:
        """Blend; ``first_stage`` is the input order (best first), ``llm`` the LLM ranking."""
        n = len(first_stage)
        if n == 0:
            return []
        first_rank = {c.docid: r for r, c in enumerate(first_stage)}
        llm_rank = {rc.candidate.docid: r for r, rc in enumerate(llm)}
        if self.method == "rrf":
            fused = {
                d: self.weight / (self.k + llm_rank[d] + 1)
                + (1 - self.weight) / (self.k + first_rank[d] + 1)
                for d in first_rank
            }
        else:
            raw_first = [c.score for c in first_stage]
            first_vals = (
                [float(s) for s in raw_first]  # type: ignore[arg-type]
                if all(s is not None for s in raw_first)
                else [float(n - r) for r in range(n)]
            )
            first_norm = dict(zip(first_rank, _minmax(first_vals), strict=True))
            llm_norm = dict(zip(llm_rank, _minmax([rc.score for rc in llm]), strict=True))
            fused = {
                d: self.weight * llm_norm[d] + (1 - self.weight) * first_norm[d] for d in first_rank
            }
        by_id = {c.docid: c for c in first_stage}
        # ties: the LLM's order decides, then the first stage's
        order = sorted(first_rank, key=lambda d: (-fused[d], llm_rank[d], first_rank[d]))
        return [RankedCandidate(by_id[d], fused[d]) for d in order]
