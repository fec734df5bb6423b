"""`listrank eval` must give exactly ir-measures' own numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listrank.cli import main
from listrank.errors import InputError
from listrank.evaluation.evaluate import evaluate_files, read_run

ir_measures = pytest.importorskip("ir_measures")
METRICS = ["nDCG@10", "RR@10", "R@100", "AP", "P@5"]


def _reference(run: Path, qrels: Path) -> dict[str, float]:
    measures = [ir_measures.parse_measure(m) for m in METRICS]
    agg = ir_measures.calc_aggregate(
        measures, ir_measures.read_trec_qrels(str(qrels)), ir_measures.read_trec_run(str(run))
    )
    return {str(m): float(v) for m, v in agg.items()}


def test_real_trec_run_matches_ir_measures(data_dir: Path) -> None:
    run = data_dir / "trec-dl-rank_llm-runs" / "BM25" / "trec_results_dl19.txt"
    qrels = data_dir / "trec-dl19-passage" / "qrels.dl19-passage.txt"
    ours = evaluate_files(run, qrels, METRICS)
    assert ours.means() == pytest.approx(_reference(run, qrels), abs=1e-12)
    assert ours.queries == 43
    assert ours.means()["nDCG@10"] == pytest.approx(0.5058, abs=5e-5)  # published BM25 figure


def _write_jsonl_and_trec(tmp_path: Path) -> tuple[Path, Path, Path]:
    qrels = tmp_path / "qrels.txt"
    qrels.write_text(
        "a 0 d1 2\na 0 d2 0\na 0 d3 1\nb 0 e1 1\nb 0 e4 3\nc 0 x 1\n", encoding="utf-8"
    )
    records = [
        {
            "qid": "a",
            "query": "qa",
            "candidates": [{"docid": d, "score": 0.0} for d in ["d3", "d2", "d1", "d9"]],
        },
        {
            "query": {"qid": "b", "text": "qb"},
            "candidates": [{"docid": d, "score": 1.0} for d in ["e4", "e2", "e1"]],
        },
        {"qid": "z", "query": "unjudged", "candidates": [{"docid": "y"}]},
    ]
    jsonl = tmp_path / "out.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    # the same ranking as a TREC run with rank-derived scores
    trec = tmp_path / "out.trec"
    lines = []
    for r in records:
        qid = r.get("qid") or r["query"]["qid"]  # type: ignore[union-attr,index]
        for rank, c in enumerate(r["candidates"], start=1):  # type: ignore[arg-type]
            lines.append(f"{qid} Q0 {c['docid']} {rank} {100 - rank} t\n")
    trec.write_text("".join(lines), encoding="utf-8")
    return jsonl, trec, qrels


def test_jsonl_output_is_read_in_stored_order(tmp_path: Path) -> None:
    jsonl, trec, qrels = _write_jsonl_and_trec(tmp_path)
    run = read_run(jsonl)
    assert list(run["a"]) == ["d3", "d2", "d1", "d9"]
    assert run["a"]["d3"] > run["a"]["d2"] > run["a"]["d1"]
    ours = evaluate_files(jsonl, qrels, METRICS)
    assert ours.means() == pytest.approx(_reference(trec, qrels), abs=1e-12)
    assert ours.unjudged_queries == ("z",)
    assert ours.unanswered_queries == ("c",)
    assert ours.queries == 3  # "c" is judged but not in the run: it counts 0, as in ir-measures
    assert ours.per_query["nDCG@10"]["c"] == 0.0
    skipped = evaluate_files(jsonl, qrels, METRICS, skip_unanswered=True)
    assert skipped.queries == 2
    assert skipped.means()["nDCG@10"] == pytest.approx(ours.means()["nDCG@10"] * 3 / 2)


def test_cli_prints_the_same_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonl, trec, qrels = _write_jsonl_and_trec(tmp_path)
    code = main(
        ["eval", str(jsonl), "--qrels", str(qrels), "--metrics", *METRICS, "--json", "--per-query"]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["means"] == pytest.approx(_reference(trec, qrels), abs=1e-12)
    assert set(out["per_query"]["nDCG@10"]) == {"a", "b", "c"}
    assert out["missing_judged_queries"] == ["c"]
    assert main(["eval", str(trec), "--qrels", str(qrels), "--metrics", "nDCG@10"]) == 0
    table = capsys.readouterr().out
    assert f"{_reference(trec, qrels)['nDCG@10']:.4f}" in table


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("q Q0 d 1\n", "6 columns"),
        ('{"qid": "a", "candidates": [{"text": "no id"}]}\n', "missing docid"),
        ('{"qid": "a"}\n', "candidates list"),
    ],
)
def test_bad_runs_are_input_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.run"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_run(path)


def test_unknown_metric_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl, _, qrels = _write_jsonl_and_trec(tmp_path)
    assert main(["eval", str(jsonl), "--qrels", str(qrels), "--metrics", "nDCG@@10"]) == 2
    assert "unknown metric" in capsys.readouterr().err
