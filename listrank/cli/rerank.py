"""`listrank rerank IN.jsonl -o OUT`: rerank every query of a file."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator
from typing import Any

from tqdm import tqdm

from listrank.cli.common import add_component_options, pipeline_config
from listrank.errors import QueriesFailedError
from listrank.evaluation.summary import RunSummary
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.scheduler import Outcome
from listrank.runs.io import atomic_writer, iter_requests, result_record, trec_lines
from listrank.runs.journal import Entry, Journal, fingerprint

# options that do not change the output: a journal written under other values still resumes
_NOT_IN_FINGERPRINT = {"run", "no_progress", "no_resume", "cache", "max_in_flight"}


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
    p.add_argument("--cache", help="persistent model-call cache (SQLite file, owner-only)")
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="start over even if OUTPUT.journal holds finished queries of this same command",
    )
    add_max_in_flight(p)
    add_component_options(p)
    p.set_defaults(run=run)


def add_max_in_flight(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        metavar="N",
        help="queries reranked at once; their calls at the same stage share backend calls "
        "(default: twice an API backend's concurrency, 64 for vllm, the batch size for hf)",
    )


def _pipeline(args: argparse.Namespace) -> PipelineConfig:
    cfg = pipeline_config(args).with_calibration_pool(args.input)
    if args.cache:
        cfg = dataclasses.replace(cfg, extra={**cfg.extra, "cache": {"path": args.cache}})
    return cfg


def _validate(path: str) -> list[str]:
    """Every request is read and checked before a model loads; only the qids are kept."""
    return [r.query.qid for r in iter_requests(path)]


def run(args: argparse.Namespace) -> int:
    qids = _validate(args.input)
    pipeline = _pipeline(args)
    options = {k: v for k, v in vars(args).items() if k not in _NOT_IN_FINGERPRINT}
    # the file's content, not its name, shapes the output
    options["config"] = {k: v for k, v in vars(pipeline).items() if k not in ("source", "extra")}
    options["config_extra"] = {k: v for k, v in pipeline.extra.items() if k != "cache"}
    # finished queries go to a journal as they finish, so a killed run resumes (same command)
    journal = Journal(
        f"{args.output}.journal", fingerprint(args.input, options), resume=not args.no_resume
    )
    from_journal = {q for q in qids if q in journal.done}
    resumed = len(from_journal)
    if resumed:
        print(
            f"listrank: resuming: {resumed} of {len(qids)} queries already done in {journal.path}",
            file=sys.stderr,
        )
    elif journal.discarded:
        print(f"listrank: {journal.path} was from another command: starting over", file=sys.stderr)
    todo = len(qids) - resumed
    this_run = RunSummary()
    summary = RunSummary()
    stages: dict[str, float] = {}
    failed: list[str] = []
    progress = tqdm(total=todo, desc="queries", unit="q", disable=args.no_progress, file=sys.stderr)

    def finished(outcome: Outcome) -> None:
        # journaled as each query finishes (in any order), so a kill loses only those in flight
        progress.update(1)
        if outcome.ranking is None:
            failed.append(outcome.item.query.qid)
            return
        req, ranking = outcome.item, outcome.ranking
        this_run.add(ranking)
        if args.format == "trec":
            text = "".join(trec_lines(ranking, args.run_tag))
        else:
            text = json.dumps(result_record(req, ranking), ensure_ascii=False) + "\n"
        journal.append(Entry(req.query.qid, text, ranking))

    outcomes: Iterator[Outcome] = iter(())
    if todo:
        reranker = pipeline.build()
        pending = (r for r in iter_requests(args.input) if r.query.qid not in from_journal)
        outcomes = reranker.rerank_stream(
            pending, max_in_flight=args.max_in_flight, ordered=True, on_done=finished
        )
    with atomic_writer(args.output) as fh:
        # the output is written in input order as queries finish; resumed ones come from the
        # journal, and each written entry is dropped from memory (a large file stays flat)
        for qid in qids:
            if qid not in from_journal:
                outcome = next(outcomes)
                assert outcome.item.query.qid == qid  # the stream keeps input order
                if outcome.ranking is None:
                    continue
            entry = journal.done[qid]
            fh.write(entry.text)
            summary.add(entry.ranking)
            for stage, seconds in entry.ranking.trace.stage_latency_s.items():
                key = stage.split(".")[0]
                stages[key] = stages.get(key, 0.0) + seconds
            del journal.done[qid]
        progress.close()
        if failed:
            # nothing is written; the finished queries stay in the journal for the rerun
            journal.close()
            raise QueriesFailedError(
                f"{len(failed)} of {len(qids)} queries failed: {', '.join(failed)}; the "
                f"{len(qids) - len(failed)} others are kept in {journal.path}: run the same "
                "command again to retry only the failed ones",
                errors={},
                results=[],
                qids=failed,
            )
    journal.remove()
    print(f"listrank: wrote {args.output}: {summary.format()}", file=sys.stderr)
    per_stage = ", ".join(f"{k} {v / len(qids):.3f}" for k, v in stages.items())
    print(f"listrank: stage latency, s/query: {per_stage}", file=sys.stderr)
    if resumed:
        print(
            f"listrank: this run: {this_run.queries} queries, {this_run.calls} model calls "
            f"({this_run.cached_calls} cached); {resumed} queries taken from the journal",
            file=sys.stderr,
        )
    return 0
