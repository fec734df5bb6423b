"""What the adapters and the service share: rerank plain texts, get (index, score) pairs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from listrank.types import Candidate, Ranking


class SupportsRerank(Protocol):
    def rerank(self, query: str, candidates: Sequence[Candidate]) -> Ranking: ...


def rank_score(rank: int, n: int) -> float:
    """A listwise reranker yields an order, not calibrated scores: (n - rank) / n is 1.0 for
    the best and strictly decreasing, in (0, 1] like Cohere's relevance_score."""
    return (n - rank) / n


def rerank_texts(
    reranker: SupportsRerank, query: str, texts: Sequence[str]
) -> list[tuple[int, float]]:
    """``(input index, relevance score)`` best first, one per text."""
    if not texts:
        return []
    cands = [Candidate(docid=str(i), text=t) for i, t in enumerate(texts)]
    ranking = reranker.rerank(query, cands)
    n = len(ranking.ranked)
    return [(int(r.candidate.docid), rank_score(k, n)) for k, r in enumerate(ranking.ranked)]


def reranker_from_config(path: str | Path, **overrides: Any) -> SupportsRerank:
    from listrank.pipeline.config import PipelineConfig

    return PipelineConfig.from_file(path).with_overrides(**overrides).build()
