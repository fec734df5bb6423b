"""`listrank view`: one self-contained HTML page that shows, query by query, where systems
disagree.

The page (``view_page.html``, plain CSS and JavaScript, no network: its Content-Security-Policy
allows nothing to be fetched) gets everything embedded: a per-query table of metric values and
differences to the baseline, and per query each system's top k side by side with qrels grades
as colour, how far each document moved from the first stage, and the model's raw answers and
repairs per call from the trace. The A/B figure is embedded as a data URL. Rows and details are
rendered page by page and on demand, so a report of thousands of queries opens at once.

Sources: an ``ab --out`` folder (report.json, runs/*.trec, the trace and figure), or one run
(TREC or result JSONL) with its input, qrels and trace.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from listrank.errors import InputError
from listrank.evaluation.ab import FIRST_STAGE
from listrank.evaluation.metrics import Qrels, per_query, read_qrels
from listrank.runs import safe_json
from listrank.runs.io import atomic_writer, iter_lines, read_requests, read_trec_run

PAGE = Path(__file__).with_name("view_page.html")
SNIPPET_CHARS = 220
"""Passage text kept per shown document: enough to recognise it, small enough for 1,000+
queries in one file."""
ANSWER_CHARS = 2000
DEFAULT_TOP_K = 10

Ranked = dict[str, list[str]]
"""qid -> docids best first."""


@dataclass
class ViewSource:
    """What the page is built from, read and checked before anything is written."""

    title: str
    systems: list[str]
    rankings: dict[str, Ranked]
    qrels: Qrels
    metric: str
    baseline: str
    queries: dict[str, str] = field(default_factory=dict)
    """qid -> query text (from the input, when known)."""
    texts: dict[str, str] = field(default_factory=dict)
    """docid -> passage text (from the input, when known)."""
    first_stage: Ranked | None = None
    trace: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    """system -> qid -> calls."""
    figure_png: bytes | None = None
    report: dict[str, Any] | None = None


def _ranked_from_trec(path: Path) -> Ranked:
    return {qid: [d for d, _ in pairs] for qid, pairs in read_trec_run(path).items()}


def _read_run(path: Path) -> Ranked:
    """A TREC run, or result JSONL (the request form, candidates best first)."""
    try:
        return _ranked_from_trec(path)
    except InputError:
        return {r.query.qid: [c.docid for c in r.candidates] for r in read_requests(path)}


_KEPT: tuple[str, ...] = ("stage", "block", "method", "raw_answer", "repairs", "repaired")
_KEPT += ("prompt_tokens", "completion_tokens", "latency_s", "cached", "error", "ranked_docids")


def read_trace(
    path: Path, *, default_system: str, seed: Any = None
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """system -> qid -> calls (only what the page shows; prompts are left out), one seed."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for number, text in iter_lines(path):
        try:
            line = safe_json.loads(text)
        except InputError as exc:
            raise InputError(f"{path}: line {number} is not JSON: {exc}") from None
        if not isinstance(line, dict) or "qid" not in line:
            raise InputError(f"{path}: line {number} is not a trace line (no qid)")
        if line.get("seed") != seed:
            continue
        call = {k: line.get(k) for k in _KEPT}
        answer = call["raw_answer"]
        if isinstance(answer, str) and len(answer) > ANSWER_CHARS:
            call["raw_answer"] = answer[:ANSWER_CHARS] + " …"
        system = str(line.get("system", default_system))
        out.setdefault(system, {}).setdefault(str(line["qid"]), []).append(call)
    return out


def _inputs(source: ViewSource, input_path: Path | None) -> None:
    if input_path is None:
        return
    requests = read_requests(input_path)
    source.queries = {r.query.qid: r.query.text for r in requests}
    source.texts = {c.docid: c.text for r in requests for c in r.candidates}
    source.first_stage = {r.query.qid: [c.docid for c in r.candidates] for r in requests}


def _given(path: str | Path | None, folder: Path) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    return p if p.is_absolute() or p.exists() else folder / p


def from_ab_folder(
    folder: Path,
    *,
    qrels: str | Path | None = None,
    input_path: str | Path | None = None,
    trace: str | Path | None = None,
    metric: str | None = None,
) -> ViewSource:
    """An ``ab --out`` folder; qrels, input and trace default to the paths its report.json
    records (and ``calls.jsonl`` in the folder for the trace)."""
    report_path = folder / "report.json"
    try:
        report = safe_json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {report_path}: {exc}") from exc
    if not isinstance(report, dict) or "systems" not in report:
        raise InputError(f"{report_path} is not an `ab` report (no 'systems')")
    systems = [str(s) for s in report["systems"]]
    seeds = report.get("seeds") or [None]
    seed = seeds[0]
    suffix = "" if seed is None else f".seed{seed}"
    rankings = {}
    for name in systems:
        run = folder / "runs" / f"{name.replace('/', '_')}{suffix}.trec"
        if not run.exists():
            raise InputError(f"{run} is missing: the folder's runs do not match report.json")
        rankings[name] = _ranked_from_trec(run)
    qrels_path = _given(qrels, folder) or _given(report.get("qrels"), folder)
    if qrels_path is None:
        raise InputError(
            f"{report_path} does not say which qrels it was judged with: pass --qrels FILE"
        )
    metrics = [str(m) for m in report.get("metrics", [])] or ["nDCG@10"]
    source = ViewSource(
        title=f"A/B: {', '.join(systems)}",
        systems=systems,
        rankings=rankings,
        qrels=read_qrels(qrels_path),
        metric=metric or metrics[0],
        baseline=str(report.get("baseline", systems[0])),
        report=report,
    )
    _inputs(source, _given(input_path, folder) or _given(report.get("input"), folder))
    if source.first_stage is None and FIRST_STAGE in rankings:
        source.first_stage = rankings[FIRST_STAGE]
    trace_path = _given(trace, folder) or _given(report.get("trace"), folder)
    if trace_path is None and (folder / "calls.jsonl").exists():
        trace_path = folder / "calls.jsonl"
    if trace_path is not None:
        source.trace = read_trace(trace_path, default_system=systems[-1], seed=seed)
    figure = folder / "differences.png"
    if figure.exists():
        source.figure_png = figure.read_bytes()
    return source


