"""Shared by the service tests: a real uvicorn server on a free loopback port, and a
deterministic judge for the fake backend."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from listrank.backends.base import GenerationRequest
from listrank.backends.fake import FakeBackend
from listrank.pipeline.reranker import Reranker
from listrank.server import ServerSettings
from listrank.server.connections import ConnectionLimits

_PASSAGE = re.compile(r"^\[(\d+)\] (.*)$", re.S)
_GRADE = re.compile(r"grade=(\d+)")


def passages(request: GenerationRequest) -> list[tuple[str, str]]:
    """(identifier, text) of every passage in a RankGPT prompt (one chat turn each)."""
    return [
        (m.group(1), m.group(2))
        for msg in request.messages
        if msg["role"] == "user" and (m := _PASSAGE.match(msg["content"]))
    ]


def by_grade(request: GenerationRequest) -> str:
    """Ranks passages by the number after "grade=" in their text, highest first."""
    found = passages(request)

    def grade(text: str) -> int:
        m = _GRADE.search(text)
        return int(m.group(1)) if m else 0

    ranked = sorted(found, key=lambda f: -grade(f[1]))
    return " > ".join(f"[{i}]" for i, _ in ranked)


class CountingJudge:
    """``by_grade`` that counts calls and can be held (to fill the queue deterministically)."""

    def __init__(self, judge: Callable[[GenerationRequest], str] = by_grade) -> None:
        self.judge = judge
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: GenerationRequest) -> str:
        with self._lock:
            self.calls += 1
        self.entered.set()
        if not self.gate.wait(timeout=30):
            raise TimeoutError("test judge was never released")
        return self.judge(request)


def fake_reranker(judge: Callable[[GenerationRequest], str] = by_grade) -> Reranker:
    return Reranker(backend=FakeBackend(responder=judge), window=20, step=10)


@contextmanager
def running_server(
    reranker: Reranker,
    settings: ServerSettings | None = None,
    limits: ConnectionLimits | None = None,
) -> Iterator[str]:
    """Serve on 127.0.0.1 with a socket bound before start (no port race); yields the base
    URL and stops the server on exit. With ``limits``, the connection guards of `serve`."""
    from listrank.server import create_app
    from listrank.server.connections import guarded_protocol

    extra: dict[str, Any] = {}
    if limits is not None:
        extra = {"http": guarded_protocol(limits), "timeout_keep_alive": limits.keep_alive_s}
    with running_asgi(create_app(reranker, settings), **extra) as base:
        yield base


@contextmanager
def running_asgi(app: Any, **extra: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (socket bound before start: no port
    race); yields the base URL and stops the server on exit."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", **extra)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
