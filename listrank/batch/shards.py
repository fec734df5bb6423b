"""Deterministic shards (by input order) and the manifest that makes an interrupted job resume.

A shard is a contiguous slice of the input; its output file is written atomically once all of
its queries are reranked, then the manifest records it with the file's size and SHA-256. A
shard counts as complete only when both agree and the file still has that size and checksum,
so a crash between the two, or a shard file truncated, emptied or edited later, merely
recomputes that shard.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from listrank.errors import ConfigError, InputError
from listrank.runs import safe_json
from listrank.runs.io import atomic_writer

ShardFormat = Literal["jsonl", "parquet"]
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Shard:
    index: int
    start: int
    stop: int
    """Query positions [start, stop) in input order."""

    @property
    def size(self) -> int:
        return self.stop - self.start

    def filename(self, fmt: ShardFormat) -> str:
        return f"shard-{self.index:05d}.{fmt}"


def plan_shards(n_queries: int, shard_size: int) -> list[Shard]:
    if shard_size < 1:
        raise ConfigError("--shard-size must be >= 1")
    return [
        Shard(i, start, min(start + shard_size, n_queries))
        for i, start in enumerate(range(0, n_queries, shard_size))
    ]


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    return digest.hexdigest()


@dataclass
class Manifest:
    """What the output folder holds. ``job`` identifies input, config and sharding: resuming
    into a folder made by a different job is refused rather than mixing results."""

    job: dict[str, Any]
    shards: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Complete shards: file, queries, times computed, worker summaries."""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "job": self.job,
            "shards": {f"{i:05d}": entry for i, entry in sorted(self.shards.items())},
        }

    @classmethod
    def load_or_create(
        cls, out_dir: Path, job: Mapping[str, Any], *, restart: bool = False
    ) -> Manifest:
        path = out_dir / MANIFEST
        if not path.exists():
            return cls(dict(job))
        if restart:  # the earlier job's shards are recomputed (and overwritten) as they finish
            return cls(dict(job))
        try:
            data = safe_json.loads(path.read_bytes())
            old_job, shards = data["job"], data["shards"]
            if not isinstance(old_job, dict) or not isinstance(shards, dict):
                raise TypeError("'job' and 'shards' must be objects")
            shards = {int(k): v for k, v in shards.items()}
            for entry in shards.values():
                if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
                    raise TypeError("each shard must be an object with a 'file' name")
                if not isinstance(entry.get("workers"), dict):
                    raise TypeError("a shard's 'workers' must be an object")
        except (OSError, ValueError, KeyError, TypeError, InputError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"{path} is not a listrank batch manifest: {reason}") from None
        if old_job != dict(job):
            changed = _differences(old_job, dict(job))
            raise ConfigError(
                f"{out_dir} holds results of a different job ({', '.join(changed)} differ); "
                "use a new output directory, or --restart to recompute every shard there"
            )
        return cls(dict(job), shards)

    def save(self, out_dir: Path) -> None:
        with atomic_writer(out_dir / MANIFEST) as fh:
            json.dump(self.to_json(), fh, indent=1, sort_keys=True)
            fh.write("\n")

    def is_complete(self, shard: Shard, out_dir: Path) -> bool:
        """Recorded with this size, and the file still has its recorded length and checksum."""
        entry = self.shards.get(shard.index)
        if entry is None or entry.get("queries") != shard.size:
            return False
        path = out_dir / str(entry["file"])
        try:
            if not path.is_file() or path.stat().st_size != entry.get("bytes"):
                return False
            return file_sha256(path) == entry.get("sha256")
        except (OSError, InputError):
            return False


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Keys whose values differ; inside the provenance, the labels of the inputs that changed."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and k == "provenance":
            out += [label for label in sorted(set(a) | set(b)) if a.get(label) != b.get(label)]
        else:
            out.append(k)
    return out


def write_shard(path: Path, records: list[dict[str, Any]], fmt: ShardFormat) -> None:
    """One shard's results in input order, renamed into place only when complete."""
    if fmt == "jsonl":
        with atomic_writer(path) as fh:
            for record in records:
                fh.write(safe_json.dumps(record) + "\n")
        return
    _write_parquet(path, records)


def _write_parquet(path: Path, records: list[dict[str, Any]]) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError(
            "--format parquet needs pyarrow: pip install 'listrank[ray]' (or pyarrow)"
        ) from exc
    # flat columns: nested raw candidate objects vary between inputs; JSONL keeps them all
    rows = [
        {
            "qid": r["qid"],
            "query": r["query"],
            "docids": [str(c["docid"]) for c in r["candidates"]],
            "scores": [float(c["score"]) for c in r["candidates"]],
        }
        for r in (_flat(rec) for rec in records)
    ]
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(pa.Table.from_pylist(rows), tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _flat(record: Mapping[str, Any]) -> dict[str, Any]:
    q = record["query"]
    if isinstance(q, Mapping):  # rank_llm form
        return {"qid": q["qid"], "query": q["text"], "candidates": record["candidates"]}
    return dict(record)
