"""`listrank view DIR -o report.html`: an A/B folder (or one run) as one self-contained HTML
page: per-query differences, top documents side by side with their grades, the model's
answers and repairs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from listrank.errors import InputError
from listrank.evaluation.view import DEFAULT_TOP_K, from_ab_folder, from_run, write_view


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "view",
        help="write an HTML report of an A/B folder or a run: where systems disagree, per query",
        description="SOURCE is an `ab --out` folder (its report.json names the input, qrels "
        "and trace; the flags override them) or one run (TREC or result JSONL; then --input "
        "and --qrels are needed, and its first stage is the baseline). The page is one file "
        "with everything embedded (no network): open it in any browser.",
    )
    p.add_argument("source", metavar="SOURCE", help="an `ab --out` folder, or a run file")
    p.add_argument("-o", "--output", required=True, help="the HTML file to write")
    p.add_argument("--qrels", help="TREC qrels (default: the one the A/B recorded)")
    p.add_argument("--input", help="the input JSONL: query and passage texts, the first stage")
    p.add_argument("--trace", help="the calls' trace JSONL (default: the A/B's, or calls.jsonl)")
    p.add_argument("--metric", help="the metric shown (default: the A/B's first)")
    p.add_argument(
        "--top-k",
        type=int,
        default=DEFAULT_TOP_K,
        help="documents shown per system and query (default %(default)s)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    source = Path(args.source)
    if source.is_dir():
        view = from_ab_folder(
            source, qrels=args.qrels, input_path=args.input, trace=args.trace, metric=args.metric
        )
    elif source.is_file():
        view = from_run(
            source, qrels=args.qrels, input_path=args.input, trace=args.trace, metric=args.metric
        )
    else:
        raise InputError(f"{source} is neither an `ab --out` folder nor a run file")
    size = write_view(view, args.output, top_k=args.top_k)
    print(f"listrank: wrote {args.output} ({size / 1e6:.2f} MB)", file=sys.stderr)
    return 0
