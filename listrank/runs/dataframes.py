"""pandas in and out: a DataFrame of first-stage results (one row per query and candidate) to
rerank requests, and rankings back to a DataFrame with ``score`` and ``rank``.

Columns in: ``qid``, ``query``, ``docno`` (PyTerrier) or ``docid``, ``text``; optional
``score`` or ``rank`` (the first-stage order: ``rank`` ascending, else ``score`` descending,
else row order) and ``title``. Columns out: the input's, rows reordered per query, ``score``
(higher is better, strictly decreasing within a query) and ``rank`` (0 = best, as PyTerrier
counts). Queries keep their first-appearance order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from listrank.errors import InputError
from listrank.types import Candidate, Query, Ranking

if TYPE_CHECKING:
    import pandas as pd

REQUIRED = ("qid", "query", "text")
DOC_COLUMNS = ("docno", "docid")
"""The document id column: PyTerrier's ``docno`` or listrank's ``docid``."""

Pair = tuple[Query, list[Candidate]]


def is_dataframe(obj: object) -> bool:
    """A pandas DataFrame, recognised without importing pandas."""
    cls = type(obj)
    return cls.__name__ == "DataFrame" and cls.__module__.split(".")[0] == "pandas"


def doc_column(df: pd.DataFrame) -> str:
    for name in DOC_COLUMNS:
        if name in df.columns:
            return name
    raise InputError(
        f"the DataFrame has no document id column: expected one of {', '.join(DOC_COLUMNS)}; "
        f"it has {', '.join(map(str, df.columns))}"
    )


def _check_columns(df: pd.DataFrame) -> str:
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(
            f"the DataFrame lacks column(s) {', '.join(missing)}; it has "
            f"{', '.join(map(str, df.columns))} (needed: qid, query, docno or docid, text)"
        )
    return doc_column(df)


def _first_stage_order(group: pd.DataFrame) -> pd.DataFrame:
    if "rank" in group.columns:
        return group.sort_values("rank", kind="stable")
    if "score" in group.columns:
        return group.sort_values("score", ascending=False, kind="stable")
    return group


def requests_from_dataframe(df: pd.DataFrame) -> list[Pair]:
    """One ``(Query, candidates)`` pair per qid, candidates in first-stage order."""
    docs = _check_columns(df)
    pairs: list[Pair] = []
    for qid, group in df.groupby("qid", sort=False):
        group = _first_stage_order(group)
        queries = group["query"].unique()
        if len(queries) != 1 or not isinstance(queries[0], str):
            raise InputError(f"qid {qid!r}: every row of a query needs the same query string")
        cands = []
        for row in group.itertuples(index=False):
            text = row.text
            if not isinstance(text, str):
                raise InputError(
                    f"qid {qid!r}, {docs} {getattr(row, docs)!r}: text is not a string"
                )
            score = getattr(row, "score", None)
            title = getattr(row, "title", None)
            cands.append(
                Candidate(
                    docid=str(getattr(row, docs)),
                    text=text,
                    score=None if score is None else float(score),
                    title=title if isinstance(title, str) else None,
                )
            )
        pairs.append((Query(text=str(queries[0]), qid=str(qid)), cands))
    return pairs


def rankings_to_dataframe(
    rankings: Sequence[Ranking], source: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Rankings as rows with ``score`` and ``rank``; with ``source``, its other columns too."""
    import pandas as pd

    docs = doc_column(source) if source is not None else "docno"
    rows: list[dict[str, Any]] = []
    for ranking in rankings:
        n = len(ranking.ranked)
        for rank, r in enumerate(ranking.ranked):
            rows.append(
                {
                    "qid": ranking.query.qid,
                    "query": ranking.query.text,
                    docs: r.candidate.docid,
                    "text": r.candidate.text,
                    "score": float(n - rank),
                    "rank": rank,
                }
            )
    out = pd.DataFrame(rows, columns=["qid", "query", docs, "text", "score", "rank"])
    if source is None or out.empty:
        return out
    extra = [c for c in source.columns if c not in out.columns]
    if not extra:
        return out
    keys = source[["qid", docs, *extra]].astype({"qid": str, docs: str})
    return out.merge(keys, on=["qid", docs], how="left", sort=False)


def rerank_dataframe(reranker: Any, df: pd.DataFrame) -> pd.DataFrame:
    """Rerank every query of ``df``: with ``reranker.rerank_many`` when the reranker has it
    (queries share batches), else one ``rerank`` per query."""
    pairs = requests_from_dataframe(df)
    many = getattr(reranker, "rerank_many", None)
    if callable(many):
        rankings = list(many(pairs))
    else:
        rankings = [reranker.rerank(q, cands) for q, cands in pairs]
    return rankings_to_dataframe(rankings, df)
