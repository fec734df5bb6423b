"""`listrank rerank IN.jsonl -o OUT`: rerank every query of a file."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from tqdm import tqdm

from listrank.cli.common import add_component_options, add_trace_option, pipeline_config
from listrank.errors import ConfigError, PromptTooLongError
from listrank.evaluation.summary import RunSummary
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.schema import check
from listrank.runs import safe_json
from listrank.runs.formats import read_trec_with_corpus
from listrank.runs.io import Request, atomic_writer, read_requests, result_record, trec_lines
from listrank.runs.journal import Entry, Journal, fingerprint
from listrank.runs.output_checks import check_output_file, check_trec_ids
from listrank.runs.trace import write_trace

# options that do not change the output: a journal written under other values still resumes
_NOT_IN_FINGERPRINT = {"run", "no_progress", "no_resume", "cache", "trace", "verbose"}


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "rerank",
        help="rerank a JSONL file of queries and candidates",
        description="Rerank each query's candidates. Input lines use rank_llm's request format "
        "or the flat form {qid, query, candidates: [{docid, text, score}]}.",
    )
    p.add_argument(
        "input",
        help="input: JSONL requests, rank_llm's retrieve_results JSON array, or a TREC run "
        "(with --corpus and --topics)",
    )
    p.add_argument("--corpus", help="with a TREC run input: docid -> text (TSV or JSONL)")
    p.add_argument("--topics", help="with a TREC run input: qid<TAB>query (TSV)")
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
    add_trace_option(p)
    add_component_options(p)
    p.set_defaults(run=run)


def _pipeline(args: argparse.Namespace) -> PipelineConfig:
    cfg = pipeline_config(args).with_calibration_pool(args.input)
    if args.cache:
        cfg = dataclasses.replace(cfg, extra={**cfg.extra, "cache": {"path": args.cache}})
    return cfg


def run(args: argparse.Namespace) -> int:
    # validate everything before loading a model
    if args.corpus or args.topics:
        if not (args.corpus and args.topics):
            raise ConfigError("a TREC run input needs both --corpus and --topics")
        requests = read_trec_with_corpus(args.input, args.corpus, args.topics)
    else:
        requests = read_requests(args.input)
    check_output_file(args.output, [args.input])
    check_output_file(f"{args.output}.journal", [args.input])
    if args.format == "trec":
        check_trec_ids(
            ((r.query.qid, (c.docid for c in r.candidates)) for r in requests), args.run_tag
        )
    pipeline = _pipeline(args)
    check(pipeline)  # names, options, types and the model path, before any file is written
    options = {k: v for k, v in vars(args).items() if k not in _NOT_IN_FINGERPRINT}
    # the file's content, not its name, shapes the output
    options["config"] = {k: v for k, v in vars(pipeline).items() if k not in ("source", "extra")}
    options["config_extra"] = {k: v for k, v in pipeline.extra.items() if k != "cache"}
    # finished queries go to a journal as they finish, so a killed run resumes (same command)
    journal = Journal(
        f"{args.output}.journal", fingerprint(args.input, options), resume=not args.no_resume
    )
    resumed = sum(1 for r in requests if r.query.qid in journal.done)
    if resumed:
        print(
            f"listrank: resuming: {resumed} of {len(requests)} queries already done "
            f"in {journal.path}",
            file=sys.stderr,
        )
    elif journal.discarded:
        print(f"listrank: {journal.path} was from another command: starting over", file=sys.stderr)
    try:
        return _finish(args, requests, pipeline, journal, resumed)
    except BaseException:
        if not journal.done:  # a journal holding only its header resumes nothing
            journal.remove()
        raise


def _finish(
    args: argparse.Namespace,
    requests: list[Request],
    pipeline: PipelineConfig,
    journal: Journal,
    resumed: int,
) -> int:
    todo = [r for r in requests if r.query.qid not in journal.done]
    this_run = RunSummary()
    if todo:
        reranker = pipeline.build()
        for req in tqdm(todo, desc="queries", unit="q", disable=args.no_progress, file=sys.stderr):
            try:
                ranking = reranker.rerank(req.query, req.candidates)
            except PromptTooLongError as exc:
                raise PromptTooLongError(f"query {req.query.qid!r}: {exc}") from None
            this_run.add(ranking)
            if args.format == "trec":
                text = "".join(trec_lines(ranking, args.run_tag))
            else:
                text = safe_json.dumps(result_record(req, ranking)) + "\n"
            journal.append(Entry(req.query.qid, text, ranking))
    summary = RunSummary()
    stages: dict[str, list[float]] = {}
    with atomic_writer(args.output) as fh:
        for req in requests:
            entry = journal.done[req.query.qid]
            fh.write(entry.text)
            summary.add(entry.ranking)
            for stage, seconds in entry.ranking.trace.stage_latency_s.items():
                stages.setdefault(stage.split(".")[0], []).append(seconds)
    if args.trace:
        calls = write_trace(args.trace, (journal.done[r.query.qid].ranking for r in requests))
        print(f"listrank: wrote {args.trace}: {calls} model calls", file=sys.stderr)
    journal.remove()
    print(f"listrank: wrote {args.output}: {summary.format()}", file=sys.stderr)
    per_stage = ", ".join(f"{k} {sum(v) / len(requests):.3f}" for k, v in stages.items())
    print(f"listrank: stage latency, s/query: {per_stage}", file=sys.stderr)
    if resumed:
        print(
            f"listrank: this run: {this_run.queries} queries, {this_run.calls} model calls "
            f"({this_run.cached_calls} cached); {resumed} queries taken from the journal",
            file=sys.stderr,
        )
    return 0
