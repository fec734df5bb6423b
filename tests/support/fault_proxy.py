"""A fault-injecting HTTP proxy on 127.0.0.1, put in front of a real (or stand-in) server.

For each request it draws, from a seeded generator keyed by the request body and how many
times that body was seen, whether to fault it and how: 429 with Retry-After, 500, 503, a stall
past the client's timeout, or a dropped connection. Decisions therefore do not depend on the
order in which concurrent requests arrive, and a retried request gets a fresh draw. Every
request is logged (time, body hash, attempt, action), so tests can check attempts per call and
that Retry-After was respected. Standard library only; one connection per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

KINDS = ("429", "500", "503", "stall", "drop")


@dataclass(frozen=True)
class Logged:
    time: float
    key: str
    attempt: int
    action: str
    """"pass" or one of KINDS."""


@dataclass
class FaultProxy:
    upstream_host: str
    upstream_port: int
    rate: float = 0.2
    kinds: Sequence[str] = KINDS
    seed: int = 0
    retry_after_s: float = 1.0
    stall_s: float = 5.0
    log: list[Logged] = field(default_factory=list)
    _seen: Counter[str] = field(default_factory=Counter)
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.base_events.Server | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def actions(self) -> Counter[str]:
        return Counter(e.action for e in self.log)

    def attempts_per_key(self) -> dict[str, int]:
        return dict(Counter(e.key for e in self.log))

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> FaultProxy:
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def serve() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()

        def run() -> None:
            loop.run_until_complete(serve())
            loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def shutdown() -> None:
            server.close()
            current = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not current]
            for task in pending:  # stalled connections
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        self._loop = self._server = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- decisions --------------------------------------------------------------------
    def decide(self, body: bytes) -> tuple[str, int, str]:
        key = hashlib.sha256(body).hexdigest()[:16]
        self._seen[key] += 1
        attempt = self._seen[key]
        rng = random.Random(f"{self.seed}:{key}:{attempt}")
        action = rng.choice(list(self.kinds)) if rng.random() < self.rate else "pass"
        return key, attempt, action

    # -- one connection ---------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            key, attempt, action = self.decide(body)
            self.log.append(Logged(time.monotonic(), key, attempt, action))
            if action == "drop":
                writer.transport.abort()
                return
            if action == "stall":
                await asyncio.sleep(self.stall_s)
                writer.transport.abort()
                return
            if action in ("429", "500", "503"):
                extra = f"Retry-After: {self.retry_after_s:g}\r\n" if action == "429" else ""
                writer.write(_response(int(action), extra))
            else:
                writer.write(await self._forward(head, body))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _forward(self, head: bytes, body: bytes) -> bytes:
        lines = [
            ln
            for ln in head.rstrip(b"\r\n").split(b"\r\n")
            if not ln.lower().startswith(b"connection:")
        ]
        request = b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        up_writer.write(request)
        await up_writer.drain()
        raw = await up_reader.read()  # the upstream closes after one response
        up_writer.close()
        resp_head, _, resp_body = raw.partition(b"\r\n\r\n")
        kept = [
            ln
            for ln in resp_head.split(b"\r\n")
            if not ln.lower().startswith((b"connection:", b"keep-alive:"))
        ]
        return b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n" + resp_body


def _response(code: int, extra_headers: str) -> bytes:
    reason = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
    payload = json.dumps({"error": {"message": f"injected {code}", "type": "fault"}}).encode()
    return (
        f"HTTP/1.1 {code} {reason[code]}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n{extra_headers}Connection: close\r\n\r\n"
    ).encode() + payload
