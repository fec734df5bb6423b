"""Ray runner: the pending queries become a Ray Dataset, reranked by a pool of actors.

Each actor builds the pipeline once from the job's config (the model loads once per actor) and
reranks the batches Ray Data hands it. Fault tolerance is Ray's own: actors restart
(``max_restarts``) and the batch a dead actor held is retried (``max_task_retries``), so a killed
worker's queries are redone; the driver keeps each query once. Results stream back to the
driver, which writes shards as they complete (no shared filesystem needed between nodes).
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from listrank import errors, registry
from listrank.backends.base import gpus_wanted
from listrank.batch.collect import ShardCollector
from listrank.batch.ray_cleanup import local_cluster
from listrank.batch.shards import Shard
from listrank.batch.work import (
    QueryResult,
    RerankerFactory,
    payload_request,
    request_payload,
    rerank_all,
    worker_id,
)
from listrank.errors import BackendError, ConfigError, ListrankError
from listrank.pipeline.config import PipelineConfig
from listrank.runs.io import Request

if TYPE_CHECKING:
    from listrank.batch.spec import BatchJob

INSTALL_HINT = "pip install 'listrank[ray]'"
MAX_ROWS_PER_BLOCK = 16
"""Queries per Ray Data block: one actor task, the unit that is retried and reported."""


def import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ConfigError(
            f"--ray needs Ray Data, which is not installed: {INSTALL_HINT} "
            "(or run without --ray to work in-process)"
        ) from exc
    return ray


def gpus_for(config: PipelineConfig) -> float:
    """GPUs one actor asks for, as the backend declares (``gpus(options)``): a vLLM engine its
    tensor-parallel degree, an hf model on CUDA one device; CPU pipelines none."""
    backend = registry.get("backend", config.backend.name).load()
    try:
        return gpus_wanted(backend, config.backend.options)  # the backend's declaration
    except ConfigError as exc:
        raise ConfigError(f"{config.source}: {exc}") from exc


def limit_threads(threads: int) -> None:
    """Each actor gets ``threads`` torch threads, matching the CPUs Ray reserved for it, so
    actors on one node do not oversubscribe its cores."""
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(max(1, threads))


class RerankActor:
    """Ray Data callable class: constructed once per actor, called once per batch."""

    def __init__(
        self, config: PipelineConfig, factory: RerankerFactory, threads: int, trace: bool = False
    ) -> None:
        limit_threads(threads)
        self.reranker = factory(config)
        self.worker = worker_id()
        self.trace = trace

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {
            "position": [],
            "record": [],
            "stats": [],
            "worker": [],
            "trace": [],
        }
        positioned = [
            (int(position), payload_request(str(payload)))
            for position, payload in zip(batch["position"], batch["request"], strict=True)
        ]
        # the batch's queries in flight together: their calls at one stage share backend calls
        for result in rerank_all(self.reranker, positioned, self.worker, self.trace):
            out["trace"].append(result.trace)
            out["position"].append(result.position)
            out["record"].append(json.dumps(result.record, ensure_ascii=False))
            out["stats"].append(json.dumps(result.stats))
            out["worker"].append(result.worker)
        return out


def run_on_ray(
    requests: Sequence[Request],
    pending: Sequence[Shard],
    job: BatchJob,
    factory: RerankerFactory,
    collector: ShardCollector,
) -> None:
    ray = import_ray()
    if ray.is_initialized():  # the caller's cluster: the caller shuts it down
        _run(ray, requests, pending, job, factory, collector)
        return
    try:
        ray.init(address=job.address, include_dashboard=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = job.address or "a new local cluster"
        raise ConfigError(f"cannot start or join Ray ({where}): {exc}") from exc
    # shut down on every exit path, signals and a killed driver included; a cluster we only
    # joined (--address) is disconnected from, never stopped
    with local_cluster(ray, owned=job.address is None):
        _run(ray, requests, pending, job, factory, collector)


def _run(
    ray: Any,
    requests: Sequence[Request],
    pending: Sequence[Shard],
    job: BatchJob,
    factory: RerankerFactory,
    collector: ShardCollector,
) -> None:
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the driver shows the one progress display
    context.print_on_execution_start = False
    positions = [p for s in pending for p in range(s.start, s.stop)]
    items = [{"position": p, "request": request_payload(requests[p])} for p in positions]
    rows_per_block = min(MAX_ROWS_PER_BLOCK, max(1, math.ceil(len(items) / (4 * job.workers))))
    dataset = ray.data.from_items(items, override_num_blocks=math.ceil(len(items) / rows_per_block))
    gpus = job.gpus_per_worker if job.gpus_per_worker is not None else gpus_for(job.config)
    _warn_if_short(ray, job, gpus)
    results = dataset.map_batches(
        RerankActor,
        fn_constructor_kwargs={
            "config": job.config,
            "factory": factory,
            "threads": max(1, int(job.cpus_per_worker)),
            "trace": job.trace is not None,
        },
        batch_size=1,
        batch_format="numpy",
        # a fixed pool; one block at a time per actor keeps long blocks balanced. Ray Data's
        # actor pools restart dead actors and retry the blocks they held (max_restarts=-1,
        # max_task_retries=-1 by default): that is the fault tolerance a killed worker needs.
        compute=ray.data.ActorPoolStrategy(size=job.workers, max_tasks_in_flight_per_actor=1),
        num_cpus=job.cpus_per_worker,
        num_gpus=gpus,
    )
    try:
        # whole blocks as they finish, in completion order (iter_rows would wait for 256 rows)
        for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
            for position, record, stats, worker, trace in zip(
                batch["position"],
                batch["record"],
                batch["stats"],
                batch["worker"],
                batch["trace"],
                strict=True,
            ):
                collector.add(
                    QueryResult(
                        int(position),
                        json.loads(record),
                        json.loads(stats),
                        str(worker),
                        str(trace),
                    )
                )
    except ListrankError:
        raise
    except Exception as exc:
        cause = _listrank_cause(exc)
        if cause is not None:
            raise cause from exc
        raise BackendError(
            f"a batch worker failed: {type(exc).__name__}: {str(exc).splitlines()[0]}; "
            "complete shards are kept, rerun the same command to resume"
        ) from exc


def _listrank_cause(exc: BaseException) -> ListrankError | None:
    """The listrank error a worker raised, unwrapped from Ray's wrappers. An actor that died in
    its constructor (e.g. a model that cannot load) only carries the remote traceback as text,
    so its last ``listrank.errors.X: message`` line is rebuilt as that error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ListrankError):
            return current
        nxt = getattr(current, "cause", None)
        current = nxt if isinstance(nxt, BaseException) else current.__cause__
    found = _REMOTE_ERROR.findall(str(exc))
    if not found:
        return None
    name, message = found[-1]
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, ListrankError):
        try:
            return cls(message)
        except TypeError:  # errors whose constructor takes structured arguments
            return ConfigError(message)
    return None


_REMOTE_ERROR = re.compile(r"listrank\.errors\.(\w+): (.+)")


def _warn_if_short(ray: Any, job: BatchJob, gpus: float) -> None:
    have = ray.cluster_resources()
    for name, per_worker in (("CPU", job.cpus_per_worker), ("GPU", gpus)):
        need = per_worker * job.workers
        if need and have.get(name, 0.0) < need:
            print(
                f"listrank: the Ray cluster has {have.get(name, 0.0):g} {name}s, "
                f"{job.workers} workers ask for {need:g}; fewer will run at once "
                "(or the job waits for the cluster to grow)",
                file=sys.stderr,
            )
