"""Debiasing on real collections with the embedded model: each method with and without
calibration, permutation averaging and first-stage fusion.

Per configuration: nDCG@10, the paired difference against the first-stage order with its
paired t-test p-value, model calls and latency per query, and the bias verdict. Fusion rows
re-blend the stored LLM ranking with the first stage (exactly what the pipeline's fusion stage
does), so they cost no extra model calls.

    python -m benchmarks debias            # defaults: 20 queries per collection, top-20
    python benchmarks/debias.py --collections dl19 --depth 100 --queries 10
    python benchmarks/debias.py --queries 43 --collections dl19
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scipy import stats

from listrank import Reranker
from listrank.evaluation.bias import bias_report
from listrank.evaluation.metrics import per_query, read_qrels, run_from_order
from listrank.methods.calibration import CalibrationPool
from listrank.pipeline.fusion import Fusion
from listrank.runs.io import Request, read_requests
from listrank.types import Ranking

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COLLECTIONS = {
    "dl19": (
        "trec-dl19-passage/dl19.bm25.top100.normalized.jsonl",
        "trec-dl19-passage/qrels.dl19-passage.txt",
    ),
    "dl20": (
        "trec-dl20-passage/dl20.bm25.top100.normalized.jsonl",
        "trec-dl20-passage/qrels.dl20-passage.txt",
    ),
    "noveleval": ("noveleval/noveleval.top20.normalized.jsonl", "noveleval/qrels.txt"),
}
# (label, method, Reranker options)
CONFIGS: list[tuple[str, str, dict[str, Any]]] = [
    ("rankgpt", "rankgpt", {}),
    ("first", "first", {}),
    ("first +calibrate", "first", {"calibrate": True}),
    ("first +calibrate=reference", "first", {"calibrate": "reference"}),
    ("first +avg3", "first", {"permutations": 3}),
    ("first +calibrate +avg3", "first", {"calibrate": True, "permutations": 3}),
    ("icr", "icr", {}),
    ("icr +calibrate", "icr", {"calibrate": True}),
    ("icr +calibrate=reference", "icr", {"calibrate": "reference"}),
]
"""``calibrate="reference"`` draws its prior from the collection's own (unlabelled) top-k
passages and queries, as ``listrank rerank --calibrate reference`` does with its input file."""
FUSIONS = [("+rrf", Fusion("rrf", weight=0.5)), ("+linear0.3", Fusion("linear", weight=0.3))]


@dataclasses.dataclass
class Row:
    collection: str
    label: str
    ndcg: dict[str, float]
    calls: float
    latency: float
    verdict: str


def ndcg_of(qrels: dict[str, dict[str, int]], qid: str, docids: Sequence[str]) -> float:
    return per_query(run_from_order(qid, docids), qrels)["nDCG@10"].get(qid, 0.0)


def paired(row: dict[str, float], base: dict[str, float]) -> tuple[float, float]:
    qids = sorted(base)
    a = [row[q] for q in qids]
    b = [base[q] for q in qids]
    diff = sum(x - y for x, y in zip(a, b, strict=True)) / len(qids)
    if all(x == y for x, y in zip(a, b, strict=True)):
        return diff, 1.0
    return diff, float(stats.ttest_rel(a, b).pvalue)


def run_config(
    reqs: list[Request],
    qrels: dict[str, dict[str, int]],
    method: str,
    options: dict[str, Any],
    depth: int,
) -> tuple[list[Ranking], float]:
    if options.get("calibrate") == "reference":
        pool = CalibrationPool(
            queries=tuple(r.query.text for r in reqs),
            passages=tuple(c.text for r in reqs for c in r.candidates[:depth]),
        )
        options = {**options, "calibration_pool": pool}
    reranker = Reranker(method=method, strategy="sliding", window=20, step=10, **options)
    rankings, start = [], time.perf_counter()
    for req in reqs:
        rankings.append(reranker.rerank(req.query, req.candidates[:depth]))
    return rankings, time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--queries", type=int, default=20, help="queries per collection")
    ap.add_argument("--depth", type=int, default=20, help="candidates per query (top-k)")
    ap.add_argument("--collections", nargs="+", default=list(COLLECTIONS))
    ap.add_argument("--configs", nargs="+", help="labels to run (default: all)")
    ap.add_argument("--out", help="markdown file (default results/debias-top{depth}.md)")
    args = ap.parse_args(argv)
    args.out = args.out or str(Path(__file__).parent / "results" / f"debias-top{args.depth}.md")
    if not DATA.is_dir():
        print(f"test collections not found at {DATA}; nothing to run")
        return
    rows: list[Row] = []
    for name in args.collections:
        req_path, qrels_path = COLLECTIONS[name]
        qrels = read_qrels(DATA / qrels_path)
        reqs = [r for r in read_requests(DATA / req_path) if r.query.qid in qrels][: args.queries]
        base = {
            r.query.qid: ndcg_of(qrels, r.query.qid, [c.docid for c in r.candidates]) for r in reqs
        }
        rows.append(Row(name, "first stage (BM25 / given order)", base, 0.0, 0.0, ""))
        for label, method, options in CONFIGS:
            if args.configs and label not in args.configs:
                continue
            rankings, seconds = run_config(reqs, qrels, method, options, args.depth)
            calls = sum(r.trace.n_calls for r in rankings) / len(reqs)
            report = bias_report(c for r in rankings for c in r.trace.calls)
            verdict = "position-driven" if report.position_driven else "ok"
            verdict += (
                f" (top slot 1: {report.top_first_share:.0%}, max slot {report.max_slot_share:.0%})"
            )
            ndcg = {r.query.qid: ndcg_of(qrels, r.query.qid, r.docids) for r in rankings}
            rows.append(Row(name, label, ndcg, calls, seconds / len(reqs), verdict))
            for suffix, fusion in FUSIONS:
                fused = {}
                for req, r in zip(reqs, rankings, strict=True):
                    cands = req.candidates[: args.depth]
                    order = [x.candidate.docid for x in fusion.fuse(cands, r.ranked)]
                    fused[req.query.qid] = ndcg_of(qrels, req.query.qid, order)
                rows.append(Row(name, f"{label} {suffix}", fused, calls, seconds / len(reqs), ""))
            print(table([x for x in rows if x.collection == name], base), flush=True)
            write_results(
                Path(args.out), rows, args.depth, args.queries
            )  # a stopped run keeps its rows
    print(f"\nwritten to {args.out}")


def write_results(out: Path, rows: list[Row], depth: int, queries: int) -> None:
    text = "\n\n".join(
        table([x for x in rows if x.collection == c], rows_base(rows, c))
        for c in dict.fromkeys(x.collection for x in rows)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        f"# Debiasing benchmark (embedded SmolLM2-135M, top-{depth}, "
        f"{queries} queries per collection)\n\n{text}\n",
        encoding="utf-8",
    )


def rows_base(rows: list[Row], collection: str) -> dict[str, float]:
    return next(r.ndcg for r in rows if r.collection == collection)


def table(rows: list[Row], base: dict[str, float]) -> str:
    head = (
        f"| {'collection':10s} | {'configuration':34s} | nDCG@10 | Δ vs first | p (paired t)"
        f" | calls/q | s/q | bias |"
    )
    lines = [head, "|" + "|".join("---" for _ in range(8)) + "|"]
    for r in rows:
        mean = sum(r.ndcg.values()) / len(r.ndcg)
        diff, p = paired(r.ndcg, base)
        sig = " *" if p < 0.05 else ""
        lines.append(
            f"| {r.collection:10s} | {r.label:34s} | {mean:.4f} | {diff:+.4f} | "
            f"{p:.3f}{sig} | {r.calls:.1f} | {r.latency:.2f} | {r.verdict} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
