"""In-process batch runner: one pipeline, the pending shards' queries pulled in input order
and reranked many at once (``Reranker.rerank_stream``)."""

from __future__ import annotations

from collections.abc import Sequence

from listrank.batch.collect import ShardCollector
from listrank.batch.shards import Shard
from listrank.batch.work import RerankerFactory, rerank_all, worker_id
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
    positions = (p for shard in pending for p in range(shard.start, shard.stop))
    # many queries in flight; shards are written as their last query arrives, in any order
    for result in rerank_all(reranker, ((p, requests[p]) for p in positions), worker, trace):
        collector.add(result)
