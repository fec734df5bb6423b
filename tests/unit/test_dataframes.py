"""DataFrames in and out (listrank.runs.dataframes) and the PyTerrier transformer, on the
tiny random model (real transformers calls) and, for the orchestration checks, a fake one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from listrank import InputError, Reranker
from listrank.backends.fake import FakeBackend
from listrank.runs.dataframes import (
    rankings_to_dataframe,
    requests_from_dataframe,
    rerank_dataframe,
)
from listrank.types import Candidate, Query, Ranking

pd = pytest.importorskip("pandas")


def frame(docs: str = "docno") -> Any:
    rows = []
    for qid, query, n in (("q1", "what causes tides", 3), ("q2", "honeybee dance", 2)):
        for i in range(n):
            rows.append(
                {
                    "qid": qid,
                    "query": query,
                    docs: f"{qid}-d{i}",
                    "text": f"passage {i} about {query}",
                    "score": float(10 - i),
                    "extra": f"x{i}",
                }
            )
    return pd.DataFrame(rows)


def reverse_backend() -> FakeBackend:
    """Answers every block with its reverse order (so the result differs from the input)."""

    def respond(request: Any) -> str:
        n = sum(1 for m in request.messages if m["content"].startswith("["))
        return " > ".join(f"[{i}]" for i in range(n, 0, -1))

    return FakeBackend(responder=respond)


def test_requests_follow_the_first_stage_order_and_validate_columns() -> None:
    df = frame().sample(frac=1.0, random_state=0)  # rows shuffled: score decides the order
    pairs = requests_from_dataframe(df)
    assert {q.qid for q, _ in pairs} == {"q1", "q2"}
    by_qid = {q.qid: [c.docid for c in cands] for q, cands in pairs}
    assert by_qid == {"q1": ["q1-d0", "q1-d1", "q1-d2"], "q2": ["q2-d0", "q2-d1"]}
    ranked = frame().assign(rank=[2, 1, 0, 0, 1])  # rank wins over score
    assert [c.docid for c in requests_from_dataframe(ranked)[0][1]] == ["q1-d2", "q1-d1", "q1-d0"]
    with pytest.raises(InputError, match=r"lacks column.*text"):
        requests_from_dataframe(frame().drop(columns=["text"]))
    with pytest.raises(InputError, match="no document id column: expected one of docno, docid"):
        requests_from_dataframe(frame().drop(columns=["docno"]))
    bad = frame()
    bad.loc[1, "query"] = "another query"
    with pytest.raises(InputError, match="qid 'q1': every row of a query needs the same query"):
        requests_from_dataframe(bad)


def test_rerank_dataframe_returns_score_and_rank_and_keeps_columns() -> None:
    reranker = Reranker(backend=reverse_backend(), strategy="single")
    out = rerank_dataframe(reranker, frame("docid"))
    assert list(out.columns) == ["qid", "query", "docid", "text", "score", "rank", "extra"]
    q1 = out[out.qid == "q1"]
    assert list(q1.docid) == ["q1-d2", "q1-d1", "q1-d0"]  # the fake judge reversed them
    assert list(q1["rank"]) == [0, 1, 2] and list(q1.score) == [3.0, 2.0, 1.0]
    assert list(q1.extra) == ["x2", "x1", "x0"]  # other columns follow their rows
    assert len(out) == 5 and set(out.qid) == {"q1", "q2"}


def test_reranker_rerank_many_takes_and_returns_a_dataframe() -> None:
    reranker = Reranker(backend=reverse_backend(), strategy="single")
    out = reranker.rerank_many(frame("docid"), max_in_flight=2)
    expected = rerank_dataframe(
        Reranker(backend=reverse_backend(), strategy="single"), frame("docid")
    )
    assert isinstance(out, pd.DataFrame)
    pd.testing.assert_frame_equal(out, expected)
    assert list(out[out.qid == "q2"].docid) == ["q2-d1", "q2-d0"]


def test_rerank_many_is_used_when_the_reranker_has_it() -> None:
    class Many:
        def __init__(self) -> None:
            self.batches: list[int] = []

        def rerank_many(self, pairs: Sequence[tuple[Query, list[Candidate]]]) -> list[Ranking]:
            self.batches.append(len(pairs))
            return [Ranking(q, ()) for q, _ in pairs]

        def rerank(self, *args: Any) -> Ranking:
            raise AssertionError("rerank_many should have been used")

    many = Many()
    out = rerank_dataframe(many, frame())
    assert many.batches == [2] and out.empty


def test_rankings_to_dataframe_without_a_source() -> None:
    ranking = Reranker(backend=reverse_backend(), strategy="single").rerank(
        Query("q", "7"), [Candidate("a", "x"), Candidate("b", "y")]
    )
    out = rankings_to_dataframe([ranking])
    assert list(out.itertuples(index=False, name=None)) == [
        ("7", "q", "b", "y", 2.0, 0),
        ("7", "q", "a", "x", 1.0, 1),
    ]


def test_pyterrier_pipeline_with_the_tiny_model(tiny_hf: Any) -> None:
    pt = pytest.importorskip("pyterrier")
    from listrank.integrations.pyterrier import ListrankTransformer

    first_stage = pt.Transformer.from_df(frame())
    stage = ListrankTransformer(Reranker(backend=tiny_hf, method="icr", strategy="single"))
    pipeline = first_stage >> stage
    out = pipeline(pd.DataFrame([{"qid": "q1", "query": "what causes tides"}]))
    assert set(out.qid) == {"q1"} and sorted(out.docno) == ["q1-d0", "q1-d1", "q1-d2"]
    assert list(out["rank"]) == [0, 1, 2] and list(out.score) == [3.0, 2.0, 1.0]
    empty = stage(pd.DataFrame(columns=["qid", "query", "docno", "text"]))
    assert empty.empty and {"score", "rank"} <= set(empty.columns)
    with pytest.raises(Exception, match="not both"):
        ListrankTransformer(Reranker(backend=tiny_hf), window=3)
