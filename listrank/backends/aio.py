"""A private event loop on a daemon thread, so async backends offer a plain sync API.

Sync callers (scripts, the CLI, worker threads, code already inside a running event loop such
as a notebook) submit a coroutine and block on its result; the coroutine always runs on the
same loop, so the HTTP client's pooled connections stay valid across calls. Calling from
inside that loop itself would deadlock and raises instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from listrank.errors import ConfigError

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "listrank-io") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

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
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

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
