"""The docs' walk-through (docs/walkthrough.md: from `make demo` to an A/B against the first
stage), command by command as written there, on the tiny random model and 10 DL19 queries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.walkthrough import run_walkthrough


def test_docs_walkthrough_runs_on_the_tiny_model(
    tmp_path: Path,
    data_dir: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran = run_walkthrough(tmp_path, data_dir, tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    assert ran == [
        "datasets get",
        "config show",
        "config show",
        "config check",
        "config check",
        "ab icr.toml",
        "view ab",
    ]
    report = json.loads(Path("ab/report.json").read_text())
    assert report["systems"] == ["first-stage", "icr", "first"]
    assert report["baseline"] == "first-stage" and report["queries"] == 10
    assert len(Path("dl19-10.jsonl").read_text().splitlines()) == 10  # datasets get --head 10
    assert len(Path("dl19-10.jsonl").read_text().splitlines()) == 10
    assert {(c["metric"], c["system"]) for c in report["comparisons"]} == {
        ("nDCG@10", "icr"),
        ("nDCG@10", "first"),
    }
    assert all(len(c["diffs"]) == 10 for c in report["comparisons"])
    first_stage = report["seed_means"]["first-stage"]["nDCG@10"][0]
    assert 0.3 < first_stage < 0.8  # BM25's own order on these 10 queries
    assert Path("ab/differences.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    calls = [json.loads(x) for x in Path("ab/calls.jsonl").read_text().splitlines()]
    assert len(calls) == 20 and {c["system"] for c in calls} == {"icr", "first"}
    assert sorted(p.name for p in Path("ab/runs").iterdir()) == [
        "first-stage.trec",
        "first.trec",
        "icr.trec",
    ]
    html = Path("ab/report.html").read_text(encoding="utf-8")
    assert '<script id="data" type="application/json">' in html and "1129237" in html
