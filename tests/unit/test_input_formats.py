"""Inputs people already have: rank_llm's retrieve_results JSON array, a TREC run with a corpus
and topics; --top-k-candidates reranks the head and keeps the tail in input order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listrank.backends.fake import FakeBackend
from listrank.cli import main
from listrank.errors import ConfigError, InputError
from listrank.pipeline.reranker import Reranker
from listrank.runs.formats import read_corpus, read_retrieve_results, read_trec_with_corpus
from listrank.runs.io import read_requests

# the shared test collections beside the repository (as tests/conftest.py finds them)
DL19 = (
    Path(__file__).resolve().parents[3]
    / "shared/data/trec-dl-rank_llm-runs/BM25/retrieve_results_dl19.json"
)


def retrieve_results(tmp_path: Path, queries: int = 2, hits: int = 5) -> Path:
    data = [
        {
            "query": f"query {q}",
            "hits": [
                {
                    "content": f"passage {q}-{h}",
                    "qid": 100 + q,
                    "docid": f"d{q}-{h}",
                    "rank": h + 1,
                    "score": 10.0 - h,
                }
                for h in range(hits)
            ],
        }
        for q in range(queries)
    ]
    path = tmp_path / "retrieve_results_x.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_retrieve_results_array_is_read_directly(tmp_path: Path) -> None:
    path = retrieve_results(tmp_path)
    requests = read_requests(path)  # the JSONL reader recognises the array
    assert [r.query.qid for r in requests] == ["100", "101"]
    assert requests[0].query.text == "query 0"
    assert [c.docid for c in requests[1].candidates] == [f"d1-{h}" for h in range(5)]
    assert requests[0].candidates[2].text == "passage 0-2"
    assert requests[0].candidates[0].score == 10.0


@pytest.mark.skipif(not DL19.exists(), reason="shared DL19 run not available")
def test_real_dl19_bm25_run_reads() -> None:
    requests = read_retrieve_results(DL19)
    assert len(requests) == 43 and all(len(r.candidates) == 100 for r in requests)


def test_broken_json_array_is_named_not_called_bad_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('[\n  {"query": "q", "hits": [\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"JSON array .*rank_llm retrieve_results"):
        read_requests(path)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[{"query": "q", "hits": [{"content": "x", "score": NaN}]}]', "NaN"),
        ("[" * 1000 + "]" * 1000, "nested too deeply"),
        ('[{"query": "q \\ud800", "hits": []}]', "surrogate"),
    ],
)
def test_json_array_passes_the_same_input_door(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"JSON array .*rank_llm retrieve_results") as err:
        read_requests(path)
    assert words in str(err.value)


def test_corpus_jsonl_passes_the_same_input_door(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"docid": "a", "text": "x"}\n' + "[" * 1000 + "]" * 1000 + "\n")
    with pytest.raises(InputError, match=r"corpus.jsonl: line 2: JSON nested too deeply"):
        read_corpus(corpus)


def test_bad_hit_names_query_and_field(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps([{"query": "q", "hits": [{"qid": 1, "docid": "a"}]}]))
    with pytest.raises(InputError, match=r"query 1 .*hits\[0\]\.content"):
        read_requests(path)


def test_trec_run_with_tsv_and_jsonl_corpus(tmp_path: Path) -> None:
    run = tmp_path / "run.txt"
    run.write_text("q1 Q0 b 1 3.0 bm25\nq1 Q0 a 2 2.0 bm25\nq2 Q0 c 1 1.0 bm25\n")
    topics = tmp_path / "topics.tsv"
    topics.write_text("q1\tfirst query\nq2\tsecond query\n")
    tsv = tmp_path / "corpus.tsv"
    tsv.write_text("a\ttext a\nb\ttext b\nc\ttext c\n")
    jsonl = tmp_path / "corpus.jsonl"
    jsonl.write_text(
        "\n".join(json.dumps({"_id": d, "title": "T", "text": f"text {d}"}) for d in "abc") + "\n"
    )
    for corpus in (tsv, jsonl):
        requests = read_trec_with_corpus(run, corpus, topics)
        assert [r.query.text for r in requests] == ["first query", "second query"]
        assert [c.docid for c in requests[0].candidates] == ["b", "a"]
    assert read_corpus(tsv)["b"] == "text b" and read_corpus(jsonl)["b"] == "T: text b"
    missing = tmp_path / "small.tsv"
    missing.write_text("a\ttext a\n")
    with pytest.raises(InputError, match="not in the corpus"):
        read_trec_with_corpus(run, missing, topics)


def test_top_k_candidates_reranks_the_head_and_keeps_the_tail_in_input_order() -> None:
    backend = FakeBackend(responder=lambda _: "[3] > [2] > [1]")
    reranker = Reranker(backend=backend, strategy="single", top_k_candidates=3)
    cands = [f"passage {i}" for i in range(6)]
    ranking = reranker.rerank("q", cands)
    assert ranking.docids == ["2", "1", "0", "3", "4", "5"]
    scores = [r.score for r in ranking.ranked]
    assert scores == sorted(scores, reverse=True)
    assert reranker.plan(6).n == 3
    with pytest.raises(ConfigError):
        Reranker(backend=FakeBackend(), top_k_candidates=0)


def test_cli_rerank_reads_retrieve_results_with_top_k(tmp_path: Path) -> None:
    src = retrieve_results(tmp_path, queries=2, hits=6)
    out = tmp_path / "out.jsonl"
    pytest.importorskip("openai")
    from tests.support.fake_openai import FakeOpenAIServer

    with FakeOpenAIServer() as srv:
        code = main(
            [
                "rerank",
                str(src),
                "-o",
                str(out),
                "--backend",
                "openai",
                "--model",
                "local-model",
                "-O",
                f"base_url={srv.url}",
                "-O",
                "api_key=sk-test",
                "--preset",
                "rank_zephyr",
                "--top-k-candidates",
                "4",
                "--no-progress",
            ]
        )
        prompts = [s.body["messages"][1]["content"] for s in srv.requests]
    assert code == 0
    # both queries are in flight at once: find query 0's prompt, whichever arrived first
    first = next(p for p in prompts if "Search Query: query 0." in p)
    assert len(prompts) == 2 and "e.g., [2] > [1], Only respond" in first
    assert "[4] passage 0-3\nSearch Query: query 0." in first
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["query"]["qid"] for x in lines] == ["100", "101"]
    docids = [c["docid"] for c in lines[0]["candidates"]]
    # the fake server ranks in reverse: the head is reversed, the tail keeps its order
    assert docids == ["d0-3", "d0-2", "d0-1", "d0-0", "d0-4", "d0-5"]
    assert read_requests(out)[0].candidates[0].text.startswith("passage 0-")  # reads back
