"""A tiny OpenAI-compatible stand-in server on 127.0.0.1 for unit tests and benchmarks.

It answers ``/v1/chat/completions`` and ``/v1/completions`` from a responder function, after a
fixed latency, and records every request (time, path, body, headers). It plays scripted faults
(status codes with headers, stalls, dropped connections) from a queue, and rejects prompts
containing ``TOO_LONG_MARKER`` or longer than ``max_prompt_chars`` the way real servers reject
prompts over their context. Standard library only.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[str, dict[str, Any]], str]
"""(path, request body) -> answer text."""


@dataclass(frozen=True)
class Fault:
    kind: str
    """"status" | "stall" | "drop"."""
    status: int = 500
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    body: dict[str, Any] | None = None


def status(
    code: int, retry_after: float | None = None, body: dict[str, Any] | None = None
) -> Fault:
    headers = (("Retry-After", f"{retry_after:g}"),) if retry_after is not None else ()
    return Fault("status", code, headers, body=body)


def stall(seconds: float) -> Fault:
    return Fault("stall", seconds=seconds)


def drop() -> Fault:
    return Fault("drop")


@dataclass
class Seen:
    time: float
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    raw: bytes = b""
    """The body's bytes as sent."""


def _prompt_of(body: dict[str, Any]) -> str:
    if "prompt" in body:
        return str(body["prompt"])
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


def default_responder(path: str, body: dict[str, Any]) -> str:
    """Deterministic: ranks the identifiers "[k]" found in the last user message in reverse."""
    import re

    ids = list(dict.fromkeys(re.findall(r"\[(\d+)\]", _prompt_of(body))))
    return " > ".join(f"[{i}]" for i in reversed(ids)) or "[1]"


TOO_LONG_MARKER = "TOO_LONG"


class _Server(ThreadingHTTPServer):
    # the default backlog of 5 makes a burst of new connections wait for SYN retries (1 s)
    request_queue_size = 256


@dataclass
class FakeOpenAIServer:
    latency_s: float = 0.0
    responder: Responder = default_responder
    top_logprobs: dict[str, float] = field(
        default_factory=lambda: {"A": -0.5, " B": -1.5, "C": -2.5, "[": -3.0}
    )
    """What the fake model's first-token distribution looks like (top entries)."""
    position_tops: list[dict[str, float]] | None = None
    """Per-position top entries for chat logprobs (else ``top_logprobs`` at every position)."""
    max_prompt_chars: int | None = None
    answer_tokens: Callable[[str], list[str]] | None = None
    """When set, answers are cut to the request's ``max_tokens`` of these tokens (text pieces)
    and reported with finish_reason "length", as a real server enforces its budget."""
    send_usage: bool = True
    requests: list[Seen] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    max_in_flight: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def add_faults(self, faults: Iterable[Fault]) -> None:
        with self._lock:
            self.faults.extend(faults)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAIServer:
        server = _Server(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answers ----------------------------------------------------------------------
    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prompt = _prompt_of(body)
        if TOO_LONG_MARKER in prompt or (
            self.max_prompt_chars is not None and len(prompt) > self.max_prompt_chars
        ):
            return 400, {
                "error": {
                    "message": "This model's maximum context length is 100 tokens. However, "
                    f"you requested {len(prompt)} tokens. Please reduce the length.",
                    "type": "invalid_request_error",
                    "code": "context_length_exceeded",
                }
            }
        text = self.responder(path, body)
        finish = "stop"
        if self.answer_tokens is not None and body.get("max_tokens") is not None:
            pieces = self.answer_tokens(text)
            if len(pieces) > int(body["max_tokens"]):
                text, finish = "".join(pieces[: int(body["max_tokens"])]), "length"
        usage = {
            "prompt_tokens": len(prompt.split()),
            "completion_tokens": len(text.split()),
            "total_tokens": len(prompt.split()) + len(text.split()),
        }
        top = sorted(self.top_logprobs.items(), key=lambda kv: -kv[1])
        if path.endswith("/chat/completions"):
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }
            if body.get("logprobs"):
                k = int(body.get("top_logprobs") or 0)
                n = int(body["max_tokens"])
                tops = self.position_tops or [self.top_logprobs] * n
                content = []
                for pos_top in tops[:n]:
                    ranked = sorted(pos_top.items(), key=lambda kv: -kv[1])
                    entries = [{"token": t, "logprob": lp, "bytes": None} for t, lp in ranked[:k]]
                    content.append({**entries[0], "top_logprobs": entries})
                choice["logprobs"] = {"content": content}
            kind = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "finish_reason": finish}
            if body.get("logprobs"):
                k = int(body["logprobs"])
                choice["logprobs"] = {
                    "tokens": [top[0][0]],
                    "token_logprobs": [top[0][1]],
                    "top_logprobs": [dict(top[:k])],
                    "text_offset": [0],
                }
            kind = "text_completion"
        out: dict[str, Any] = {
            "id": f"fake-{len(self.requests)}",
            "object": kind,
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [choice],
        }
        if self.send_usage:
            out["usage"] = usage
        return 200, out


def _handler(fake: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # the head and the body go out as two writes; with Nagle's algorithm the body waits
        # for the client's delayed ACK of the head (~40 ms on Linux), added to every call
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(
            self, code: int, payload: dict[str, Any], headers: Iterable[tuple[str, str]] = ()
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            body = json.loads(raw or b"{}")
            with fake._lock:
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append(Seen(time.monotonic(), self.path, body, headers, raw))
                fault = fake.faults.popleft() if fake.faults else None
                fake._in_flight += 1
                fake.max_in_flight = max(fake.max_in_flight, fake._in_flight)
            try:
                if fault is not None and fault.kind == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault is not None and fault.kind == "stall":
                    time.sleep(fault.seconds)
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault is not None:
                    payload = fault.body or {"error": {"message": f"injected {fault.status}"}}
                    self._send(fault.status, payload, fault.headers)
                    return
                if fake.latency_s:
                    time.sleep(fake.latency_s)
                code, payload = fake.answer(self.path, body)
                self._send(code, payload)
            finally:
                with fake._lock:
                    fake._in_flight -= 1

    return Handler
