"""Many queries in flight: run each query's strategy in a worker thread, at most
``max_in_flight`` at once, pulling the input lazily so memory is bounded by the number in
flight, not by the input size.

Strategies stay plain synchronous code. With a backend that runs one call at a time on a batch
(transformers, vLLM), workers are registered with the reranker's :class:`~.gate.StageGate`,
which merges the blocks of every query waiting at a stage into one backend call. A backend that
takes concurrent calls itself (its declared ``Feeding`` is ``concurrent``: the OpenAI-compatible
one, bounded by its own concurrency and RPM/TPM limits) gets each worker's calls directly.

A query's answer never depends on what it ran beside (same prompts as one at a time), and a
failure is that query's own: it comes back as the :class:`Outcome`'s ``error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from listrank.backends.aio import cancel_all
from listrank.backends.base import DEFAULT_IN_FLIGHT, feeding_of
from listrank.errors import ConfigError, QueriesFailedError
from listrank.pipeline.gate import StageGate
from listrank.types import Candidate, Query, Ranking

DEFAULT_MAX_IN_FLIGHT = DEFAULT_IN_FLIGHT
Item = Any
"""A ``runs.io.Request`` or a ``(query, candidates)`` pair."""


@dataclass(frozen=True)
class Outcome:
    """One finished query: its input position, the input item, and a ranking or an error."""

    index: int
    item: Item
    ranking: Ranking | None
    error: Exception | None = None

    @property
    def qid(self) -> str:
        query = self.item.query if hasattr(self.item, "query") else self.item[0]
        return query.qid if isinstance(query, Query) else ""


def unpack(item: Item) -> tuple[str | Query, Sequence[Candidate | str | Any]]:
    if hasattr(item, "query") and hasattr(item, "candidates"):
        return item.query, item.candidates
    try:
        query, candidates = item
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"rerank_many takes Requests or (query, candidates) pairs, not {type(item).__name__}"
        ) from exc
    return query, candidates


def concurrent_calls(backend: object) -> bool:
    """True when the backend takes concurrent calls and limits them itself (its declared
    ``Feeding``; see ``backends.base``)."""
    return not feeding_of(backend).merges_calls


def default_max_in_flight(backend: object) -> int:
    """Enough queries to keep the backend busy, as its declared ``Feeding`` says (e.g. one
    query at a time for transformers on a CPU, where merged, padded batches measured slower
    than one query at a time: ``python -m benchmarks throughput``, hf rows)."""
    return feeding_of(backend).in_flight


def stream(
    rerank: Callable[[str | Query, Sequence[Any]], Ranking],
    items: Iterable[Item],
    *,
    max_in_flight: int,
    gate: StageGate | None = None,
    ordered: bool = False,
    lookahead: int | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> Iterator[Outcome]:
    """Outcomes as queries finish (``ordered=True``: in input order, holding at most
    ``lookahead`` finished ones back behind a slow query; default ``max_in_flight``).
    ``on_done`` sees every outcome the moment it finishes, in completion order (e.g. to
    journal it), before it is held back for order."""
    if max_in_flight < 1:
        raise ConfigError("max_in_flight must be >= 1")
    hold = max_in_flight if lookahead is None else max(0, lookahead)

    def one(item: Item) -> Ranking:
        query, candidates = unpack(item)
        if gate is None:
            return rerank(query, candidates)
        with gate.worker(expected=True):
            return rerank(query, candidates)

    source = enumerate(items)
    running: dict[Future[Ranking], tuple[int, Item]] = {}
    finished: dict[int, Outcome] = {}
    next_out = 0
    exhausted = False
    pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="listrank-query")
    try:
        while True:
            pulled: list[tuple[int, Item]] = []
            while (
                not exhausted
                and len(running) + len(pulled) < max_in_flight
                and len(running) + len(pulled) + len(finished) < max_in_flight + hold
            ):
                try:
                    pulled.append(next(source))
                except StopIteration:
                    exhausted = True
            if gate is not None and pulled:
                gate.expect(len(pulled))
            for index, item in pulled:
                running[pool.submit(one, item)] = (index, item)
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index, item = running.pop(future)
                error = future.exception()
                if error is not None and not isinstance(error, Exception):
                    raise error
                outcome = Outcome(
                    index,
                    item,
                    None if error else future.result(),
                    error,
                )
                if on_done is not None:
                    on_done(outcome)
                if not ordered:
                    yield outcome
                else:
                    finished[index] = outcome
            while next_out in finished:
                yield finished.pop(next_out)
                next_out += 1
    except (KeyboardInterrupt, SystemExit):
        # the process is going down (Ctrl-C): API calls in flight are cancelled at once, so
        # the workers return now instead of when each call times out
        cancel_all()
        raise
    finally:
        # an abandoned or failed stream: the running queries finish (each was counted by the
        # gate, so none may be cancelled before it starts); no new ones are pulled
        pool.shutdown(wait=True)


def collect(outcomes: Iterable[Outcome], *, return_exceptions: bool) -> list[Any]:
    """Results in input order; failures raise one QueriesFailedError unless returned."""
    by_index = {o.index: o for o in outcomes}
    ordered = [by_index[i] for i in range(len(by_index))]
    if return_exceptions:
        return [o.ranking if o.error is None else o.error for o in ordered]
    failed = {o.index: o.error for o in ordered if o.error is not None}
    if failed:
        qids = [ordered[i].qid or f"#{i}" for i in failed]
        raise QueriesFailedError(
            f"{len(failed)} of {len(ordered)} queries failed: {', '.join(qids)}; first error: "
            f"{next(iter(failed.values()))}",
            errors=failed,
            results=[o.ranking for o in ordered],
            qids=qids,
        )
    return [o.ranking for o in ordered]


async def astream(
    run: Callable[[], Iterator[Outcome]],
) -> AsyncIterator[Outcome]:
    """An async iterator over ``run()``'s outcomes; the stream itself runs in a thread."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Outcome | BaseException | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for outcome in run():
                loop.call_soon_threadsafe(queue.put_nowait, outcome)
        except BaseException as exc:  # re-raised in the consumer
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        else:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    task = asyncio.ensure_future(asyncio.to_thread(pump))
    while (got := await queue.get()) is not None:
        if isinstance(got, BaseException):
            raise got
        yield got
    await task
