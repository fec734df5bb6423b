"""Evaluate a run against qrels through ir-measures: TREC run files or listrank JSONL output.

A TREC run is read in the first-stage order every listrank command uses (rank, then score,
then file order: ``runs.io.read_trec_run``), and that order is what is scored. This departs
from trec_eval, which re-sorts by score alone; the two agree whenever ranks and scores agree,
as in every run listrank writes. A JSONL output (either request form) is read in its stored
order, which is the ranking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from listrank.errors import InputError
from listrank.evaluation.metrics import Qrels, Run, mean, per_query, read_qrels, run_from_order
from listrank.runs import safe_json
from listrank.runs.io import iter_lines, read_trec_run

DEFAULT_METRICS = ("nDCG@10", "nDCG@5", "RR@10", "R@100", "AP")


def _jsonl_run(path: str | Path) -> Run:
    run: Run = {}
    for number, text in iter_lines(path):
        obj = safe_json.loads(text, line=number)
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", line=number)
        q = obj.get("query")
        qid = q.get("qid") if isinstance(q, dict) else obj.get("qid")
        cands = obj.get("candidates")
        if qid is None or not isinstance(cands, list):
            raise InputError("expected qid and a candidates list", line=number)
        docids = []
        for i, c in enumerate(cands):
            if not isinstance(c, dict) or "docid" not in c:
                raise InputError("missing docid", line=number, field=f"candidates[{i}]")
            docids.append(str(c["docid"]))
        if str(qid) in run:
            raise InputError(f"duplicate qid {qid!r}", line=number, field="qid")
        run.update(run_from_order(str(qid), docids))
    return run


def read_run(path: str | Path) -> Run:
    """{qid: {docid: score}} from a TREC run or a listrank JSONL file (told apart by content)."""
    first = next(iter_lines(path), None)
    if first is None:
        raise InputError(f"{path} is empty")
    if first[1].lstrip().startswith("{"):
        return _jsonl_run(path)
    run: Run = {}
    for qid, pairs in read_trec_run(path).items():
        run.update(run_from_order(qid, list(dict.fromkeys(d for d, _ in pairs))))
    return run


@dataclass(frozen=True)
class Evaluation:
    per_query: Mapping[str, Mapping[str, float]]
    """metric -> qid -> value."""
    unjudged_queries: tuple[str, ...]
    """Run queries with no qrels: left out of every mean, as ir-measures does."""
    unanswered_queries: tuple[str, ...] = ()
    """Judged queries the run lacks: scored 0 (ir-measures' own rule) unless skipped."""
    skipped_unanswered: bool = False

    def means(self) -> dict[str, float]:
        return {m: mean(v) for m, v in self.per_query.items()}

    @property
    def queries(self) -> int:
        return max((len(v) for v in self.per_query.values()), default=0)


def evaluate(
    run: Run,
    qrels: Qrels,
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    skip_unanswered: bool = False,
) -> Evaluation:
    """Metrics per query. Like ir-measures (and trec_eval -c), a judged query missing from the
    run counts 0 in the means; ``skip_unanswered`` leaves such queries out instead (for runs
    over a sample of the queries)."""
    if not run:
        raise InputError("the run holds no queries")
    unanswered = tuple(sorted(q for q in qrels if q not in run))
    padded = run if skip_unanswered else {**run, **{q: {} for q in unanswered}}
    values = per_query(padded, qrels, metrics)
    unjudged = tuple(sorted(q for q in run if q not in qrels))
    return Evaluation(values, unjudged, unanswered, skip_unanswered)


def evaluate_files(
    run_path: str | Path,
    qrels_path: str | Path,
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    skip_unanswered: bool = False,
) -> Evaluation:
    qrels = read_qrels(qrels_path)
    if not qrels:
        raise InputError(f"{qrels_path} holds no judgments")
    return evaluate(read_run(run_path), qrels, metrics, skip_unanswered=skip_unanswered)


def format_table(evaluation: Evaluation) -> str:
    means = evaluation.means()
    width = max((len(m) for m in means), default=6)
    lines = [f"{'metric':<{width}}  value   ({evaluation.queries} judged queries)"]
    lines += [f"{m:<{width}}  {v:.4f}" for m, v in means.items()]
    if evaluation.unjudged_queries:
        lines.append(f"({len(evaluation.unjudged_queries)} run queries have no qrels: skipped)")
    if evaluation.unanswered_queries:
        how = "skipped" if evaluation.skipped_unanswered else "scored 0"
        lines.append(f"({len(evaluation.unanswered_queries)} judged queries not in the run: {how})")
    return "\n".join(lines)
