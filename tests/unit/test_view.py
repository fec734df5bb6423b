"""`listrank view`: the HTML report of an A/B folder, checked in a real browser.

The folder is the docs walk-through's A/B (icr and first against BM25 on 10 DL19 queries) on
the tiny random model; headless Chromium opens the written file, a script checks the rendered
DOM (rows, a query's detail, the trace's raw answers, no console errors) and a screenshot is
taken (kept under $LISTRANK_SCREENSHOTS when set). A synthetic 1,000-query folder on the fake
backend checks that the page stays paginated."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from listrank.cli import main
from listrank.evaluation.metrics import read_qrels
from tests.support import chromium
from tests.support.synthetic_ab import write_synthetic_ab
from tests.support.walkthrough import run_walkthrough

needs_chromium = pytest.mark.skipif(
    not chromium.available(), reason="needs Debian's chromium (make test installs it)"
)


@pytest.fixture(scope="module")
def walkthrough_ab(
    data_dir: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The docs walk-through's A/B folder, its commands run as written on the tiny model."""
    work = tmp_path_factory.mktemp("walkthrough")
    assert "ab icr.toml" in run_walkthrough(work, data_dir, tiny_model_dir)
    return work / "ab"


def _view(ab: Path, out: Path, *extra: str) -> str:
    assert main(["view", str(ab), "-o", str(out), *extra]) == 0
    return out.read_text(encoding="utf-8")


def _embedded(html: str) -> dict[str, Any]:
    m = re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S)
    assert m
    data: dict[str, Any] = json.loads(m.group(1))
    return data


def test_the_report_is_one_file_with_everything_embedded(walkthrough_ab: Path) -> None:
    html = _view(walkthrough_ab, walkthrough_ab / "report.html")
    # nothing is fetched: the policy allows no source, and no element points outside the file
    assert "default-src 'none'" in html
    for attr in re.findall(r'<(?:script|img|link|iframe)\b[^>]*\b(?:src|href)="([^"]*)"', html):
        assert attr.startswith("data:"), attr
    assert "<script src" not in html and "@import" not in html
    data = _embedded(html)
    assert data["systems"] == ["first-stage", "icr", "first"] and data["metric"] == "nDCG@10"
    assert len(data["queries"]) == 10
    report = json.loads((walkthrough_ab / "report.json").read_text())
    diffs = {c["system"]: c["diffs"] for c in report["comparisons"]}
    for q in data["queries"]:  # the page's differences are the A/B's
        for system in ("icr", "first"):
            assert q["diffs"][system] == pytest.approx(diffs[system][q["qid"]], abs=1e-6)
    qrels = read_qrels(report["qrels"])
    calls = [json.loads(x) for x in (walkthrough_ab / "calls.jsonl").read_text().splitlines()]
    for q in data["queries"]:
        assert q["grades"] == {d: g for d, g in qrels[q["qid"]].items() if d in q["from"]}
        answers = [c["raw_answer"] for c in calls if c["qid"] == q["qid"] and c["system"] == "icr"]
        assert [c["raw_answer"] for c in q["calls"]["icr"]] == answers


def _dom_report(page: chromium.Page) -> dict[str, Any]:
    report: dict[str, Any] = page.evaluate(
        """(() => {
        const rows = [...document.querySelectorAll('#queries tbody tr')];
        const cols = [...document.querySelectorAll('#columns .col')];
        return {
          ready: document.body.dataset.ready,
          rows: rows.map(r => r.dataset.qid),
          diffs: rows.map(r => r.cells[5].textContent),
          header: [...document.querySelectorAll('#queries thead th')].map(t => t.textContent),
          page: document.getElementById('page').textContent,
          figure: (document.getElementById('figure-img') || {}).naturalWidth || 0,
          systems: document.querySelectorAll('#systems tbody tr').length,
          selected: (document.querySelector('#queries tr.selected') || {dataset: {}}).dataset.qid,
          columns: cols.map(c => [c.dataset.system, c.querySelectorAll('.doc').length]),
          grades: document.querySelectorAll('#columns .grade').length,
          coloured: [...document.querySelectorAll('#columns .grade')]
            .filter(g => getComputedStyle(g).backgroundColor !== 'rgba(0, 0, 0, 0)').length,
          moves: document.querySelectorAll('#columns .move.up, #columns .move.down').length,
          answers: [...document.querySelectorAll('.calls pre.answer')].map(p => p.textContent),
          calls: [...document.querySelectorAll('.calls')].map(c => c.dataset.system),
        };
      })()"""
    )
    return report


