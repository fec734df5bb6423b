"""Batch throughput on Ray with 1 and 2 workers: embedded model, a slice of DL19 BM25 top-20.

Each worker is one Ray actor with its own copy of the pipeline; the CPUs of this machine are
split between them (1 worker: 2 torch threads; 2 workers: 1 thread each), so the ratio shows
what process-level parallelism adds over torch's own threading here. Wall time includes the
actors' start-up and model loading; "model q/s" counts only the reranking time of the busiest
worker. Run: python -m benchmarks batch_scaling [--queries N].
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from listrank.batch import BatchJob, run_batch
from listrank.pipeline.config import PipelineConfig

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SOURCE = DATA / "trec-dl19-passage" / "dl19.bm25.top100.normalized.jsonl"
CONFIG = {
    "method": {"name": "rankgpt", "max_passage_words": 30, "max_new_tokens": 40},
    "strategy": {"name": "sliding", "window": 20, "step": 10},
}


def write_slice(path: Path, queries: int) -> None:
    with SOURCE.open(encoding="utf-8") as src, path.open("w", encoding="utf-8") as out:
        for _, line in zip(range(queries), src, strict=False):
            row = json.loads(line)
            out.write(json.dumps({**row, "candidates": row["candidates"][:20]}) + "\n")


def measure(inp: Path, workers: int, cores: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        job = BatchJob(
            inp,
            Path(out),
            PipelineConfig.from_dict(CONFIG, "batch_scaling"),
            shard_size=1,
            ray=True,
            workers=workers,
            cpus_per_worker=cores / workers,
            progress=False,
        )
        start = time.perf_counter()
        report = run_batch(job)
        wall = time.perf_counter() - start
    busiest = max(s.latency_s_total for s in report.workers.values())
    n = report.summary.queries
    return {
        "workers": workers,
        "queries": n,
        "wall_s": wall,
        "qps": n / wall,
        "model_qps": n / busiest,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks batch_scaling")
    parser.add_argument("--queries", type=int, default=6)
    parser.add_argument("--reverse", action="store_true", help="measure 2 workers first")
    args = parser.parse_args(argv)
    if not SOURCE.is_file():
        print(f"skipped: {SOURCE} not found")
        return 0
    try:
        import ray
    except ImportError:
        print("skipped: Ray is not installed (pip install 'listrank[ray]')")
        return 0
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "dl19-top20.jsonl"
        write_slice(inp, args.queries)
        ray.init(num_cpus=cores, include_dashboard=False, logging_level=logging.WARNING)
        try:
            order = (2, 1) if args.reverse else (1, 2)
            rows = sorted((measure(inp, w, cores) for w in order), key=lambda r: r["workers"])
        finally:
            ray.shutdown()
    print(f"\n{cores} CPU cores; {args.queries} DL19 queries x 20 BM25 candidates; RankGPT 20/10")
    print(f"{'workers':>7} {'queries':>7} {'wall s':>8} {'q/s':>7} {'model q/s':>9}")
    for r in rows:
        print(
            f"{r['workers']:>7} {r['queries']:>7} {r['wall_s']:>8.1f} {r['qps']:>7.3f} "
            f"{r['model_qps']:>9.3f}"
        )
    one, two = rows
    print(
        f"ratio 2/1 workers: {two['qps'] / one['qps']:.2f}x wall, "
        f"{two['model_qps'] / one['model_qps']:.2f}x model time"
    )
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
