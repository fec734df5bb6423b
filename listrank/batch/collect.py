"""The driver side of a batch job: buffers results per shard, writes each shard the moment it is
complete, records it in the manifest, and keeps the one progress display and the statistics.

Results may arrive in any order and, after a worker was retried, more than once; each query is
kept once and a shard is written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from listrank.batch.shards import Manifest, Shard, ShardFormat, file_sha256, write_shard
from listrank.batch.stats import merge_into, summary_fields
from listrank.batch.work import QueryResult
from listrank.errors import ListrankError
from listrank.evaluation.summary import RunSummary
from listrank.runs.io import atomic_writer

TRACE_DIR = "trace"
"""Per-shard call traces under the output folder (written when the job has --trace)."""


class Progress(Protocol):
    def update(self, n: int = 1) -> Any: ...


class ShardCollector:
    def __init__(
        self,
        out_dir: Path,
        pending: Sequence[Shard],
        fmt: ShardFormat,
        manifest: Manifest,
        progress: Progress | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.fmt = fmt
        self.manifest = manifest
        self.progress = progress
        self._shard_of = {p: s for s in pending for p in range(s.start, s.stop)}
        self._buffers: dict[int, dict[int, QueryResult]] = {s.index: {} for s in pending}
        self.summary = RunSummary()
        """This run's statistics (shards skipped on resume are not in it)."""
        self.workers: dict[str, RunSummary] = {}
        self.repeats = 0
        """Results that arrived again for an already kept query (a retried worker)."""
        self.written: list[Shard] = []

    def add(self, result: QueryResult) -> None:
        shard = self._shard_of.get(result.position)
        if shard is None:
            raise ListrankError(f"result for query position {result.position} was not asked for")
        buffer = self._buffers.get(shard.index)
        if buffer is None or result.position in buffer:
            self.repeats += 1
            return
        buffer[result.position] = result
        merge_into(self.summary, result.stats)
        merge_into(self.workers.setdefault(result.worker, RunSummary()), result.stats)
        if self.progress is not None:
            self.progress.update(1)
        if len(buffer) == shard.size:
            self._write(shard, buffer)

    def _write(self, shard: Shard, buffer: dict[int, QueryResult]) -> None:
        ordered = [buffer[p] for p in range(shard.start, shard.stop)]
        name = shard.filename(self.fmt)
        if any(r.trace for r in ordered):  # beside the shard, joined into --trace at the end
            with atomic_writer(self.out_dir / TRACE_DIR / f"{Path(name).stem}.jsonl") as fh:
                fh.writelines(r.trace for r in ordered)
        path = self.out_dir / name
        write_shard(path, [r.record for r in ordered], self.fmt)
        per_worker: dict[str, RunSummary] = {}
        for r in ordered:
            merge_into(per_worker.setdefault(r.worker, RunSummary()), r.stats)
        previous = self.manifest.shards.get(shard.index, {})
        self.manifest.shards[shard.index] = {
            "file": name,
            "start": shard.start,
            "queries": shard.size,
            "bytes": path.stat().st_size,
            "sha256": file_sha256(path),
            "computed": int(previous.get("computed", 0)) + 1,
            "workers": {w: summary_fields(s) for w, s in sorted(per_worker.items())},
        }
        self.manifest.save(self.out_dir)
        del self._buffers[shard.index]
        self.written.append(shard)

    def finish(self) -> None:
        """Every asked-for query must have arrived: a lost query is an error, never a gap."""
        if self._buffers:
            missing = sum(
                s.size - len(self._buffers[s.index])
                for s in set(self._shard_of.values())
                if s.index in self._buffers
            )
            raise ListrankError(
                f"batch ended with {missing} queries unfinished in {len(self._buffers)} shard(s); "
                "rerun the same command to resume"
            )
