"""``Reranker.rank(query, docs)``: a result shaped as rerankers users expect — iterable and
indexable, best first, with ``top_k(k)``, ``.docids`` and, per item, the text, the new rank and
the model's own score where the method has one.

Score methods (FIRST's identifier logits, ICR's attention, setwise likelihood) give every
judged candidate a score; permutation methods (RankGPT) produce only an order, so their items
have ``score=None`` and the result says so in ``scores_note``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from listrank.types import Candidate, Ranking


@dataclass(frozen=True)
class Result:
    docid: str
    text: str
    rank: int
    """The new rank, 1 = best."""
    score: float | None
    """The model's own score (higher is better), or None when the method has none."""
    first_stage_rank: int
    """Where the candidate stood in the input, 1 = first."""
    first_stage_score: float | None
    candidate: Candidate


class RankedResults(Sequence[Result]):
    """Results best first. ``results[0]`` is the best; ``for r in results`` walks them."""

    def __init__(self, ranking: Ranking, candidates: Sequence[Candidate], method: str) -> None:
        self.ranking = ranking
        self.query = ranking.query.text
        self.method = method
        scores = ranking.model_scores()
        self.has_scores = bool(scores)
        position = {c.docid: i for i, c in enumerate(candidates)}
        self.results: tuple[Result, ...] = tuple(
            Result(
                docid=r.candidate.docid,
                text=r.candidate.text,
                rank=rank,
                score=scores.get(r.candidate.docid),
                first_stage_rank=position[r.candidate.docid] + 1,
                first_stage_score=r.candidate.score,
                candidate=r.candidate,
            )
            for rank, r in enumerate(ranking.ranked, start=1)
        )

    @property
    def scores_note(self) -> str:
        if self.has_scores:
            return f"score: the {self.method} method's own score of each judged candidate"
        return (
            f"score: none — {self.method} produces an order, not scores; rank is its verdict "
            "(FIRST, ICR or setwise likelihood give scores)"
        )

    @property
    def docids(self) -> list[str]:
        return [r.docid for r in self.results]

    def top_k(self, k: int) -> list[Result]:
        return list(self.results[: max(k, 0)])

    def get(self, docid: str) -> Result:
        """The result of one docid (KeyError names it when it is not there)."""
        for r in self.results:
            if r.docid == docid:
                return r
        raise KeyError(f"no result with docid {docid!r}")

    def __len__(self) -> int:
        return len(self.results)

    @overload
    def __getitem__(self, index: int) -> Result: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Result]: ...

    def __getitem__(self, index: int | slice) -> Result | Sequence[Result]:
        return self.results[index]

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)

    def __repr__(self) -> str:
        head = ", ".join(f"{r.rank}:{r.docid}" for r in self.results[:5])
        more = ", …" if len(self.results) > 5 else ""
        return f"RankedResults({self.query!r}, [{head}{more}], method={self.method!r})"
