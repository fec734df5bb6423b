"""`listrank datasets list | get NAME`: standard first-stage runs and qrels (rank_llm's runs
from the Hugging Face hub, TREC/BEIR qrels), verified and cached; `--dataset NAME` on rerank,
ab and eval uses them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from listrank.runs import datasets
from listrank.runs.io import atomic_writer, iter_lines


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "datasets",
        help="fetch standard first-stage runs and qrels (TREC DL19-22, BEIR TREC-COVID)",
        description="rank_llm's published top-100 runs (BM25, SPLADE++, BM25+RM3) from the "
        f"Hugging Face dataset {datasets.HUB_REPO} and the official qrels, checked by size "
        "and MD5 and cached (usable offline once cached).",
    )
    cmds = p.add_subparsers(dest="datasets_command", required=True)
    ls = cmds.add_parser("list", help="the datasets, their runs and qrels")
    ls.set_defaults(run=_list)
    get = cmds.add_parser("get", help="fetch (or find in the cache) a dataset's run and qrels")
    get.add_argument("name", help="a dataset of `listrank datasets list`, e.g. dl19")
    add_retriever_option(get)
    get.add_argument(
        "--head", type=int, metavar="N", help="with -o: write only the first N queries"
    )
    get.add_argument("-o", "--output", help="also write the run (or its first N queries) here")
    get.set_defaults(run=_get)


def add_retriever_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--retriever",
        "--retrieval-method",
        default="bm25",
        choices=sorted(datasets.RETRIEVERS),
        help="the first stage whose run --dataset reads (default bm25)",
    )


def add_dataset_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset",
        metavar="NAME",
        help="a standard dataset (`listrank datasets list`): its run and qrels stand in for "
        "the input and qrels files not named",
    )
    add_retriever_option(p)


def _list(args: argparse.Namespace) -> int:
    print(f"{'name':<7} {'first-stage runs (top 100)':<28} {'qrels':<6} description")
    for d in datasets.CATALOGUE.values():
        runs = ", ".join(d.runs)
        print(f"{d.name:<7} {runs:<28} {'yes' if d.qrels else 'no':<6} {d.description}")
    print(f"runs: Hugging Face dataset {datasets.HUB_REPO}; qrels: anserini-tools (pinned)")
    return 0


def _get(args: argparse.Namespace) -> int:
    run = datasets.run_file(args.name, args.retriever)
    print(f"run\t{run}")
    ds = datasets.dataset(args.name)
    if ds.qrels is not None:
        print(f"qrels\t{datasets.qrels_file(args.name)}")
    if args.output:
        with atomic_writer(args.output) as fh:
            for i, (_, text) in enumerate(iter_lines(run)):
                if args.head is not None and i >= args.head:
                    break
                fh.write(text)
        print(f"listrank: wrote {args.output}", file=sys.stderr)
    return 0


def resolve(args: argparse.Namespace) -> None:
    """--dataset NAME fills the run and qrels arguments a command left unnamed."""
    name = getattr(args, "dataset", None)
    if not name:
        return
    datasets.dataset(name)  # an unknown name is an error even when nothing is left to fill
    if hasattr(args, "input") and not args.input:
        args.input = str(datasets.run_file(name, args.retriever))
    if hasattr(args, "qrels") and not args.qrels:
        args.qrels = str(datasets.qrels_file(name))
