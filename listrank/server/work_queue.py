"""The bounded queue in front of the model.

Requests wait in FIFO order; ``workers`` tasks take them one at a time and run the blocking
rerank on the queue's own thread pool of exactly ``workers`` threads (not the event loop's
default executor, which caps at ``min(32, cpu_count + 4)`` whatever ``workers`` says), so the
event loop keeps accepting (and refusing) requests meanwhile.

Admission counts every request admitted and not yet finished -- waiting or running -- against
``workers + size``: a burst that arrives before any worker has picked up a job is admitted as
long as workers are free, and only a request that would have to wait behind ``size`` others
is refused at once, with a Retry-After estimate, instead of letting latency grow without bound.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from listrank.types import Ranking

RerankFn = Callable[[str, Sequence[str]], Ranking]

_MIN_RETRY_S = 1
_MAX_RETRY_S = 60
_EMA = 0.2  # weight of the newest service time in the running estimate


class QueueFullError(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the queue is full; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass
class _Job:
    query: str
    documents: Sequence[str]
    future: asyncio.Future[Ranking]
    enqueued: float = field(default_factory=time.monotonic)
    started: float | None = None


@dataclass(frozen=True)
class JobTiming:
    queue_s: float
    run_s: float


class RerankQueue:
    def __init__(self, rerank: RerankFn, *, size: int, workers: int) -> None:
        self._rerank = rerank
        self.size = size
        self.workers = workers
        self.in_flight = 0
        self.served = 0
        self.admitted = 0
        """Requests admitted and not finished (waiting or running)."""
        self._service_s: float | None = None
        self._queue: asyncio.Queue[_Job] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pool: ThreadPoolExecutor | None = None

    @property
    def capacity(self) -> int:
        """Requests that may be admitted at once: one per worker plus ``size`` waiting."""
        return self.workers + self.size

    @property
    def waiting(self) -> int:
        return self.admitted - self.in_flight

    async def start(self) -> None:
        # created here so the queue belongs to the server's event loop
        self._queue = asyncio.Queue()
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="listrank-serve")
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def retry_after_s(self) -> int:
        """Seconds until a place is likely free: the work ahead divided among the workers."""
        per_job = self._service_s if self._service_s is not None else 1.0
        ahead = self.admitted / self.workers
        return max(_MIN_RETRY_S, min(_MAX_RETRY_S, math.ceil(ahead * per_job)))

    async def submit(self, query: str, documents: Sequence[str]) -> tuple[Ranking, JobTiming]:
        if self._queue is None:
            raise RuntimeError("RerankQueue.start() was not awaited")
        if self.admitted >= self.capacity:
            raise QueueFullError(self.retry_after_s())
        job = _Job(query, documents, asyncio.get_running_loop().create_future())
        self.admitted += 1  # given back by the worker that runs (or skips) the job
        self._queue.put_nowait(job)
        # if the client goes away, this await is cancelled, which cancels the future and the
        # worker skips the job instead of spending the model on it
        ranking = await job.future
        done = time.monotonic()
        started = job.started if job.started is not None else done
        return ranking, JobTiming(queue_s=started - job.enqueued, run_s=done - started)

    async def _worker(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            try:
                if not job.future.done():
                    await self._run(job)
            finally:
                self.admitted -= 1
                self._queue.task_done()

    async def _run(self, job: _Job) -> None:
        assert self._pool is not None
        job.started = time.monotonic()
        self.in_flight += 1
        loop = asyncio.get_running_loop()
        # the job runs in a copy of this task's context, as asyncio.to_thread would run it
        ctx = contextvars.copy_context()
        try:
            ranking = await loop.run_in_executor(
                self._pool, ctx.run, self._rerank, job.query, job.documents
            )
        except Exception as exc:
            if not job.future.done():
                job.future.set_exception(exc)
        else:
            if not job.future.done():
                job.future.set_result(ranking)
        finally:
            self.in_flight -= 1
            self.served += 1
            elapsed = time.monotonic() - job.started
            prev = self._service_s
            self._service_s = elapsed if prev is None else (1 - _EMA) * prev + _EMA * elapsed
