"""`listrank eval RUN --qrels QRELS [--metrics ...]`: retrieval metrics through ir-measures."""

from __future__ import annotations

import argparse
import json
from typing import Any

from listrank.cli.datasets_cmd import add_dataset_option
from listrank.evaluation.evaluate import DEFAULT_METRICS, evaluate_files, format_table


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "eval",
        help="score a run (TREC or listrank JSONL) against qrels",
        description="Compute ir-measures metrics (e.g. nDCG@10, RR@10, R@100, AP) of a TREC run "
        "file or a listrank JSONL output against TREC qrels.",
    )
    p.add_argument("run_file", metavar="RUN", help="TREC run file or listrank JSONL output")
    p.add_argument("--qrels", help="TREC qrels file; or --dataset NAME")
    add_dataset_option(p)
    p.add_argument(
        "--metrics",
        nargs="+",
        default=list(DEFAULT_METRICS),
        metavar="METRIC",
        help="ir-measures names (default: %(default)s)",
    )
    p.add_argument(
        "--skip-missing",
        action="store_true",
        help="leave judged queries that the run lacks out of the means (default: they count 0, "
        "as in ir-measures and trec_eval -c)",
    )
    p.add_argument("--per-query", action="store_true", help="also print every query's values")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.qrels:
        from listrank.errors import InputError

        raise InputError("name --qrels FILE, or --dataset NAME")
    ev = evaluate_files(args.run_file, args.qrels, args.metrics, skip_unanswered=args.skip_missing)
    if args.json:
        out: dict[str, Any] = {"queries": ev.queries, "means": ev.means()}
        if args.per_query:
            out["per_query"] = ev.per_query
        if ev.unjudged_queries:
            out["unjudged_queries"] = list(ev.unjudged_queries)
        if ev.unanswered_queries:
            out["missing_judged_queries"] = list(ev.unanswered_queries)
        print(json.dumps(out, indent=2))
        return 0
    print(format_table(ev))
    if args.per_query:
        for metric, values in ev.per_query.items():
            for qid, value in sorted(values.items()):
                print(f"{metric}\t{qid}\t{value:.4f}")
    return 0
