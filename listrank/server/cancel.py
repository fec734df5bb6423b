"""Work stops when the client goes away.

A queued request whose client hung up is cancelled before it reaches the model (its future is
cancelled, and the queue skips done futures). A running one carries a ``threading.Event`` in
its document tuple, bound to the worker thread that runs it (``bind``); the Reranker's
cancellable backend (``listrank.pipeline.cancel``) checks that event before each model call and
stops the request with ``RequestCancelled``.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from starlette.types import Receive

from listrank.pipeline import cancel
from listrank.pipeline.cancel import RequestCancelled

T = TypeVar("T")
__all__ = ["ClientGone", "Documents", "RequestCancelled", "bind", "unbind", "unless_disconnected"]


class Documents(tuple[str, ...]):
    """The documents of one request, with the event that says its client has gone."""

    cancel: threading.Event

    def __new__(cls, texts: Sequence[str]) -> Documents:
        self = super().__new__(cls, texts)
        self.cancel = threading.Event()
        return self


def bind(documents: Sequence[str]) -> contextvars.Token[threading.Event | None]:
    """Called in the worker thread that runs the request: its model calls check this event."""
    return cancel.bind(getattr(documents, "cancel", None))


def unbind(token: contextvars.Token[threading.Event | None]) -> None:
    cancel.unbind(token)


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def unless_disconnected(work: Awaitable[T], receive: Receive, documents: Documents) -> T:
    """Await ``work``; if the client disconnects first, cancel it (a queued job never reaches
    the model, a running one stops at its next stage) and raise ClientGone."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not watch.done():
            watch.cancel()
    if task.done():
        return task.result()
    documents.cancel.set()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    raise ClientGone()
