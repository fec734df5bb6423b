"""Many queries across processes, for API backends: one interpreter's lock caps a client at a
few hundred calls per second (its CPU per call), so ``--processes N`` shards the queries over N
worker processes, each with its own pipeline and scheduler.

The parent reads the input and hands query ``i`` to worker ``i mod N`` (a fixed sharding), at
most ``window`` queries outstanding per worker, so memory stays bounded by the queries in flight.
Each worker runs its share through ``Reranker.rerank_stream`` and sends every outcome back; the
parent yields them as :func:`scheduler.stream` does (in input order with ``ordered``), so what
is written from them -- output, journal entries, resume -- is what one process writes. A query's
answer does not depend on the process that ran it (same prompts, same calls).

Why processes rather than Ray actors: the work is I/O bound and stateless per query; plain
``multiprocessing`` needs no extra dependency and keeps the parent in charge of input order and
the journal. Workers fork from a fork server that imported the pipeline's modules once (where
the platform has one; else they are spawned), so N workers do not import everything N times.
"""

from __future__ import annotations

import pickle
import queue as queue_mod
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from listrank.errors import BackendError, ConfigError, ListrankError
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.scheduler import Item, Outcome

DEFAULT_WINDOW = 64
"""Queries outstanding per worker when the pipeline's own default is unknown to the parent."""
_POLL_S = 1.0


def _portable(error: BaseException) -> BaseException:
    """The error itself if it survives pickling, else a BackendError with its text."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return BackendError(f"{type(error).__name__}: {error}")
    return error


def _work(
    cfg: PipelineConfig, inbox: Any, outbox: Any, max_in_flight: int | None, worker: int
) -> None:
    """One worker process: rerank what arrives on ``inbox`` until ``None``."""
    try:
        reranker = cfg.build()
    except Exception as exc:  # reported once; the parent stops
        outbox.put(("failed", worker, _portable(exc)))
        return
    indexes: list[int] = []

    def items() -> Iterator[Item]:
        while (got := inbox.get()) is not None:
            index, item = got
            indexes.append(index)
            yield item

    for outcome in reranker.rerank_stream(items(), max_in_flight=max_in_flight):
        error = None if outcome.error is None else _portable(outcome.error)
        outbox.put(("done", indexes[outcome.index], (outcome.ranking, error)))
    outbox.put(("exit", worker, None))


def _context(cfg: PipelineConfig) -> Any:
    """Where workers come from: forked from a fork server that imported the pipeline's modules
    once (each spawned worker would import them all again, most of its start-up), or spawned
    where there is no fork server. Never a fork of this process, which may hold threads."""
    import multiprocessing  # here: one process needs none of it

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_modules(cfg))
    return ctx


def _modules(cfg: PipelineConfig) -> list[str]:
    """The modules a worker imports to build ``cfg``: the pipeline and its components."""
    from listrank import registry

    modules = ["listrank.pipeline.processes"]
    for kind, spec in (
        ("backend", cfg.backend),
        ("method", cfg.method),
        ("strategy", cfg.strategy),
    ):
        try:
            modules.append(registry.get(kind, spec.name).target.partition(":")[0])
        except ListrankError:  # the worker reports it when it builds
            continue
    return modules


def process_stream(
    cfg: PipelineConfig,
    items: Iterable[Item],
    *,
    processes: int,
    max_in_flight: int | None = None,
    ordered: bool = False,
    on_done: Callable[[Outcome], None] | None = None,
) -> Iterator[Outcome]:
    """Outcomes of ``items`` reranked by ``processes`` worker processes (see the module
    docstring); ``max_in_flight`` is per process (default: the pipeline's own)."""
    if processes < 1:
        raise ConfigError("processes must be >= 1")
    ctx = _context(cfg)
    inboxes = [ctx.Queue() for _ in range(processes)]
    outbox = ctx.Queue()
    workers = [
        ctx.Process(
            target=_work,
            args=(cfg, inboxes[k], outbox, max_in_flight, k),
            name=f"listrank-worker-{k}",
            daemon=True,
        )
        for k in range(processes)
    ]
    for w in workers:
        w.start()
    window = max_in_flight or DEFAULT_WINDOW
    outstanding = [0] * processes
    pending: dict[int, Item] = {}
    finished: dict[int, Outcome] = {}
    source = enumerate(items)
    next_index = next_out = 0
    exhausted = False
    exited = 0
    try:
        while True:
            # keep every worker's share topped up, in input order, round-robin
            while not exhausted and outstanding[next_index % processes] < window:
                try:
                    index, item = next(source)
                except StopIteration:
                    exhausted = True
                    for box in inboxes:
                        box.put(None)
                    break
                k = index % processes
                pending[index] = item
                outstanding[k] += 1
                inboxes[k].put((index, item))
                next_index = index + 1
            if exited == processes:
                break
            try:
                kind, key, payload = outbox.get(timeout=_POLL_S)
            except queue_mod.Empty:
                dead = [w.name for w in workers if not w.is_alive() and w.exitcode]
                if dead:
                    raise BackendError(f"worker process {dead[0]} died") from None
                continue
            if kind == "failed":
                raise payload
            if kind == "exit":
                exited += 1
                continue
            ranking, error = payload
            outstanding[key % processes] -= 1
            outcome = Outcome(key, pending.pop(key), ranking, error)
            if on_done is not None:
                on_done(outcome)
            if not ordered:
                yield outcome
            else:
                finished[key] = outcome
                while next_out in finished:
                    yield finished.pop(next_out)
                    next_out += 1
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
            w.join(timeout=10)
