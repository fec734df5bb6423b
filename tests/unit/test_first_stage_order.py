"""A TREC run's first-stage order is its ranks (then scores, then file order) in every command,
non-finite scores and absurd relevance grades are refused at the door, and a template cannot
hide or clip what the model must see with a format spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from listrank.cli import main
from listrank.errors import InputError, TemplateError
from listrank.evaluation.evaluate import evaluate_files, read_run
from listrank.evaluation.metrics import read_qrels
from listrank.prompting.templates import PromptTemplate
from listrank.runs.formats import read_trec_with_corpus
from listrank.runs.io import read_trec_run
from tests.support import scripted


@pytest.fixture(autouse=True)
def _scripted_backend() -> Iterator[None]:
    with scripted.registered():
        yield


# rank 1..5 written worst-first, with scores that agree with the ranks
SHUFFLED = [
    "q1 Q0 d5 5 1.0 bm25",
    "q1 Q0 d3 3 3.0 bm25",
    "q1 Q0 d1 1 5.0 bm25",
    "q1 Q0 d4 4 2.0 bm25",
    "q1 Q0 d2 2 4.0 bm25",
]


def _files(tmp: Path, lines: list[str]) -> tuple[Path, Path, Path]:
    run, corpus, topics = tmp / "run.trec", tmp / "corpus.tsv", tmp / "topics.tsv"
    run.write_text("\n".join(lines) + "\n")
    corpus.write_text("".join(f"d{i}\tpassage {i}\n" for i in range(1, 6)))
    topics.write_text("q1\ta query\n")
    return run, corpus, topics


def test_rank_then_score_then_file_order(tmp_path: Path) -> None:
    run, corpus, topics = _files(tmp_path, SHUFFLED)
    assert [d for d, _ in read_trec_run(run)["q1"]] == ["d1", "d2", "d3", "d4", "d5"]
    (req,) = read_trec_with_corpus(run, corpus, topics)
    assert [c.docid for c in req.candidates] == ["d1", "d2", "d3", "d4", "d5"]
    # equal ranks (a tool that writes 0 everywhere): score decides, then file order
    tied = ["q1 Q0 a 0 1.0 x", "q1 Q0 b 0 3.0 x", "q1 Q0 c 0 3.0 x", "q1 Q0 d 0 2.0 x"]
    run.write_text("\n".join(tied) + "\n")
    assert [d for d, _ in read_trec_run(run)["q1"]] == ["b", "c", "d", "a"]


def test_eval_scores_the_same_order_as_rerank_reads(tmp_path: Path) -> None:
    run, _, _ = _files(tmp_path, SHUFFLED)
    # scores disagree with ranks: the rank order is the ranking, in eval as in rerank
    disagree = [line.rsplit(" ", 2)[0] + " 0.0 bm25" for line in SHUFFLED]
    other = tmp_path / "flat-scores.trec"
    other.write_text("\n".join(disagree) + "\n")
    order = read_run(other)["q1"]
    assert sorted(order, key=order.__getitem__, reverse=True) == ["d1", "d2", "d3", "d4", "d5"]
    qrels = tmp_path / "qrels"
    qrels.write_text("q1 0 d1 1\nq1 0 d5 0\n")
    a = evaluate_files(run, qrels, ["RR@10"]).means()
    b = evaluate_files(other, qrels, ["RR@10"]).means()
    assert a == b == {"RR@10": 1.0}


def test_top_k_candidates_keeps_the_best_ranked(tmp_path: Path) -> None:
    run, corpus, topics = _files(tmp_path, SHUFFLED)
    out = tmp_path / "out.jsonl"
    args = ["rerank", str(run), "--corpus", str(corpus), "--topics", str(topics), "-o", str(out)]
    assert main([*args, "--backend", "scripted", "--top-k-candidates", "2", "--no-progress"]) == 0
    docids = [c["docid"] for c in json.loads(out.read_text())["candidates"]]
    assert sorted(docids[:2]) == ["d1", "d2"] and docids[2:] == ["d3", "d4", "d5"]


@pytest.mark.parametrize("score", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_scores_are_refused(tmp_path: Path, score: str) -> None:
    run, _, _ = _files(tmp_path, [*SHUFFLED[:4], f"q1 Q0 d2 2 {score} bm25"])
    with pytest.raises(InputError, match=r"line 5.*finite|finite.*line 5"):
        read_trec_run(run)


def test_a_non_integer_rank_is_refused(tmp_path: Path) -> None:
    run, _, _ = _files(tmp_path, ["q1 Q0 d1 first 1.0 bm25"])
    with pytest.raises(InputError, match="rank"):
        read_trec_run(run)


@pytest.mark.parametrize("grade", [2**31, 2**32, -(2**31), 10**6])
def test_out_of_range_grades_are_refused(tmp_path: Path, grade: int) -> None:
    qrels = tmp_path / "qrels"
    qrels.write_text(f"q1 0 d1 1\nq1 0 d2 {grade}\n")
    with pytest.raises(InputError, match="line 2"):
        read_qrels(qrels)


def test_eval_cli_refuses_a_nan_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, _, _ = _files(tmp_path, [*SHUFFLED[:4], "q1 Q0 d2 2 nan bm25"])
    qrels = tmp_path / "qrels"
    qrels.write_text("q1 0 d1 1\n")
    assert main(["eval", str(run), "--qrels", str(qrels)]) == 2
    assert "finite" in capsys.readouterr().err


BASE_TEMPLATE = {
    "messages": [{"role": "user", "content": "Query: {query}\n{passages}"}],
}


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("messages", "Query: {query:.0}\n{passages}"),
        ("messages", "Query: {query!r}\n{passages}"),
        ("messages", "Query: {query}\n{passages:.10}"),
        ("messages", "Query: {query:>9999}\n{passages}"),
        ("messages", "Query: {query}\n{passages} ({num:x})"),
        ("passage", "[{id}] {passage:.0}"),
        ("passage", "[{id!a}] {passage}"),
    ],
)
def test_format_specs_and_conversions_are_refused(where: str, text: str) -> None:
    data = json.loads(json.dumps(BASE_TEMPLATE))
    if where == "messages":
        data["messages"][0]["content"] = text
    else:
        data["passage"] = text
    with pytest.raises(TemplateError, match="format spec or conversion"):
        PromptTemplate.from_dict(data, "t.toml")
