"""A private event loop on a daemon thread, so async backends offer a plain sync API.

Sync callers (scripts, the CLI, worker threads, code already inside a running event loop such
as a notebook) submit a coroutine and block on its result; the coroutine always runs on the
same loop, so the HTTP client's pooled connections stay valid across calls. Calling from
inside that loop itself would deadlock and raises instead.

Every call in flight is tracked, so :func:`cancel_all` (Ctrl-C, a process going down) stops
them at once instead of waiting for each to time out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

from listrank.errors import ConfigError

T = TypeVar("T")
_LOOPS: weakref.WeakSet[LoopThread] = weakref.WeakSet()


def cancel_all() -> int:
    """Cancel every call in flight on every backend loop of this process; returns how many."""
    return sum(loop.cancel_in_flight() for loop in list(_LOOPS))


class LoopThread:
    def __init__(self, name: str = "listrank-io") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._in_flight: set[concurrent.futures.Future[Any]] = set()
        _LOOPS.add(self)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop, tracked until it is done (see :func:`cancel_all`)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        with self._lock:
            self._in_flight.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._in_flight.discard(future)

    def cancel_in_flight(self) -> int:
        with self._lock:
            futures = list(self._in_flight)
        return sum(f.cancel() for f in futures)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def on_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def stalled(self) -> bool:
        """A loop was started but its thread is gone: nothing submitted would ever run."""
        return self._thread is not None and not self._thread.is_alive()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coro.close()
            raise ConfigError(
                "a sync backend method was called from its own event loop; await the async "
                "method (e.g. agenerate) instead"
            )
        return self.submit(coro).result()

    def close(self, final: Coroutine[Any, Any, Any] | None = None) -> None:
        """Run ``final`` (e.g. closing the HTTP client) on the loop, then stop it."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or loop.is_closed():
            if final is not None:
                final.close()
            return
        if final is not None:
            asyncio.run_coroutine_threadsafe(final, loop).result()
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=5)
        loop.close()