def from_run(
    run_path: Path,
    *,
    qrels: str | Path | None,
    input_path: str | Path | None,
    trace: str | Path | None = None,
    metric: str | None = None,
) -> ViewSource:
    """One run compared with its first stage (the input order), which is the baseline."""
    if qrels is None or input_path is None:
        raise InputError(
            "viewing a single run needs --qrels (the judgements) and --input (its first stage)"
        )
    name = run_path.stem
    source = ViewSource(
        title=f"run {name} against its first stage",
        systems=[FIRST_STAGE, name],
        rankings={name: _read_run(run_path)},
        qrels=read_qrels(qrels),
        metric=metric or "nDCG@10",
        baseline=FIRST_STAGE,
    )
    _inputs(source, Path(input_path))
    assert source.first_stage is not None
    source.rankings = {FIRST_STAGE: source.first_stage, **source.rankings}
    if trace is not None:
        source.trace = read_trace(Path(trace), default_system=name)
    return source


def _run_scores(ranked: Ranked) -> dict[str, dict[str, float]]:
    return {q: {d: float(len(ds) - i) for i, d in enumerate(ds)} for q, ds in ranked.items()}


def _finite(x: float) -> float | None:
    return round(x, 6) if math.isfinite(x) else None


def _calls_summary(calls: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {
        "calls": len(calls),
        "repaired": sum(1 for c in calls if c.get("repaired")),
        "errors": sum(1 for c in calls if c.get("error")),
    }


def page_data(source: ViewSource, *, top_k: int = DEFAULT_TOP_K) -> dict[str, Any]:
    """Everything the page shows, as one JSON-ready dict."""
    if top_k < 1:
        raise InputError(f"--top-k must be >= 1, got {top_k}")
    values = {
        s: per_query(_run_scores(r), source.qrels, [source.metric]).get(source.metric, {})
        for s, r in source.rankings.items()
    }
    judged = sorted(set().union(*(set(v) for v in values.values())))
    if not judged:
        raise InputError("no query of the runs has qrels: nothing to show")
    base = values[source.baseline]
    others = [s for s in source.systems if s != source.baseline]
    first = source.first_stage or source.rankings[source.baseline]
    texts: dict[str, str] = {}
    queries = []
    for qid in judged:
        tops = {s: source.rankings[s].get(qid, [])[:top_k] for s in source.systems}
        first_rank = {d: i for i, d in enumerate(first.get(qid, []))}
        grades = source.qrels.get(qid, {})
        shown = {d for ds in tops.values() for d in ds}
        for d in shown:
            if d in source.texts and d not in texts:
                texts[d] = source.texts[d][:SNIPPET_CHARS]
        calls = {s: source.trace.get(s, {}).get(qid, []) for s in source.systems}
        queries.append(
            {
                "qid": qid,
                "text": source.queries.get(qid, ""),
                "values": {s: _finite(values[s].get(qid, math.nan)) for s in source.systems},
                "diffs": {
                    s: _finite(values[s].get(qid, math.nan) - base.get(qid, math.nan))
                    for s in others
                },
                "tops": tops,
                "from": {d: first_rank.get(d) for d in shown},
                "grades": {d: grades[d] for d in shown if d in grades},
                "relevant": sum(1 for g in grades.values() if g > 0),
                "calls": {s: c for s, c in calls.items() if c},
                "repairs": {s: _calls_summary(c) for s, c in calls.items() if c},
            }
        )
    report = source.report or {}
    return {
        "title": source.title,
        "metric": source.metric,
        "systems": source.systems,
        "baseline": source.baseline,
        "first_stage": FIRST_STAGE if source.first_stage is not None else source.baseline,
        "top_k": top_k,
        "max_grade": max((g for q in source.qrels.values() for g in q.values()), default=1),
        "comparisons": [
            c for c in report.get("comparisons", []) if c.get("metric") == source.metric
        ],
        "stats": report.get("systems_stats", []),
        "means": {
            s: _finite(sum(values[s].get(q, 0.0) for q in judged) / len(judged))
            for s in source.systems
        },
        "has_trace": bool(source.trace),
        "queries": queries,
        "texts": texts,
    }


def _script_json(data: Any) -> str:
    """JSON safe inside <script>: no '</' (which would end the element) and no U+2028/9."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render(data: Mapping[str, Any], figure_png: bytes | None = None) -> str:
    page = PAGE.read_text(encoding="utf-8")
    figure = (
        "data:image/png;base64," + base64.b64encode(figure_png).decode("ascii")
        if figure_png
        else ""
    )
    return (
        page.replace("__TITLE__", _html_escape(str(data["title"])))
        .replace("__FIGURE__", figure)
        .replace("__DATA__", _script_json(data))
    )


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_view(source: ViewSource, out: str | Path, *, top_k: int = DEFAULT_TOP_K) -> int:
    """Write the page atomically; returns its size in bytes."""
    html = render(page_data(source, top_k=top_k), source.figure_png)
    with atomic_writer(out) as fh:
        fh.write(html)
    return len(html.encode("utf-8"))
