"""Work stops when the client goes away.

A queued request whose client hung up is cancelled before it reaches the model (its future is
cancelled, and the queue skips done futures). A running one carries a ``threading.Event`` in
its document tuple; the reranker's method is wrapped by ``CancelCheck``, which checks that event
before each stage (each ``judge`` call) and stops the request with ``RequestCancelled``.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from starlette.types import Receive

from listrank.errors import ListrankError
from listrank.methods.base import Method
from listrank.types import Candidate, Judgement, Query

T = TypeVar("T")

_current: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "listrank_request_cancel", default=None
)


class RequestCancelled(ListrankError):
    """The client went away; the request's remaining stages were not run."""


class Documents(tuple[str, ...]):
    """The documents of one request, with the event that says its client has gone."""

    cancel: threading.Event

    def __new__(cls, texts: Sequence[str]) -> Documents:
        self = super().__new__(cls, texts)
        self.cancel = threading.Event()
        return self


def bind(documents: Sequence[str]) -> contextvars.Token[threading.Event | None]:
    """Called in the worker thread that runs the request: the gate reads this event."""
    return _current.set(getattr(documents, "cancel", None))


def unbind(token: contextvars.Token[threading.Event | None]) -> None:
    _current.reset(token)


class CancelCheck(Method):
    """Wraps a method; before each stage, stops a request whose client has gone."""

    def __init__(self, inner: Method) -> None:
        self.inner = inner
        self.name = inner.name

    def __getattr__(self, attr: str) -> Any:
        if attr == "inner":
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def judge(self, query: Query, blocks: Sequence[Sequence[Candidate]]) -> list[Judgement]:
        event = _current.get()
        if event is not None and event.is_set():
            raise RequestCancelled("the client went away; the remaining stages were not run")
        return self.inner.judge(query, blocks)

    def estimate_prompt_tokens(self, query: Query, block: Sequence[Candidate]) -> int:
        return self.inner.estimate_prompt_tokens(query, block)

    @property
    def max_block_size(self) -> int | None:
        return self.inner.max_block_size


def gate(reranker: Any) -> None:
    """Put a CancelCheck around the reranker's method (once)."""
    method = getattr(reranker, "method", None)
    if isinstance(method, Method) and not isinstance(method, CancelCheck):
        reranker.method = CancelCheck(method)


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
