"""An LLM as the cheap first pass: any method/backend pair scores the candidates, the top k go
on to the listwise stage (the cascade "pointwise LLM over the top 100 → listwise over the top
20", on any backend listrank has, the embedded model included).

    [prefilter]
    type = "llm"
    method = "pointwise"        # default; any method, with its options below
    strategy = "pointwise"      # default: every candidate scored in one stage
    k = 20
    template = "qwen3_reranker" # options go to the prefilter's own method/strategy/backend
    # backend = "openai"        # default: the pipeline's own backend (one model loaded)
    # model = "..."

Without ``backend`` the prefilter judges on the pipeline's backend, through the same stage
gate, so the many-query scheduler merges the prefilter calls of every query in flight too.
Its calls are in the ranking's trace before the listwise stage's (their ``extra`` says
``"pipeline_stage": "prefilter"``), and ``plan`` counts both stages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from listrank.errors import ConfigError
from listrank.pipeline.reranker import Reranker
from listrank.types import Candidate, Plan, Query, Ranking

DEFAULT_METHOD = "pointwise"
DEFAULT_STRATEGY = "pointwise"


class LLMPrefilter:
    """Scores candidates with its own Reranker (method × strategy) and keeps the top ``k``."""

    name = "llm"

    def __init__(
        self,
        *,
        k: int = 20,
        method: str = DEFAULT_METHOD,
        strategy: str = DEFAULT_STRATEGY,
        backend: str | object | None = None,
        model: str | None = None,
        planning: bool = False,
        **options: Any,
    ) -> None:
        """``planning``: its reranker is a planning build (``Reranker.planning``)."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"prefilter k must be an integer >= 1; got {k!r}")
        if model is not None and backend is None:
            raise ConfigError("[prefilter] model= needs backend= (the pipeline's own is shared)")
        self.k = k
        self.method_name, self.strategy_name = method, strategy
        self.backend, self.model, self.options = backend, model, dict(options)
        self.planning = planning
        self._inner: Reranker | None = None
        if backend is not None:  # its own model: build now, so errors surface at load
            self.bind(None)

    def bind(self, shared_backend: object | None) -> None:
        """Build the inner reranker, on ``shared_backend`` unless the prefilter has its own."""
        if self._inner is not None:
            return
        backend = self.backend if self.backend is not None else shared_backend
        if backend is None:
            raise ConfigError("the LLM prefilter has no backend: give it backend= or bind it")
        self._inner = (Reranker.planning if self.planning else Reranker)(
            backend=backend,
            model=self.model,
            method=self.method_name,
            strategy=self.strategy_name,
            **self.options,
        )

    @property
    def inner(self) -> Reranker:
        if self._inner is None:
            raise ConfigError("the LLM prefilter is not bound to a backend yet")
        return self._inner

    def rank(self, query: Query, candidates: Sequence[Candidate]) -> Ranking:
        """Every candidate ranked by the prefilter's method, with the calls in its trace."""
        return self.inner.rerank(query, candidates)

    def scores(self, query: Query, candidates: Sequence[Candidate]) -> list[float]:
        ranking = self.rank(query, candidates)
        by_id = {r.candidate.docid: r.score for r in ranking.ranked}
        return [by_id[c.docid] for c in candidates]

    def plan(self, n: int) -> Plan:
        return self.inner.plan(n)

    def estimate(self, n: int, query: Query, candidates: Sequence[Candidate]) -> Plan:
        return self.inner.plan(n, query, candidates)


def llm_prefilter(options: Mapping[str, Any]) -> LLMPrefilter:
    return LLMPrefilter(**dict(options))
