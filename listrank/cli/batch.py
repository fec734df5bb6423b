"""`listrank batch IN.jsonl -o OUT_DIR`: rerank a large query set in resumable shards,
in-process or across a Ray cluster."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from listrank.batch import BatchJob, run_batch
from listrank.cli.common import add_component_options, add_trace_option, pipeline_config


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "batch",
        help="rerank a large JSONL file in resumable shards, optionally on a Ray cluster",
        description="Rerank every query of IN.jsonl into OUT_DIR/shard-NNNNN.jsonl (input order) "
        "plus manifest.json and summary.json. Shards are written atomically as they complete; "
        "rerunning the same command skips complete shards.",
    )
    p.add_argument("input", help="input JSONL (same forms as `listrank rerank`)")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--shard-size", type=int, default=100, help="queries per shard (default 100)")
    p.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--restart",
        action="store_true",
        help="OUT_DIR holds a different job's shards (other input, template, config …): "
        "recompute every shard instead of refusing",
    )
    g = p.add_argument_group("scale-out")
    g.add_argument("--ray", action="store_true", help="run on Ray (pip install 'listrank[ray]')")
    g.add_argument(
        "--address",
        help="Ray cluster to join: auto, ray://HOST:10001 … (default: start a local one)",
    )
    g.add_argument("--workers", type=int, default=1, help="Ray actors, one pipeline each")
    g.add_argument(
        "--cpus-per-worker",
        type=float,
        default=1.0,
        help="CPUs each actor reserves; also its torch thread count (default 1)",
    )
    g.add_argument(
        "--gpus-per-worker",
        type=float,
        help="GPUs each actor reserves (default: vLLM tensor_parallel_size, 1 for hf on cuda)",
    )
    add_trace_option(p)
    add_component_options(p)  # --config and the flags that override it
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    job = BatchJob(
        input=Path(args.input),
        out_dir=Path(args.output),
        config=pipeline_config(args).with_calibration_pool(Path(args.input).resolve()),
        shard_size=args.shard_size,
        fmt=args.format,
        ray=args.ray,
        address=args.address,
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        progress=not args.no_progress,
        trace=Path(args.trace) if args.trace else None,
        restart=args.restart,
    )
    started = time.perf_counter()
    report = run_batch(job)
    # the workers' parts add up their own times; the run's wall time is the driver's
    report.summary.wall_s = time.perf_counter() - started
    print(
        f"listrank: {args.output}: {report.shards} shards ({report.skipped} already complete, "
        f"{report.computed} computed now): {report.summary.format()}",
        file=sys.stderr,
    )
    warning = report.summary.order_warning()
    if warning:
        print(f"listrank: {warning}", file=sys.stderr)
    return 0
