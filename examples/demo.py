"""Rerank the shipped demo set with the embedded model and show before/after.

By default it runs RankGPT generation (which this 135M model cannot follow: watch the repair
and bias lines, and the WARNING) and then ICR (attention-based, no generation), the embedded
model's default method.

Usage: python examples/demo.py [--method rankgpt icr] [--strategy sliding] [--template NAME]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from listrank import Reranker
from listrank.evaluation.metrics import Qrels, mean, per_query, read_qrels, run_from_order
from listrank.evaluation.summary import RunSummary
from listrank.runs.io import Request, read_requests

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--method", nargs="+", default=["rankgpt", "icr"])
    ap.add_argument("--strategy", default="sliding")
    ap.add_argument("--template", default=None)
    args = ap.parse_args()
    requests = read_requests(HERE / "demo.jsonl")
    qrels = read_qrels(HERE / "demo.qrels")
    options = {"template": args.template} if args.template else {}
    for method in args.method:
        print(f"===== method {method} =====")
        run(method, args.strategy, options, requests, qrels)
    return 0


def run(
    method: str, strategy: str, options: dict[str, str], requests: list[Request], qrels: Qrels
) -> None:
    t0 = time.perf_counter()
    reranker = Reranker(method=method, strategy=strategy, **options)
    print(
        f"loaded the embedded model in {time.perf_counter() - t0:.1f} s "
        f"(method {reranker.method.name}, strategy {reranker.strategy.name})\n"
    )
    before: dict[str, float] = {}
    after: dict[str, float] = {}
    summary = RunSummary()
    started = time.perf_counter()
    for req in requests:
        ranking = reranker.rerank(req.query, req.candidates)
        summary.add(ranking)
        first = [c.docid for c in req.candidates]
        b = per_query(run_from_order(req.query.qid, first), qrels)["nDCG@10"][req.query.qid]
        a = per_query(run_from_order(req.query.qid, ranking.docids), qrels)["nDCG@10"][
            req.query.qid
        ]
        before[req.query.qid], after[req.query.qid] = b, a
        grades = qrels[req.query.qid]
        print(f"query {req.query.qid}: {req.query.text}")
        print(f"  {'first stage':<48} | {'listrank':<48}")
        for i in range(5):
            left, right = req.candidates[i], ranking.ranked[i].candidate
            print(
                f"  [{grades.get(left.docid, 0)}] {left.text[:44]:<44} | "
                f"[{grades.get(right.docid, 0)}] {right.text[:44]:<44}"
            )
        call = ranking.trace.calls[0] if ranking.trace.calls else None
        if call is not None and call.output:
            print(f"  model said: {call.output[:100]!r}  (repaired: {call.repair.repaired})")
        elif call is not None and call.scores is not None:  # FIRST, ICR: scores, no text
            scores = call.scores
            best = sorted(range(len(scores)), key=lambda i: -scores[i])[:5]
            shown = ", ".join(f"{call.docids[i]} {scores[i]:.3f}" for i in best)
            print(f"  scores (top 5 of the first block, no generated text): {shown}")
        print(f"  nDCG@10 {b:.3f} -> {a:.3f}   ({ranking.trace.latency_s:.1f} s)\n")
    print(
        f"mean nDCG@10 over {len(requests)} queries: first stage {mean(before):.3f} -> "
        f"listrank {mean(after):.3f}"
    )
    summary.wall_s = time.perf_counter() - started
    print(f"[grade] = relevance label 0-3; {summary.format()}")
    warning = summary.order_warning()
    print(f"{warning}\n" if warning else "")


if __name__ == "__main__":
    sys.exit(main())
