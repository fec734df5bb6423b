"""A cheap first pass before the LLM: score every candidate, keep the top k for the LLM stage.

An LLM (``type = "llm"``, ``pipeline.llm_prefilter``: any method/backend pair, pointwise by
default), or one of two kinds from sentence-transformers (``pip install
'listrank[prefilter]'``):

- ``cross-encoder`` (the real cascade): a ``CrossEncoder`` reads (query, passage) pairs.
- ``bi-encoder``: cosine similarity of ``SentenceTransformer`` embeddings, a weaker but much
  cheaper baseline (e.g. all-MiniLM-L6-v2).

Models are named by hub name or local folder. The candidates that do not make the top k follow
the LLM-ranked head in prefilter order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from listrank.errors import ConfigError, ModelLoadError
from listrank.types import Candidate, Query

PREFILTER_KINDS = ("cross-encoder", "bi-encoder", "llm")
INSTALL_HINT = "pip install 'listrank[prefilter]'"


@runtime_checkable
class Prefilter(Protocol):
    """Anything that scores candidates for a query (higher is better) and has a cut-off k."""

    name: str
    k: int

    def scores(self, query: Query, candidates: Sequence[Candidate]) -> list[float]: ...


def passage_text(c: Candidate) -> str:
    return f"{c.title}: {c.text}" if c.title else c.text


def prefilter_order(scores: Sequence[float]) -> list[int]:
    """Positions by descending score; ties keep first-stage order (a stable sort)."""
    return sorted(range(len(scores)), key=lambda i: -scores[i])


def _check(k: int, batch_size: int) -> None:
    if k < 1:
        raise ConfigError(f"prefilter k must be >= 1; got {k}")
    if batch_size < 1:
        raise ConfigError(f"prefilter batch_size must be >= 1; got {batch_size}")


def _import_st() -> Any:
    try:
        import sentence_transformers
    except ImportError as exc:
        raise ModelLoadError(f"the prefilter needs sentence-transformers: {INSTALL_HINT}") from exc
    return sentence_transformers


class CrossEncoderPrefilter:
    """A sentence-transformers ``CrossEncoder`` (hub name or folder), or a ready ``model_obj``."""

    name = "cross-encoder"

    def __init__(
        self,
        model: str | None = None,
        *,
        k: int = 20,
        batch_size: int = 32,
        device: str = "cpu",
        max_length: int | None = None,
        model_obj: Any = None,
    ) -> None:
        _check(k, batch_size)
        self.k, self.batch_size = k, batch_size
        if model_obj is None:
            if not model:
                raise ConfigError("the cross-encoder prefilter needs model= (hub name or folder)")
            st = _import_st()
            try:
                model_obj = st.CrossEncoder(model, device=device, max_length=max_length)
            except (OSError, ValueError) as exc:
                raise ModelLoadError(f"cannot load cross-encoder {model!r}: {exc}") from exc
        self.model = model_obj
        self.model_name = model or "custom"

    def scores(self, query: Query, candidates: Sequence[Candidate]) -> list[float]:
        if not candidates:
            return []
        pairs = [(query.text, passage_text(c)) for c in candidates]
        raw = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return [float(x) for x in raw]


class BiEncoderPrefilter:
    """Cosine similarity of ``SentenceTransformer`` embeddings of query and passages."""

    name = "bi-encoder"

    def __init__(
        self,
        model: str | None = None,
        *,
        k: int = 20,
        batch_size: int = 32,
        device: str = "cpu",
        model_obj: Any = None,
    ) -> None:
        _check(k, batch_size)
        self.k, self.batch_size = k, batch_size
        if model_obj is None:
            if not model:
                raise ConfigError("the bi-encoder prefilter needs model= (hub name or folder)")
            st = _import_st()
            try:
                model_obj = st.SentenceTransformer(model, device=device)
            except (OSError, ValueError) as exc:
                raise ModelLoadError(f"cannot load sentence encoder {model!r}: {exc}") from exc
        self.model = model_obj
        self.model_name = model or "custom"

    def scores(self, query: Query, candidates: Sequence[Candidate]) -> list[float]:
        if not candidates:
            return []
        texts = [query.text] + [passage_text(c) for c in candidates]
        emb = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [float(x) for x in emb[1:] @ emb[0]]


class CutOff:
    """A prefilter as a plan sees it: its kind and cut-off ``k``, its model not loaded."""

    def __init__(self, name: str, k: int) -> None:
        self.name, self.k = name, k

    def scores(self, query: Query, candidates: Sequence[Candidate]) -> list[float]:
        raise ConfigError(f"the {self.name} prefilter of a plan has no model loaded")


def build_prefilter(section: Mapping[str, Any] | None, *, load: bool = True) -> Prefilter | None:
    """A prefilter from a pipeline config's ``[prefilter]`` table (None when absent):

    [prefilter]
    type = "cross-encoder"        # or "bi-encoder", or "llm" (see pipeline.llm_prefilter)
    model = "cross-encoder/ms-marco-MiniLM-L-6-v2"
    k = 20
    batch_size = 32
    device = "cpu"
    """
    if section is None:
        return None
    options = dict(section)
    kind = options.pop("type", "cross-encoder")
    if kind == "llm":  # it composes a Reranker: built where pipelines are (pipeline.config)
        raise ConfigError("an LLM prefilter is built by PipelineConfig or LLMPrefilter(...)")
    factories: dict[str, Any] = {
        "cross-encoder": CrossEncoderPrefilter,
        "bi-encoder": BiEncoderPrefilter,
    }
    if kind not in factories:
        raise ConfigError(f"[prefilter] type {kind!r}: choose one of {', '.join(PREFILTER_KINDS)}")
    allowed = {"model", "k", "batch_size", "device"} | (
        {"max_length"} if kind == "cross-encoder" else set()
    )
    unknown = set(options) - allowed
    if unknown:
        raise ConfigError(
            f"[prefilter]: unknown option(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    if not load:  # a plan needs only the cut-off: the same checks, no model
        k, batch_size = options.get("k", 20), options.get("batch_size", 32)
        _check(k, batch_size)
        return CutOff(kind, k)
    prefilter: Prefilter = factories[kind](**options)
    return prefilter
