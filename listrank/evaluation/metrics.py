"""Retrieval metrics through ir-measures: qrels in TREC format, runs as {qid: {docid: score}}."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from listrank.errors import ConfigError, InputError
from listrank.runs import streams
from listrank.types import Ranking

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]
MAX_GRADE = 1000
"""Relevance grades lie in [-MAX_GRADE, MAX_GRADE]: real qrels use a handful of small grades,
and huge ones overflow the evaluator (2**32 wraps to 0, 2**31 never returns)."""


def read_qrels(path: str | Path) -> Qrels:
    """TREC qrels: ``qid iter docid rel`` per line."""
    qrels: Qrels = {}
    try:
        lines = streams.read_bytes(path).decode("utf-8").splitlines()  # gzip too
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
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
        if not -MAX_GRADE <= rel <= MAX_GRADE:
            raise InputError(f"relevance {rel} is outside -{MAX_GRADE}..{MAX_GRADE}", line=number)
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


TREC_EVAL_ALIASES = {
    "map": "AP",
    "recip_rank": "RR",
    "ndcg": "nDCG",
    "bpref": "Bpref",
    "Rprec": "Rprec",
    "num_rel_ret": "NumRelRet",
    "num_ret": "NumRet",
    "num_rel": "NumRel",
    "infAP": "infAP",
}
"""trec_eval measure names -> ir-measures names; ``<name>_cut_K``, ``P_K``, ``recall_K`` and
``success_K`` are rewritten by pattern (ndcg_cut_10 -> nDCG@10, P_10 -> P@10)."""
_TREC_EVAL_CUTS = {
    "ndcg_cut": "nDCG",
    "map_cut": "AP",
    "recip_rank_cut": "RR",
    "P": "P",
    "recall": "R",
    "success": "Success",
}


def measure_name(name: str) -> str:
    """An ir-measures name for ``name``, which may be a trec_eval name (``ndcg_cut_10``)."""
    if name in TREC_EVAL_ALIASES:
        return TREC_EVAL_ALIASES[name]
    stem, sep, cutoff = name.rpartition("_")
    if sep and cutoff.isdigit() and stem in _TREC_EVAL_CUTS:
        return f"{_TREC_EVAL_CUTS[stem]}@{cutoff}"
    return name


def per_query(
    run: Run, qrels: Mapping[str, Mapping[str, int]], metrics: Sequence[str] = ("nDCG@10",)
) -> dict[str, dict[str, float]]:
    """{metric: {qid: value}} over the queries present in both run and qrels."""
    import ir_measures

    parsed = []
    for m in metrics:
        try:
            parsed.append(ir_measures.parse_measure(measure_name(m)))
        except (ValueError, NameError, SyntaxError, TypeError) as exc:
            raise ConfigError(
                f"unknown metric {m!r}: use ir-measures names (nDCG@10, AP, RR@10, P@10, R@100) "
                f"or trec_eval ones (ndcg_cut_10, map, recip_rank, P_10, recall_100)"
            ) from exc
    judged = {q: dict(d) for q, d in qrels.items() if q in run}
    out: dict[str, dict[str, float]] = {str(m): {} for m in parsed}
    for metric in ir_measures.iter_calc(parsed, judged, {q: run[q] for q in judged}):
        out[str(metric.measure)][metric.query_id] = float(metric.value)
    return out


def mean(values: Mapping[str, float]) -> float:
    return sum(values.values()) / len(values) if values else 0.0
