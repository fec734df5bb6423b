"""A batch job: validate the whole input, plan shards, skip the complete ones, run the rest
in-process or on Ray, and report one run summary."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from listrank.batch.collect import TRACE_DIR, ShardCollector
from listrank.batch.shards import Manifest, Shard, file_sha256, plan_shards
from listrank.batch.spec import BatchJob
from listrank.batch.stats import merge
from listrank.batch.work import RerankerFactory, build_from_config
from listrank.errors import ConfigError
from listrank.evaluation.summary import RunSummary
from listrank.pipeline.provenance import provenance
from listrank.runs.io import atomic_writer, read_requests
from listrank.runs.output_checks import check_output_dir, check_output_file

SUMMARY = "summary.json"


@dataclass
class BatchReport:
    summary: RunSummary
    """Every shard of the job, including those completed by earlier runs."""
    this_run: RunSummary
    workers: dict[str, RunSummary]
    shards: int
    skipped: int
    computed: int
    repeats: int
    files: list[Path] = field(default_factory=list)


def job_identity(job: BatchJob, n_queries: int) -> dict[str, Any]:
    """What must match for a rerun to reuse complete shards (not worker counts or addresses)."""
    config = {k: v for k, v in asdict(job.config).items() if k != "source"}
    identity = {
        "input_sha256": file_sha256(job.input),
        # every file the results depend on (template, calibration pool …), by label
        "provenance": provenance(job.config, {"input": job.input}),
        "queries": n_queries,
        "shard_size": job.shard_size,
        "format": job.fmt,
        "config": config,
    }
    # as JSON reads it back (tuples become lists), so old and new compare equal
    loaded: dict[str, Any] = json.loads(json.dumps(identity, sort_keys=True, default=str))
    return loaded


def run_batch(job: BatchJob, factory: RerankerFactory = build_from_config) -> BatchReport:
    created = not job.out_dir.exists()
    try:
        return _run_batch(job, factory)
    except BaseException:
        # a failed first run leaves no empty output folder behind (complete shards stay)
        if created and job.out_dir.is_dir() and not any(job.out_dir.iterdir()):
            job.out_dir.rmdir()
        raise


def _run_batch(job: BatchJob, factory: RerankerFactory) -> BatchReport:
    if job.workers < 1:
        raise ConfigError("--workers must be >= 1")
    if job.workers > 1 and not job.ray:
        raise ConfigError("--workers above 1 needs --ray (without it the job runs in-process)")
    requests = read_requests(job.input)  # validate everything before any work
    check_output_dir(job.out_dir, [job.input])
    if job.trace is not None:  # checked now, not after every shard is computed
        check_output_file(job.trace, [job.input])
    shards = plan_shards(len(requests), job.shard_size)
    job.out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest.load_or_create(
        job.out_dir, job_identity(job, len(requests)), restart=job.restart
    )
    if job.restart:  # an earlier job's shard files beyond this plan would be mistaken for ours
        planned = {s.filename(job.fmt) for s in shards}
        for old in job.out_dir.glob("shard-*.*"):
            if old.name not in planned:
                old.unlink()
    pending = [s for s in shards if not manifest.is_complete(s, job.out_dir)]
    total = sum(s.size for s in pending)
    with tqdm(
        total=total, desc="queries", unit="q", disable=not job.progress, file=sys.stderr
    ) as bar:
        collector = ShardCollector(job.out_dir, pending, job.fmt, manifest, bar)
        if pending and job.ray:
            from listrank.batch.ray_runner import run_on_ray

            run_on_ray(requests, pending, job, factory, collector)
        elif pending:
            from listrank.batch.local import run_local

            run_local(requests, pending, job.config, factory, collector, job.trace is not None)
        collector.finish()
    if job.trace is not None:
        _join_traces(job, shards)
    whole = merge(w for entry in manifest.shards.values() for w in entry["workers"].values())
    report = BatchReport(
        summary=whole,
        this_run=collector.summary,
        workers=collector.workers,
        shards=len(shards),
        skipped=len(shards) - len(pending),
        computed=len(collector.written),
        repeats=collector.repeats,
        files=[job.out_dir / s.filename(job.fmt) for s in shards],
    )
    _write_summary(job.out_dir, report)
    return report


def _join_traces(job: BatchJob, shards: Sequence[Shard]) -> None:
    """The shards' traces, in input order, as one file; shards done by an earlier run without
    --trace have none, and the message says how many."""
    assert job.trace is not None
    missing = 0
    with atomic_writer(job.trace) as out:
        for shard in shards:
            part = job.out_dir / TRACE_DIR / f"{Path(shard.filename(job.fmt)).stem}.jsonl"
            if not part.exists():
                missing += 1
                continue
            with open(part, encoding="utf-8") as fh:
                shutil.copyfileobj(fh, out)
    if missing:
        print(
            f"listrank: {job.trace}: {missing} of {len(shards)} shards were computed without "
            "--trace and have no call trace",
            file=sys.stderr,
        )


def _write_summary(out_dir: Path, report: BatchReport) -> None:
    data = {
        "summary": report.summary.as_dict(),
        "this_run": report.this_run.as_dict(),
        "workers": {w: s.as_dict() for w, s in sorted(report.workers.items())},
        "shards": report.shards,
        "skipped_shards": report.skipped,
        "computed_shards": report.computed,
        "repeated_results": report.repeats,
    }
    with atomic_writer(out_dir / SUMMARY) as fh:
        json.dump(data, fh, indent=1)
        fh.write("\n")
