"""`listrank rerank IN.jsonl -o OUT`: rerank every query of a file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tqdm import tqdm

from listrank.cli.common import add_component_options, build_reranker
from listrank.io import read_requests, write_results
from listrank.summary import RunSummary


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "rerank",
        help="rerank a JSONL file of queries and candidates",
        description="Rerank each query's candidates. Input lines use rank_llm's request format "
        "or the flat form {qid, query, candidates: [{docid, text, score}]}.",
    )
    p.add_argument("input", help="input JSONL")
    p.add_argument("-o", "--output", required=True, help="output file (written atomically)")
    p.add_argument("--format", choices=("jsonl", "trec"), default="jsonl")
    p.add_argument("--run-tag", default="listrank", help="run tag for TREC output")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_component_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    requests = read_requests(args.input)  # validate everything before loading a model
    reranker = build_reranker(args)
    summary = RunSummary()
    pairs = []
    for req in tqdm(requests, desc="queries", unit="q", disable=args.no_progress, file=sys.stderr):
        ranking = reranker.rerank(req.query, req.candidates)
        summary.add(ranking)
        pairs.append((req, ranking))
    write_results(args.output, pairs, fmt=args.format, tag=args.run_tag)
    print(f"listrank: wrote {args.output}: {summary.format()}", file=sys.stderr)
    return 0
