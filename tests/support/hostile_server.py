"""A loopback HTTP server that answers every POST with what a test scripts: any status and body
(an HTML page, an error object, a chat completion without logprobs), sent at once or trickled
one byte at a time, or never. Standard library only; 127.0.0.1 only."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "application/json"
    trickle_s: float = 0.0
    """Seconds between bytes (0: the whole body at once)."""
    hang: bool = False
    """Read the request, then send nothing until the client gives up."""


def chat(content: str, *, logprobs: Any = None) -> Reply:
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": content},
        "finish_reason": "stop",
    }
    if logprobs is not None:
        choice["logprobs"] = logprobs
    body = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [choice],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
    return Reply(json.dumps(body).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many clients connect at once (the default backlog is 5)


class HostileServer:
    def __init__(self, reply: Callable[[dict[str, Any]], Reply]) -> None:
        self.reply = reply
        self.requests = 0
        self.in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with outer._lock:
                    outer.requests += 1
                    outer.in_flight += 1
                try:
                    self._answer(outer.reply(body))
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with outer._lock:
                        outer.in_flight -= 1

            def _answer(self, r: Reply) -> None:
                if r.hang:
                    outer._stop.wait(120)
                    return
                self.send_response(r.status)
                self.send_header("Content-Type", r.content_type)
                self.send_header("Content-Length", str(len(r.body)))
                self.end_headers()
                if not r.trickle_s:
                    self.wfile.write(r.body)
                    return
                for i in range(len(r.body)):
                    if outer._stop.wait(r.trickle_s):
                        return
                    self.wfile.write(r.body[i : i + 1])
                    self.wfile.flush()

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def wait_in_flight(self, n: int, timeout: float = 30.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.in_flight >= n:
                return True
            time.sleep(0.01)
        return False
