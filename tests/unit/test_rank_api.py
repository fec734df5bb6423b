"""rerankers' habits: Reranker.rank(query, docs) returns an iterable, indexable result with
top_k, docids, text, new rank and the model's own score; --keep-scores picks what an output's
score holds; a model name given as the backend gets the hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listrank import Reranker
from listrank.backends.fake import FakeBackend
from listrank.cli import main
from listrank.errors import UnknownComponentError
from listrank.runs.io import parse_request, result_record

DOCS = ["about cats", "about dogs barking at night", "about the stock market", "dogs again"]
LOGITS = {"A": -2.0, "B": -0.5, "C": -3.0, "D": -1.0}


def first_reranker() -> Reranker:
    fake = FakeBackend(logprob_responder=lambda r: {t: LOGITS[t] for t in r.tokens})
    return Reranker(fake, method="first", strategy="single")


def test_rank_is_iterable_indexable_and_carries_the_model_scores() -> None:
    results = first_reranker().rank("dogs", DOCS, doc_ids=["c", "d", "s", "d2"])
    assert results.docids == ["d", "d2", "c", "s"]
    assert [r.rank for r in results] == [1, 2, 3, 4] and len(results) == 4
    best = results[0]
    assert (best.docid, best.text, best.score, best.first_stage_rank) == (
        "d",
        "about dogs barking at night",
        -0.5,
        2,
    )
    assert [r.docid for r in results.top_k(2)] == ["d", "d2"]
    assert results.get("s").score == -3.0 and results.has_scores
    with pytest.raises(KeyError, match="'nope'"):
        results.get("nope")


def test_a_permutation_method_says_it_has_no_scores() -> None:
    fake = FakeBackend()
    fake.enqueue(["[3] > [1] > [2]"])
    results = Reranker(fake, method="rankgpt", strategy="single").rank("q", DOCS[:3])
    assert results.docids == ["2", "0", "1"]
    assert all(r.score is None for r in results) and not results.has_scores
    assert "produces an order, not scores" in results.scores_note


def test_doc_ids_must_match_the_docs() -> None:
    with pytest.raises(Exception, match="2 ids for 4 docs"):
        first_reranker().rank("q", DOCS, doc_ids=["a", "b"])


def test_a_model_name_given_as_the_backend_gets_the_hint() -> None:
    with pytest.raises(UnknownComponentError) as err:
        Reranker("gpt-4o-mini")
    assert "did you mean model='gpt-4o-mini'? (the first argument is the backend" in str(err.value)
    with pytest.raises(UnknownComponentError) as typo:
        Reranker("opnai")
    assert "did you mean 'openai'?" in str(typo.value) and "model=" not in str(typo.value)


def test_keep_scores_chooses_rank_model_or_first_stage() -> None:
    request = parse_request(
        {
            "qid": "1",
            "query": "dogs",
            "candidates": [
                {"docid": d, "text": t, "score": 10.0 - i}
                for i, (d, t) in enumerate(zip("abcd", DOCS, strict=True))
            ],
        }
    )
    ranking = first_reranker().rerank(request.query, request.candidates)

    def scores(keep: str) -> dict[str, float | None]:
        out = result_record(request, ranking, keep)["candidates"]
        return {c["docid"]: c["score"] for c in out}

    assert list(scores("rank")) == ["b", "d", "a", "c"]
    assert list(scores("rank").values()) == sorted(scores("rank").values(), reverse=True)
    assert scores("model") == {"b": -0.5, "d": -1.0, "a": -2.0, "c": -3.0}
    assert scores("first-stage") == {"b": 9.0, "d": 7.0, "a": 10.0, "c": 8.0}


def test_cli_keep_scores_model_writes_icr_attention_scores(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    cands = [{"docid": f"d{i}", "text": f"passage {i}", "score": 1.0} for i in range(4)]
    src.write_text(json.dumps({"qid": "1", "query": "q", "candidates": cands}) + "\n")
    args = ["rerank", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--no-progress"]
    assert main([*args, "--method", "icr", "--keep-scores", "model"]) == 0
    scores = [c["score"] for c in json.loads(out.read_text())["candidates"]]
    assert all(isinstance(s, float) for s in scores) and scores == sorted(scores, reverse=True)
    assert main([*args, "--format", "trec", "--keep-scores", "model"]) == 2
