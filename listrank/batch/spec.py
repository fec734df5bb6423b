"""What a batch job is asked to do: its input, output folder, pipeline and where it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from listrank.batch.shards import ShardFormat
from listrank.pipeline.config import PipelineConfig


@dataclass(frozen=True)
class BatchJob:
    input: Path
    out_dir: Path
    config: PipelineConfig = field(default_factory=PipelineConfig)
    shard_size: int = 100
    fmt: ShardFormat = "jsonl"
    ray: bool = False
    address: str | None = None
    """Ray cluster to join ("auto", "ray://host:10001"); None starts a local one."""
    workers: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float | None = None
    """None: derived from the config (vLLM: tensor_parallel_size; hf on cuda: 1)."""
    progress: bool = True
    trace: Path | None = None
    """Where the call trace of this run's queries goes (one JSON line per model call)."""
    restart: bool = False
    """Discard the results of an earlier, different job in ``out_dir`` instead of refusing."""
