"""Cancellation of a running query, composed by the Reranker: before each stage (``check``,
for any method, one with no backend too) and, through a backend wrapper around every method's
backend, before each model call, it checks the event bound to the calling thread's context
(``bind``; the service binds one per request) and stops the query with ``RequestCancelled``
once it is set, so a query whose client has gone makes no further calls."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Sequence
from typing import Any

from listrank.backends.wrapping import ForwardingBackend
from listrank.errors import ListrankError

_current: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "listrank_request_cancel", default=None
)


class RequestCancelled(ListrankError):
    """The client went away; the request's remaining model calls were not made."""


def bind(event: threading.Event | None) -> contextvars.Token[threading.Event | None]:
    """Called in the thread that runs the query: its model calls check this event."""
    return _current.set(event)


def unbind(token: contextvars.Token[threading.Event | None]) -> None:
    _current.reset(token)


def check() -> None:
    """Raise RequestCancelled if the calling thread's query has been cancelled."""
    event = _current.get()
    if event is not None and event.is_set():
        raise RequestCancelled("the client went away; the remaining stages were not run")


class CancellableBackend(ForwardingBackend):
    """``inner``, refusing model calls once the bound event is set."""

    def call(self, kind: str, requests: Sequence[Any]) -> list[Any]:
        check()
        return list(getattr(self.inner, kind)(requests))
