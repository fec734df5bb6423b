"""`listrank rerank IN.jsonl -o OUT`: rerank every query of a file."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import dataclasses
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tqdm import tqdm

from listrank.cli.common import add_component_options, add_trace_option, pipeline_config
from listrank.cli.datasets_cmd import add_dataset_option
from listrank.errors import ConfigError, InputError, PromptTooLongError, QueriesFailedError
from listrank.evaluation.summary import RunSummary
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.processes import process_stream
from listrank.pipeline.provenance import provenance
from listrank.pipeline.scheduler import Outcome
from listrank.pipeline.schema import check
from listrank.runs import safe_json, streams
from listrank.runs.formats import read_trec_with_corpus, starts_with_json_array
from listrank.runs.io import (
    KEEP_SCORES,
    QidCheck,
    Request,
    atomic_writer,
    iter_requests,
    qid_lines,
    rank_llm_result,
    result_record,
    trec_lines,
)
from listrank.runs.journal import Entry, Journal, fingerprint
from listrank.runs.output_checks import check_output_file, check_trec_ids
from listrank.runs.trace import trace_text

# options that do not change the output: a journal written under other values still resumes
_NOT_IN_FINGERPRINT = {
    "run",
    "no_progress",
    "no_resume",
    "cache",
    "trace",
    "verbose",
    "max_in_flight",
    "processes",
}


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "rerank",
        help="rerank a JSONL file of queries and candidates",
        description="Rerank each query's candidates. Input lines use rank_llm's request format "
        "or the flat form {qid, query, candidates: [{docid, text, score}]}.",
    )
    p.add_argument(
        "input",
        nargs="?",
        help="input: JSONL requests (gzip too; '-' is stdin), rank_llm's retrieve_results JSON "
        "array, or a TREC run (with --corpus and --topics); or --dataset NAME",
    )
    p.add_argument(
        "--doc-fields",
        choices=("listrank", "rank_llm"),
        default="listrank",
        help="which text field of a candidate's doc wins: listrank (contents, text, segment, "
        "content, body, passage) or rank_llm's order (text, segment, contents, content, ...)",
    )
    add_dataset_option(p)
    p.add_argument("--corpus", help="with a TREC run input: docid -> text (TSV or JSONL)")
    p.add_argument("--topics", help="with a TREC run input: qid<TAB>query (TSV)")
    p.add_argument("-o", "--output", required=True, help="output file (written atomically)")
    p.add_argument(
        "--format",
        choices=("jsonl", "trec", "rank_llm"),
        default="jsonl",
        help="jsonl: the requests reordered; trec: a TREC run; rank_llm: one rank_llm Result "
        "per line (query, candidates, invocations_history with every call's prompt and answer)",
    )
    p.add_argument(
        "--top-k-rerank",
        type=int,
        metavar="K",
        help="write only the top K candidates of each query (rank_llm's --top-k-rerank)",
    )
    p.add_argument("--run-tag", default="listrank", help="run tag for TREC output")
    p.add_argument(
        "--keep-scores",
        choices=KEEP_SCORES,
        default="rank",
        help="what each candidate's score holds: rank (the new order as decreasing numbers; "
        "default), model (the model's own score: FIRST logits, ICR attention; null for "
        "permutation methods), first-stage (the input's score)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--cache", help="persistent model-call cache (SQLite file, owner-only)")
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="start over even if OUTPUT.journal holds finished queries of this same command",
    )
    add_trace_option(p)
    add_max_in_flight(p)
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="shard the queries over N worker processes, each with its own pipeline (API "
        "backends: past one process's CPU limit of a few hundred calls/s); the output is "
        "the same as with one process (default %(default)s)",
    )
    add_component_options(p)
    p.set_defaults(run=run)


def add_max_in_flight(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        metavar="N",
        help="queries reranked at once; their calls at the same stage share backend calls "
        "(default: twice an API backend's concurrency, 64 for vllm, the batch size for hf "
        "on a GPU, 1 on a CPU)",
    )


def _pipeline(args: argparse.Namespace) -> PipelineConfig:
    cfg = pipeline_config(args).with_calibration_pool(args.input)
    if args.cache:
        cfg = dataclasses.replace(cfg, extra={**cfg.extra, "cache": {"path": args.cache}})
    return cfg


Source = Callable[[], Iterable[Request]]


def _request_source(args: argparse.Namespace) -> tuple[Source, Source]:
    """The input as re-readable streams (checking, reranking): a JSONL file is read twice so
    a large file is never held in memory -- its qids were checked unique by the first pass,
    in 8 bytes each (``QidCheck``); a TREC run joined with its corpus is built once."""
    if args.corpus or args.topics:
        if not (args.corpus and args.topics):
            raise ConfigError("a TREC run input needs both --corpus and --topics")
        requests = read_trec_with_corpus(args.input, args.corpus, args.topics)
        return (lambda: requests), (lambda: requests)
    if starts_with_json_array(args.input):  # rank_llm's array: read whole, checked as read
        return (
            lambda: iter_requests(args.input, fields=getattr(args, "doc_fields", "listrank"))
        ), (lambda: iter_requests(args.input, fields=getattr(args, "doc_fields", "listrank")))
    return (
        lambda: iter_requests(
            args.input, unique=False, fields=getattr(args, "doc_fields", "listrank")
        ),
        lambda: iter_requests(
            args.input, unique=False, fields=getattr(args, "doc_fields", "listrank")
        ),
    )


def _validate(args: argparse.Namespace, check_source: Source, jsonl: bool) -> int:
    """Every request is read and checked before a model loads; returns how many there are.
    Only 8 bytes per qid are kept (memory stays flat however large the input)."""
    unique = QidCheck()
    count = 0
    for r in check_source():
        count += 1
        unique.add(r.query.qid)
        if args.format == "trec":
            check_trec_ids([(r.query.qid, [c.docid for c in r.candidates])], args.run_tag)
    if jsonl:
        repeated = unique.duplicate(lambda: qid_lines(args.input))
        if repeated is not None:
            line, qid = repeated
            raise InputError(f"duplicate qid {qid!r}", line=line, field="qid")
    return count


def _failure(outcome: Outcome) -> tuple[str, str]:
    """(qid, what went wrong) of a failed query, for the one error line that ends the run."""
    qid = outcome.item.query.qid
    err = outcome.error
    if isinstance(err, PromptTooLongError):
        return qid, f"{qid} (query {qid!r}: {err})"
    return qid, f"{qid} ({type(err).__name__}: {err})"


def _journal_path(output: str) -> str:
    """OUTPUT.journal beside a file output; a stream (stdout, a FIFO, a device) has no place
    beside it and cannot be rewritten on resume, so its journal is a private temporary file."""
    if not streams.is_stream(output):
        return f"{output}.journal"
    folder = tempfile.mkdtemp(prefix="listrank-rerank.")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return os.path.join(folder, "journal")


def run(args: argparse.Namespace) -> int:
    if args.top_k_rerank is not None and args.top_k_rerank < 1:
        raise ConfigError(f"--top-k-rerank must be >= 1; got {args.top_k_rerank}")
    if not args.input:
        raise ConfigError("name the input file (or '-' for stdin), or --dataset NAME")
    if args.processes < 1:
        raise ConfigError("--processes must be >= 1")
    check_source, source = _request_source(args)
    if args.format == "trec" and args.keep_scores != "rank":
        raise ConfigError(
            f"--keep-scores {args.keep_scores} with --format trec: trec_eval orders a run by its "
            "score column, which would undo the new order; write jsonl to keep other scores"
        )
    if args.output == streams.STDIO and args.trace == streams.STDIO:
        raise ConfigError("-o - and --trace - would mix results and calls on stdout; name a file")
    check_output_file(args.output, [args.input])
    journal_path = _journal_path(args.output)
    check_output_file(journal_path, [args.input])
    if args.trace:
        check_output_file(args.trace, [args.input])
    jsonl = not (args.corpus or args.topics or starts_with_json_array(args.input))
    n_queries = _validate(args, check_source, jsonl)
    pipeline = _pipeline(args)
    check(pipeline)  # names, options, types and the model path, before any file is written
    options = {k: v for k, v in vars(args).items() if k not in _NOT_IN_FINGERPRINT}
    # the file's content, not its name, shapes the output
    options["config"] = {k: v for k, v in vars(pipeline).items() if k not in ("source", "extra")}
    options["config_extra"] = {k: v for k, v in pipeline.extra.items() if k != "cache"}
    # every file the output depends on (corpus, topics, template, calibration pool …)
    sources = provenance(
        pipeline, {"input": args.input, "corpus": args.corpus, "topics": args.topics}
    )
    options["provenance"] = sources
    # the journal keeps prompts only for a trace; a run with --trace does not resume one
    # written without them (its trace would lack the resumed queries' prompts)
    options["journal_prompts"] = bool(args.trace)
    # finished queries go to a journal as they finish, so a killed run resumes (same command)
    resume = not args.no_resume and not streams.is_stream(args.output)
    journal = Journal(
        journal_path,
        fingerprint(args.input, options),
        resume=resume,
        keep_prompts=bool(args.trace),
        provenance=sources,
    )
    # the fingerprint covers the input's bytes: every journaled qid is one of this input's
    from_journal = set(journal.done)
    resumed = len(from_journal)
    if resumed:
        print(
            f"listrank: resuming: {resumed} of {n_queries} queries already done in {journal.path}",
            file=sys.stderr,
        )
    elif journal.discarded:
        print(
            f"listrank: {journal.path} was from another command ({journal.why}): starting over",
            file=sys.stderr,
        )
    if journal.damaged:
        print(
            f"listrank: {journal.path}: {journal.damaged} damaged entries (checksum) are redone",
            file=sys.stderr,
        )
    finished_here: list[str] = []  # the first query finished by this run, if any
    try:
        return _finish(args, source, n_queries, from_journal, pipeline, journal, finished_here)
    except BaseException as exc:
        if not resumed and not finished_here:  # a header-only journal resumes nothing
            journal.remove()
        elif isinstance(exc, KeyboardInterrupt):
            kept = resumed + journal.appended
            print(
                f"listrank: interrupted: {kept} of {n_queries} queries are kept in "
                f"{journal.path}; run the same command again to resume",
                file=sys.stderr,
            )
        raise


def _finish(
    args: argparse.Namespace,
    source: Source,
    n_queries: int,
    from_journal: set[str],
    pipeline: PipelineConfig,
    journal: Journal,
    finished_here: list[str],
) -> int:
    resumed = len(from_journal)
    this_run = RunSummary()
    summary = RunSummary()
    stages: dict[str, float] = {}
    failed: list[tuple[str, str]] = []

    def finished(outcome: Outcome) -> None:
        # journaled as each query finishes (in any order), so a kill loses only those in flight
        progress.update(1)
        if outcome.ranking is None:
            failed.append(_failure(outcome))
            return
        req, ranking = outcome.item, outcome.ranking
        this_run.add(ranking)
        if args.top_k_rerank is not None:
            ranking = dataclasses.replace(ranking, ranked=ranking.ranked[: args.top_k_rerank])
        if args.format == "trec":
            text = "".join(trec_lines(ranking, args.run_tag))
        elif args.format == "rank_llm":
            text = safe_json.dumps(rank_llm_result(req, ranking)) + "\n"
        else:
            text = safe_json.dumps(result_record(req, ranking, args.keep_scores)) + "\n"
        journal.append(Entry(req.query.qid, text, ranking))
        if not finished_here:
            finished_here.append(req.query.qid)

    outcomes: Iterator[Outcome] = iter(())
    # the model loads (and the Reranker checks its own options) before the bar is drawn
    work = n_queries > resumed
    # with worker processes each builds its own pipeline; this one builds none
    reranker = pipeline.build() if work and args.processes == 1 else None
    started = time.perf_counter()  # the run's wall time, model loading left out
    progress = tqdm(total=n_queries - resumed, desc="queries", unit="q", disable=args.no_progress)
    # one read of the input feeds both the scheduler and the writer's input order; the copy
    # the scheduler has read ahead is bounded by the queries in flight
    for_scheduler, in_order = itertools.tee(source()) if work else (iter(()), iter(source()))
    pending = (r for r in for_scheduler if r.query.qid not in from_journal)
    if reranker is not None:
        outcomes = reranker.rerank_stream(
            pending, max_in_flight=args.max_in_flight, ordered=True, on_done=finished
        )
    elif work:
        outcomes = process_stream(
            pipeline,
            pending,
            processes=args.processes,
            max_in_flight=args.max_in_flight,
            ordered=True,
            on_done=finished,
        )
    traced = 0
    with contextlib.ExitStack() as files:
        fh = files.enter_context(atomic_writer(args.output))
        trace = files.enter_context(atomic_writer(args.trace)) if args.trace else None
        # the output is written in input order as queries finish; resumed ones come from the
        # journal, and each written entry is dropped from memory (a large file stays flat)
        for req in in_order:
            qid = req.query.qid
            if qid not in from_journal:
                outcome = next(outcomes)
                assert outcome.item.query.qid == qid  # the stream keeps input order
                if outcome.ranking is None:
                    continue
            entry = journal.done[qid]
            fh.write(entry.text)
            if trace is not None:
                text = trace_text(entry.ranking)
                traced += text.count("\n")
                trace.write(text)
            summary.add(entry.ranking)
            for stage, seconds in entry.ranking.trace.stage_latency_s.items():
                key = stage.split(".")[0]
                stages[key] = stages.get(key, 0.0) + seconds
            del journal.done[qid]
        progress.close()
        if failed:
            # a file output is not written; the finished queries stay in the journal
            journal.close()
            kept = n_queries - len(failed)
            shown = "; ".join(why for _, why in failed[:5]) + ("; …" if len(failed) > 5 else "")
            if streams.is_stream(args.output):  # already streamed out; nothing to resume
                journal.remove()
                where = f"were written to {streams.display_name(args.output)}"
            else:
                where = (
                    f"are kept in {journal.path}: run the same command again to retry only the "
                    "failed ones"
                )
            raise QueriesFailedError(
                f"{len(failed)} of {n_queries} queries failed: {shown}. The {kept} others {where}",
                errors={},
                results=[],
                qids=[qid for qid, _ in failed],
            )
    journal.remove()
    summary.wall_s = time.perf_counter() - started
    if args.trace:
        print(
            f"listrank: wrote {streams.display_name(args.trace)}: {traced} model calls",
            file=sys.stderr,
        )
    shown = streams.display_name(args.output)
    print(f"listrank: wrote {shown}: {summary.format()}", file=sys.stderr)
    per_stage = ", ".join(f"{k} {v / n_queries:.3f}" for k, v in stages.items())
    print(f"listrank: stage latency, s/query: {per_stage}", file=sys.stderr)
    if resumed:
        print(
            f"listrank: this run: {this_run.queries} queries, {this_run.calls} model calls "
            f"({this_run.cached_calls} cached); {resumed} queries taken from the journal",
            file=sys.stderr,
        )
    warning = summary.order_warning()
    if warning:
        print(f"listrank: {warning}", file=sys.stderr)
    return 0