def _screenshot(page: chromium.Page, path: Path) -> None:
    page.screenshot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
    keep = os.environ.get("LISTRANK_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)


@needs_chromium
def test_the_walkthrough_report_renders_in_chromium(walkthrough_ab: Path, tmp_path: Path) -> None:
    html_path = tmp_path / "report.html"
    data = _embedded(_view(walkthrough_ab, html_path))
    worst = min(data["queries"], key=lambda q: (q["diffs"]["icr"], q["qid"]))
    with chromium.browser_page() as page:
        page.open(html_path.as_uri())
        before = _dom_report(page)
        assert before["ready"] == "1" and before["systems"] == 3 and before["figure"] > 100
        assert len(before["rows"]) == 10 and before["page"] == "page 1 of 1"
        assert before["rows"][0] == worst["qid"]  # sorted by Δ icr, the largest loss first
        assert before["header"][5].startswith("Δ icr")
        # click the Δ icr header: the order turns round
        page.evaluate("document.querySelectorAll('#queries thead th')[5].click()")
        assert _dom_report(page)["rows"] == before["rows"][::-1]
        page.evaluate(f"document.querySelector('#queries tr[data-qid=\"{worst['qid']}\"]').click()")
        after = _dom_report(page)
        _screenshot(page, tmp_path / "view-walkthrough.png")
        assert not page.errors, page.errors
    assert after["selected"] == worst["qid"]
    assert after["columns"] == [["first-stage", 10], ["icr", 10], ["first", 10]]
    judged = sum(1 for s in data["systems"] for d in worst["tops"][s] if d in worst["grades"])
    assert after["coloured"] >= judged > 0  # every judged document shows its grade colour
    assert after["moves"] > 0  # the rerankers moved documents; arrows say how far
    assert after["calls"] == ["icr", "first"]
    icr = worst["calls"]["icr"][0]  # a score method: no text; the page shows its order
    assert after["answers"][0] == icr["raw_answer"] or (
        not icr["raw_answer"] and " > ".join(icr["ranked_docids"][:12]) in after["answers"][0]
    )


@needs_chromium
def test_a_thousand_queries_are_paginated(tmp_path: Path) -> None:
    ab = write_synthetic_ab(tmp_path, queries=1000, candidates=20)
    html_path = tmp_path / "big.html"
    data = _embedded(_view(ab, html_path))
    assert len(data["queries"]) == 1000
    with chromium.browser_page() as page:
        page.open(html_path.as_uri())
        first = _dom_report(page)
        assert len(first["rows"]) == 50 and first["page"] == "page 1 of 20"
        page.evaluate("document.getElementById('next').click()")
        second = _dom_report(page)
        assert len(second["rows"]) == 50 and second["page"] == "page 2 of 20"
        assert not set(first["rows"]) & set(second["rows"])
        page.evaluate(
            "(() => { const f = document.getElementById('filter'); f.value = 'q00999';"
            " f.dispatchEvent(new Event('input')); })()"
        )
        assert _dom_report(page)["rows"] == ["q00999"]
        assert page.evaluate("document.querySelectorAll('#columns .doc').length") == 0
        page.evaluate("document.querySelector('#queries tbody tr').click()")
        detail = _dom_report(page)
        assert detail["columns"] == [["first-stage", 10], ["by-grade", 10], ["backwards", 10]]
        q = next(q for q in data["queries"] if q["qid"] == "q00999")
        assert detail["calls"] == ["by-grade", "backwards"]
        # the model's own text, call by call, as the trace has it
        assert detail["answers"] == [
            c["raw_answer"] for s in ("by-grade", "backwards") for c in q["calls"][s]
        ]
        assert detail["answers"]
        assert not page.errors, page.errors


def test_a_single_run_is_compared_with_its_first_stage(
    walkthrough_ab: Path, tmp_path: Path
) -> None:
    report = json.loads((walkthrough_ab / "report.json").read_text())
    out = tmp_path / "run.html"
    argv = ["view", str(walkthrough_ab / "runs" / "icr.trec"), "-o", str(out)]
    argv += ["--input", report["input"], "--qrels", report["qrels"]]
    argv += ["--trace", str(walkthrough_ab / "calls.jsonl")]
    assert main(argv) == 0
    data = _embedded(out.read_text(encoding="utf-8"))
    assert data["systems"] == ["first-stage", "icr"] and data["baseline"] == "first-stage"
    ab_diffs = next(c["diffs"] for c in report["comparisons"] if c["system"] == "icr")
    for q in data["queries"]:
        assert q["diffs"]["icr"] == pytest.approx(ab_diffs[q["qid"]], abs=1e-6)
        assert len(q["calls"]["icr"]) == 1


def test_bad_sources_are_clear_errors(
    tmp_path: Path, walkthrough_ab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert main(["view", str(tmp_path / "nowhere"), "-o", str(out)]) == 2
    assert "neither an `ab --out` folder nor a run file" in capsys.readouterr().err
    run = walkthrough_ab / "runs" / "icr.trec"
    assert main(["view", str(run), "-o", str(out)]) == 2
    assert "needs --qrels" in capsys.readouterr().err
    old = tmp_path / "old-ab"
    shutil.copytree(walkthrough_ab, old)
    report = json.loads((old / "report.json").read_text())
    del report["qrels"]
    (old / "report.json").write_text(json.dumps(report))
    assert main(["view", str(old), "-o", str(out)]) == 2
    assert "pass --qrels FILE" in capsys.readouterr().err
    assert not out.exists()  # nothing half-written
