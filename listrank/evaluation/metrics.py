"""Retrieval metrics through ir-measures: qrels in TREC format, runs as {qid: {docid: score}}."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from listrank.errors import ConfigError, InputError
from listrank.types import Ranking

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]


def read_qrels(path: str | Path) -> Qrels:
    """TREC qrels: ``qid iter docid rel`` per line."""
    qrels: Qrels = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read qrels {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise InputError("a qrels line has 4 columns: qid iter docid rel", line=number)
        try:
            rel = int(parts[3])
        except ValueError as exc:
            raise InputError("relevance is not an integer", line=number) from exc
        qrels.setdefault(parts[0], {})[parts[2]] = rel
    return qrels


def run_from_rankings(rankings: Iterable[Ranking]) -> Run:
    """Scores by rank (n, n-1, …) so metrics see exactly the ranking's order."""
    run: Run = {}
    for r in rankings:
        n = len(r.ranked)
        run[r.query.qid] = {c.candidate.docid: float(n - i) for i, c in enumerate(r.ranked)}
    return run


def run_from_order(qid: str, docids: Sequence[str]) -> Run:
    n = len(docids)
    return {qid: {d: float(n - i) for i, d in enumerate(docids)}}


def per_query(
    run: Run, qrels: Mapping[str, Mapping[str, int]], metrics: Sequence[str] = ("nDCG@10",)
) -> dict[str, dict[str, float]]:
    """{metric: {qid: value}} over the queries present in both run and qrels."""
    import ir_measures

    try:
        parsed = [ir_measures.parse_measure(m) for m in metrics]
    except (ValueError, NameError, SyntaxError) as exc:
        raise ConfigError(f"unknown metric in {list(metrics)}: {exc}") from exc
    judged = {q: dict(d) for q, d in qrels.items() if q in run}
    out: dict[str, dict[str, float]] = {str(m): {} for m in parsed}
    for metric in ir_measures.iter_calc(parsed, judged, {q: run[q] for q in judged}):
        out[str(metric.measure)][metric.query_id] = float(metric.value)
    return out


def mean(values: Mapping[str, float]) -> float:
    return sum(values.values()) / len(values) if values else 0.0
