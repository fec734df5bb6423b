"""Connection-level limits the ASGI app cannot see: how long a client may take to send its
request head and body, how many connections may be open at once, and a quiet log when the
process runs out of file descriptors.

uvicorn has a keep-alive timeout (idle between requests) but no deadline for a request head or
body, so a client that connects and sends nothing (or one byte at a time) holds a socket for
ever. ``guarded_protocol`` returns uvicorn's h11 protocol with two deadlines added:

- ``header_timeout_s``: from connect (or the end of the previous response) until the request
  head is complete; on expiry the client gets a JSON 408 and the connection is closed;
- ``body_timeout_s``: from the head until the body is complete; on expiry the connection is
  closed (the app sees a disconnect and logs a 499).

While the app works on a complete request no deadline runs: the model may take its time.
Connections past ``max_connections`` get a JSON 503 and are closed at once, so idle sockets
cannot starve the process of descriptors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from listrank.errors import ConfigError

logger = logging.getLogger("listrank.server")

DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 30.0
DEFAULT_KEEP_ALIVE_S = 5
DEFAULT_MAX_CONNECTIONS = 256


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    keep_alive_s: int = DEFAULT_KEEP_ALIVE_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "body_timeout_s", "keep_alive_s", "max_connections"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")


def _raw_response(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"message": message, "code": code}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol class with the deadlines and the cap of ``limits``."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _phase: str = ""

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                transport.write(
                    _raw_response(
                        503,
                        "Service Unavailable",
                        "too_many_connections",
                        f"the server holds {limits.max_connections} connections "
                        "(max_connections); retry later",
                    )
                )
                transport.close()
                return
            self._arm("head")

        def _arm(self, phase: str) -> None:
            if self._phase == phase:
                return
            self._disarm()
            self._phase = phase
            delay = limits.header_timeout_s if phase == "head" else limits.body_timeout_s
            self._deadline = self.loop.call_later(delay, self._expired, phase)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = None
            self._phase = ""

        def _expired(self, phase: str) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if phase == "head":
                self.transport.write(
                    _raw_response(
                        408,
                        "Request Timeout",
                        "header_timeout",
                        f"no complete request head within {limits.header_timeout_s:g} s",
                    )
                )
            self.transport.close()

        def _follow(self) -> None:
            state = self.conn.their_state
            if state is h11.IDLE and self.conn.our_state in (h11.IDLE, h11.DONE):
                self._arm("head")
            elif state is h11.SEND_BODY:
                self._arm("body")
            else:  # the request is complete (the app works on it) or the connection ends
                self._disarm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if not self.transport.is_closing():
                self._follow()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._follow()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedH11Protocol


class QuietLoopErrors:
    """An event-loop exception handler that logs each kind of error (e.g. ``socket.accept()
    out of system resource``) at most once per ``every_s`` seconds, as one line with the
    number of repeats held back, instead of a traceback per accept attempt."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", "event loop error"))
        exc = context.get("exception")
        kind = f"{message} ({type(exc).__name__}: {exc})" if exc is not None else message
        now = time.monotonic()
        if now - self._last.get(message, -1e9) < self.every_s:
            self._held[message] = self._held.get(message, 0) + 1
            return
        self._last[message] = now
        held = self._held.pop(message, 0)
        suffix = f" ({held} more held back in the last {self.every_s:g} s)" if held else ""
        logger.error("event loop: %s%s", kind.splitlines()[0][:300], suffix)


def install_quiet_loop_errors(every_s: float = 10.0) -> QuietLoopErrors:
    handler = QuietLoopErrors(every_s)
    asyncio.get_running_loop().set_exception_handler(handler)
    return handler
