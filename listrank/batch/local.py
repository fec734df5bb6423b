"""In-process batch runner: one pipeline, the pending shards in input order."""

from __future__ import annotations

from collections.abc import Sequence

from listrank.batch.collect import ShardCollector
from listrank.batch.shards import Shard
from listrank.batch.work import RerankerFactory, rerank_one, worker_id
from listrank.pipeline.config import PipelineConfig
from listrank.runs.io import Request


def run_local(
    requests: Sequence[Request],
    pending: Sequence[Shard],
    config: PipelineConfig,
    factory: RerankerFactory,
    collector: ShardCollector,
    trace: bool = False,
) -> None:
    reranker = factory(config)
    worker = worker_id()
    for shard in pending:
        for position in range(shard.start, shard.stop):
            collector.add(rerank_one(reranker, position, requests[position], worker, trace))
