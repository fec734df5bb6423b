"""The stage gate: a backend wrapper that merges the calls of many in-flight queries.

Each query of a scheduled run (``pipeline.scheduler``) runs its strategy in its own worker
thread; the method's backend call goes through this gate. A worker registered with the gate
queues its requests; when every registered worker is waiting (or the oldest has waited
``linger_s``, so a worker blocked elsewhere, e.g. on a calibration prior, cannot stall the
rest), the waiting requests of each kind go to the backend as ONE call, one call at a time,
and each worker gets back exactly its part. Requests are sent sorted by prompt length, so a
transformers backend cuts them into padded batches of similar length.

Calls from threads that are not registered (plain ``rerank``) go straight through. A merged call
that raises is retried per worker, so one query's failure (or its context-overflow retry)
stays its own. ``GatedBackend(inner)`` has exactly the capabilities of ``inner``.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from listrank.backends.wrapping import ForwardingBackend

DEFAULT_LINGER_S = 0.25
RECENT_CALLS = 1024


@dataclass
class _Pending:
    kind: str
    requests: Sequence[Any]
    since: float
    done: bool = False
    result: list[Any] = field(default_factory=list)
    error: BaseException | None = None


def _length(request: Any) -> int:
    """A cheap prompt-length key for grouping similar lengths into one padded batch."""
    messages = getattr(request, "messages", None)
    if messages is not None:
        return sum(len(m["content"]) for m in messages)
    return len(getattr(request, "prefix", ""))


class StageGate:
    """Merge point shared by the workers of a scheduled run (see the module docstring)."""

    def __init__(self, inner: Any, *, linger_s: float = DEFAULT_LINGER_S) -> None:
        self.inner = inner
        self.linger_s = linger_s
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._workers = 0
        self._busy = False
        self._local = threading.local()
        self.calls: collections.deque[tuple[str, int]] = collections.deque(maxlen=RECENT_CALLS)
        """(kind, number of requests) of the latest merged backend calls, in order (bounded:
        a service or a long run must not grow with the calls it has made)."""

    def expect(self, n: int = 1) -> None:
        """Count workers about to start (called before they are submitted, so the first stage
        of queries started together is not dispatched before they have all arrived)."""
        with self._cond:
            self._workers += n

    @contextlib.contextmanager
    def worker(self, *, expected: bool = False) -> Iterator[None]:
        """Register the calling thread as one in-flight query for the duration (``expected``:
        already counted by ``expect``)."""
        if not expected:
            self.expect()
        self._local.registered = True
        try:
            yield
        finally:
            self._local.registered = False
            with self._cond:
                self._workers -= 1
                self._cond.notify_all()  # the rest may now all be waiting

    def call(self, kind: str, requests: Sequence[Any]) -> list[Any]:
        """``inner.<kind>(requests)``, merged with the other waiting workers' requests."""
        fn: Callable[[Sequence[Any]], list[Any]] = getattr(self.inner, kind)
        if not getattr(self._local, "registered", False) or not requests:
            return list(fn(requests))
        mine = _Pending(kind, list(requests), time.monotonic())
        with self._cond:
            self._queue.append(mine)
            self._cond.notify_all()
            while not mine.done:
                if not self._busy and self._ready():
                    batch, self._queue = self._queue, []
                    self._busy = True
                    self._cond.release()
                    try:
                        self._dispatch(batch)
                    finally:
                        self._cond.acquire()
                        self._busy = False
                        self._cond.notify_all()
                    continue
                self._cond.wait(timeout=self._wait_s())
        if mine.error is not None:
            raise mine.error
        return mine.result

    def _ready(self) -> bool:
        if not self._queue:
            return False
        if len(self._queue) >= self._workers:
            return True
        return time.monotonic() - self._queue[0].since >= self.linger_s

    def _wait_s(self) -> float:
        if not self._queue or self._busy:
            return self.linger_s
        return max(0.001, self._queue[0].since + self.linger_s - time.monotonic())

    def _dispatch(self, batch: list[_Pending]) -> None:
        for kind in dict.fromkeys(p.kind for p in batch):
            group = [p for p in batch if p.kind == kind]
            fn = getattr(self.inner, kind)
            try:
                flat = [(g, i) for g, p in enumerate(group) for i in range(len(p.requests))]
                flat.sort(key=lambda gi: _length(group[gi[0]].requests[gi[1]]))
                results = fn([group[g].requests[i] for g, i in flat])
                if len(results) != len(flat):
                    raise RuntimeError(f"{kind} returned {len(results)} results for {len(flat)}")
                self.calls.append((kind, len(flat)))
                parts: list[dict[int, Any]] = [{} for _ in group]
                for (g, i), r in zip(flat, results, strict=True):
                    parts[g][i] = r
                for p, part in zip(group, parts, strict=True):
                    p.result = [part[i] for i in range(len(p.requests))]
            except BaseException as exc:  # handed to the workers
                if len(group) == 1:
                    group[0].error = exc
                else:  # find whose requests failed: each on its own, as one-at-a-time would
                    for p in group:
                        try:
                            p.result = fn(p.requests)
                            self.calls.append((kind, len(p.requests)))
                        except BaseException as exc:  # handed to its worker
                            p.error = exc
            finally:  # never leave a worker waiting, whatever happened above
                for p in group:
                    p.done = True


class GatedBackend(ForwardingBackend):
    """``inner`` with its model calls routed through a :class:`StageGate`."""

    def __init__(self, inner: Any, gate: StageGate | None = None) -> None:
        super().__init__(inner)
        self.gate = gate or StageGate(inner)

    def call(self, kind: str, requests: Sequence[Any]) -> list[Any]:
        return list(self.gate.call(kind, requests))
