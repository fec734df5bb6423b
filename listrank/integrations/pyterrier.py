"""A PyTerrier transformer, so a listrank pipeline composes as ``bm25 >> stage``.

It takes PyTerrier's result frame (``qid``, ``query``, ``docno``, ``text``; ``score``/``rank``
give the first-stage order) and returns it reranked with new ``score`` and ``rank``. Only
pyterrier's Python core is needed (``pip install 'listrank[pyterrier]'``); Java is not, unless
the first stage is Terrier itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.reranker import Reranker
from listrank.runs.dataframes import rerank_dataframe

try:
    import pyterrier as pt
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "listrank.integrations.pyterrier needs pyterrier: "
        f"pip install 'listrank[pyterrier]' ({exc})"
    ) from exc

if TYPE_CHECKING:
    import pandas as pd


class ListrankTransformer(pt.Transformer):  # type: ignore[misc]
    """``ListrankTransformer(reranker)``, ``ListrankTransformer(config="pipeline.toml")`` or
    ``ListrankTransformer(method="first", window=20, ...)`` (Reranker options)."""

    def __init__(
        self,
        reranker: Any = None,
        *,
        config: str | Path | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        if reranker is not None and (config is not None or options):
            from listrank.errors import ConfigError

            raise ConfigError("pass a reranker, or config= / Reranker options, not both")
        if reranker is None:
            reranker = PipelineConfig.from_file(config).build() if config else Reranker(**options)
        self.reranker = reranker

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        if inp.empty:  # PyTerrier probes transformers with empty frames
            return inp.assign(score=[], rank=[])
        return rerank_dataframe(self.reranker, inp)

    def __repr__(self) -> str:
        return f"ListrankTransformer({getattr(self.reranker, 'method', None)!r})"
