"""Hostile and careless clients: every error status has a JSON body and an access-log line, an
unexpected error is a JSON 500, a client that hangs up costs no model work, and idle or
half-sent connections are closed."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

httpx = pytest.importorskip("httpx", reason="needs the integrations-test extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")

from listrank.backends.fake import FakeBackend  # noqa: E402
from listrank.pipeline.reranker import Reranker  # noqa: E402
from listrank.server import ServerSettings  # noqa: E402
from listrank.server.access_log import ACCESS_LOGGER  # noqa: E402
from listrank.server.connections import ConnectionLimits, QuietLoopErrors  # noqa: E402
from tests.unit.server_helpers import CountingJudge, by_grade, running_server  # noqa: E402

BODY = {"query": "q", "documents": ["grade=1 a", "grade=2 b"]}


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


class AccessLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, Any]] = []
        self.errors: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == ACCESS_LOGGER:
            self.fields.append(dict(getattr(record, "fields", {})))
        elif record.levelno >= logging.ERROR:
            self.errors.append(record)


@pytest.fixture()
def log() -> Iterator[AccessLines]:
    handler = AccessLines()
    server_logger = logging.getLogger("listrank.server")
    old = server_logger.level
    server_logger.addHandler(handler)
    server_logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        server_logger.removeHandler(handler)
        server_logger.setLevel(old)


@pytest.fixture(scope="module")
def judge() -> CountingJudge:
    return CountingJudge()


@pytest.fixture(scope="module")
def url(judge: CountingJudge) -> Iterator[str]:
    reranker = Reranker(backend=FakeBackend(responder=judge), window=20, step=10)
    with running_server(reranker, ServerSettings(max_request_bytes=20000)) as base:
        yield base


def _post(url: str, raw: bytes, content_type: str | None = "application/json") -> Any:
    headers = {"content-type": content_type} if content_type else {}
    return httpx.post(f"{url}/v1/rerank", content=raw, headers=headers)


HOSTILE: dict[str, tuple[bytes, str | None, int, str]] = {
    # name: (body, content type, status, code)
    "nested-1000": (
        b'{"query": "q", "documents": ["a"], "x": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        "application/json",
        400,
        "invalid_json",
    ),
    "top-n-5000-digits": (
        b'{"query": "q", "documents": ["a"], "top_n": ' + b"9" * 5000 + b"}",
        "application/json",
        400,
        "invalid_json",
    ),
    "lone-surrogate": (
        b'{"query": "q \\ud800", "documents": ["a"], "return_documents": true}',
        "application/json",
        400,
        "invalid_json",
    ),
    "surrogate-in-echoed-document": (
        b'{"query": "q", "documents": [{"text": "a", "x": "\\udfff"}], "return_documents": true}',
        "application/json",
        400,
        "invalid_json",
    ),
    "nan-in-unread-field": (
        b'{"query": "q", "documents": [{"text": "a", "x": NaN}], "return_documents": true}',
        "application/json",
        400,
        "invalid_json",
    ),
    "huge-float": (b'{"query": "q", "documents": ["a"], "x": 1e999}', None, 400, "invalid_json"),
    "text-plain": (json.dumps(BODY).encode(), "text/plain", 415, "unsupported_media_type"),
    "form": (b"query=q", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bodies_get_json_errors_and_one_access_line(
    url: str, judge: CountingJudge, log: AccessLines, name: str
) -> None:
    raw, ctype, status, code = HOSTILE[name]
    before = judge.calls
    resp = _post(url, raw, ctype)
    assert resp.status_code == status, resp.text
    data = resp.json()
    assert data["code"] == code and data["id"] == resp.headers["x-request-id"]
    assert "\n" not in data["message"]
    wait_until(lambda: any(f.get("request_id") == data["id"] for f in log.fields))
    line = next(f for f in log.fields if f.get("request_id") == data["id"])
    assert line["status"] == status
    assert judge.calls == before and not log.errors


def test_missing_content_type_is_read_as_json(url: str) -> None:
    assert _post(url, json.dumps(BODY).encode(), None).status_code == 200
    assert _post(url, json.dumps(BODY).encode(), "application/json; charset=utf-8").is_success


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/rerank", 405, "method_not_allowed"),
        ("PUT", "/rerank", 405, "method_not_allowed"),
        ("GET", "/nowhere", 404, "not_found"),
        ("POST", "/health", 405, "method_not_allowed"),
    ],
)
def test_routing_errors_are_json(
    url: str, log: AccessLines, method: str, path: str, status: int, code: str
) -> None:
    resp = httpx.request(method, f"{url}{path}")
    assert resp.status_code == status
    assert resp.headers["content-type"].startswith("application/json")
    data = resp.json()
    assert data["code"] == code and data["id"] == resp.headers["x-request-id"]
    if status == 405:
        assert resp.headers["allow"]
    wait_until(lambda: any(f.get("request_id") == data["id"] for f in log.fields))


class Exploding:
    """A reranker with a bug: raises something that is not a listrank error."""

    def rerank(self, query: str, candidates: Any) -> Any:
        raise KeyError("a bug")


def test_unexpected_error_is_a_json_500_with_request_id_and_one_line(log: AccessLines) -> None:
    with running_server(Exploding()) as base:  # type: ignore[arg-type]
        resp = httpx.post(f"{base}/v1/rerank", json=BODY, headers={"x-request-id": "rid-1"})
    assert resp.status_code == 500
    data = resp.json()
    assert data["id"] == "rid-1" and data["code"] == "internal_error" and "rid-1" in data["message"]
    lines = [f for f in log.fields if f.get("request_id") == "rid-1"]
    assert len(lines) == 1 and lines[0]["status"] == 500 and lines[0]["error"] == "internal_error"
    # the error is logged once, as one line without a traceback
    assert len(log.errors) == 1 and log.errors[0].exc_info is None
    assert "\n" not in log.errors[0].getMessage()


def _raw_request(port: int, body: bytes, *, send_all: bool = True) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        f"POST /v1/rerank HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + (body if send_all else body[: len(body) // 2]))
    return sock


def _port(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def test_queued_request_of_a_departed_client_never_reaches_the_model(log: AccessLines) -> None:
    judge = CountingJudge()
    reranker = Reranker(backend=FakeBackend(responder=judge), window=20, step=10)
    with running_server(reranker) as base:
        judge.gate.clear()
        first: dict[str, Any] = {}
        t = threading.Thread(
            target=lambda: first.update(r=httpx.post(f"{base}/v1/rerank", json=BODY, timeout=30))
        )
        t.start()
        assert judge.entered.wait(10)  # the only worker is busy with the first request
        gone = _raw_request(_port(base), json.dumps(BODY).encode())
        wait_until(lambda: httpx.get(f"{base}/health").json()["queue"]["waiting"] == 1)
        gone.close()  # hang up while queued
        wait_until(lambda: any(f.get("status") == 499 for f in log.fields))
        judge.gate.set()
        t.join(30)
        assert first["r"].status_code == 200
        # a later request is served after the departed one would have been
        assert httpx.post(f"{base}/v1/rerank", json=BODY, timeout=30).status_code == 200
    assert judge.calls == 2  # first and last; the departed client's job never ran


def test_running_request_stops_at_the_next_stage_when_its_client_leaves(
    log: AccessLines,
) -> None:
    judge = CountingJudge(by_grade)
    # window 2, step 1 over 5 documents: 4 sliding windows, one stage each
    reranker = Reranker(backend=FakeBackend(responder=judge), window=2, step=1)
    docs = [f"grade={i} d{i}" for i in range(5)]
    with running_server(reranker) as base:
        judge.gate.clear()
        gone = _raw_request(_port(base), json.dumps({"query": "q", "documents": docs}).encode())
        assert judge.entered.wait(10)
        gone.close()
        wait_until(lambda: any(f.get("status") == 499 for f in log.fields))
        judge.gate.set()
        # the next request runs all of its stages: the worker is free and the gate still works
        ok = httpx.post(f"{base}/v1/rerank", json={"query": "q", "documents": docs}, timeout=30)
        assert ok.status_code == 200
    assert judge.calls == 1 + 4  # the departed request stopped after its first stage


def test_client_hanging_up_mid_body_writes_no_traceback(log: AccessLines) -> None:
    judge = CountingJudge()
    reranker = Reranker(backend=FakeBackend(responder=judge), window=20, step=10)
    with running_server(reranker) as base:
        sock = _raw_request(_port(base), json.dumps(BODY).encode(), send_all=False)
        time.sleep(0.2)  # let the server start reading the body
        sock.close()
        wait_until(lambda: any(f.get("status") == 499 for f in log.fields))
    assert judge.calls == 0 and not log.errors


LIMITS = ConnectionLimits(header_timeout_s=0.5, body_timeout_s=0.5, keep_alive_s=1)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_idle_connection_is_closed_after_the_header_timeout() -> None:
    with running_server(Reranker(backend=FakeBackend(responder=by_grade)), limits=LIMITS) as base:
        idle = socket.create_connection(("127.0.0.1", _port(base)), timeout=10)
        answer = _read_all(idle)  # returns only because the server closes the connection
        assert answer.startswith(b"HTTP/1.1 408")
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == "header_timeout"
        slow = socket.create_connection(("127.0.0.1", _port(base)), timeout=10)
        slow.sendall(b"POST /v1/rerank HTTP/1.1\r\nhost: x\r\n")  # a head never finished
        assert _read_all(slow).startswith(b"HTTP/1.1 408")
        # the server still serves
        assert httpx.get(f"{base}/health").status_code == 200


def test_half_sent_body_is_closed_after_the_body_timeout(log: AccessLines) -> None:
    judge = CountingJudge()
    reranker = Reranker(backend=FakeBackend(responder=judge), window=20, step=10)
    with running_server(reranker, limits=LIMITS) as base:
        sock = _raw_request(_port(base), json.dumps(BODY).encode(), send_all=False)
        assert _read_all(sock) == b""  # closed by the server, nothing answered
        wait_until(lambda: any(f.get("status") == 499 for f in log.fields))
    assert judge.calls == 0 and not log.errors


def test_connections_past_the_cap_get_503_and_are_closed() -> None:
    limits = ConnectionLimits(header_timeout_s=30, max_connections=2)
    with running_server(Reranker(backend=FakeBackend(responder=by_grade)), limits=limits) as base:
        held = [socket.create_connection(("127.0.0.1", _port(base)), timeout=10) for _ in range(2)]
        extra = socket.create_connection(("127.0.0.1", _port(base)), timeout=10)
        answer = _read_all(extra)
        assert answer.startswith(b"HTTP/1.1 503")
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == "too_many_connections"
        for s in held:
            s.close()
        wait_until(lambda: _health_ok(base))


def _health_ok(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health").status_code == 200
    except httpx.HTTPError:
        return False


def test_loop_errors_are_logged_once_per_period(log: AccessLines) -> None:
    quiet = QuietLoopErrors(every_s=3600)
    context = {"message": "socket.accept() out of system resource", "exception": OSError(24, "x")}
    for _ in range(50):
        quiet(None, context)  # type: ignore[arg-type]
    assert len(log.errors) == 1
    assert "out of system resource" in log.errors[0].getMessage()
