"""The OpenAI backend's two transports against loopback servers: the lean HTTP one (the
default) and the SDK's client fail the same way (same listrank error class and text, same
retries) on error statuses, stalls, dropped connections and malformed bodies; the default
reaches its first answer without importing the SDK."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from listrank.backends.base import GenerationRequest, LogprobRequest
from listrank.backends.openai import OpenAIBackend
from listrank.backends.openai_errors import StatusError
from listrank.errors import (
    BackendError,
    BadResponseError,
    ContextLengthError,
    RetryExhaustedError,
)
from tests.support.fake_openai import FakeOpenAIServer, Fault, drop, stall, status
from tests.support.hostile_server import HostileServer, Reply

KEY = "sk-test-transport-0123456789"
REPO = Path(__file__).resolve().parents[2]
REQ = GenerationRequest([{"role": "user", "content": "[1] a [2] b [3] c"}], 20)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


def _backend(url: str, transport: str, **kw: object) -> OpenAIBackend:
    options: dict[str, object] = {
        "base_url": url,
        "api_key": KEY,
        "timeout": 1.0,
        "backoff": 0.01,
        "max_attempts": 2,
        "transport": transport,
    }
    options.update(kw)
    return OpenAIBackend("fake-model", **options)  # type: ignore[arg-type]


def _outcome(url: str, transport: str, **kw: object) -> tuple[type[BaseException], str]:
    b = _backend(url, transport, **kw)
    try:
        b.generate([REQ])
    except RetryExhaustedError as exc:  # its text has the time the attempts took
        return RetryExhaustedError, re.sub(r" in [0-9.]+s ", " in (time) ", str(exc))
    except BackendError as exc:
        return type(exc), str(exc)
    finally:
        b.close()
    raise AssertionError("the call did not fail")


def _both(server: FakeOpenAIServer, faults: list[Fault], **kw: object) -> list[tuple[type, str]]:
    pytest.importorskip("openai")
    seen = []
    for transport in ("http", "sdk"):
        server.add_faults(faults)
        seen.append(_outcome(server.url, transport, **kw))
    return seen


CONTEXT = {
    "error": {
        "message": "This model's maximum context length is 100 tokens.",
        "code": "context_length_exceeded",
    }
}


@pytest.mark.parametrize(
    ("fault", "expected", "sent"),
    [
        (status(400), BackendError, 1),
        (status(400, body=CONTEXT), ContextLengthError, 1),
        (status(401, body={"error": {"message": f"bad key {KEY}"}}), BackendError, 1),
        (status(404), BackendError, 1),
        (status(422, body={"detail": "prompt is too long"}), ContextLengthError, 1),
        (status(429), RetryExhaustedError, 2),
        (status(500), RetryExhaustedError, 2),
        (status(503, body={"oops": [1, 2]}), RetryExhaustedError, 2),
    ],
    ids=["400", "400-context", "401", "404", "422-context", "429", "500", "503-odd-body"],
)
def test_error_statuses_are_the_same_errors_through_both_transports(
    server: FakeOpenAIServer, fault: Fault, expected: type, sent: int
) -> None:
    http, sdk = _both(server, [fault] * 2)
    assert http == sdk  # same class, same text (the SDK's "Error code: N - message")
    assert http[0] is expected
    assert KEY not in http[1]
    assert len(server.requests) == 2 * sent  # retried only when transient, the same number


@pytest.mark.parametrize("fault", [stall(3.0), drop()], ids=["stall", "drop"])
def test_stalls_and_drops_are_retried_then_exhausted_through_both(
    server: FakeOpenAIServer, fault: Fault
) -> None:
    (http_cls, http_text), (sdk_cls, _) = _both(server, [fault] * 2, timeout=0.3)
    assert http_cls is sdk_cls is RetryExhaustedError
    assert "2 attempt" in http_text
    assert len(server.requests) == 4


def test_a_status_error_reads_its_body_as_the_sdk_does() -> None:
    err = StatusError(429, json.dumps({"error": {"message": "slow down", "code": 42}}), {})
    assert err.message == "Error code: 429 - slow down"
    assert err.body == {"message": "slow down", "code": 42} and err.code == "42"
    plain = StatusError(502, "<html>bad gateway</html>", {"Retry-After": "3"})
    assert plain.message == "Error code: 502" and plain.body == "<html>bad gateway</html>"
    assert plain.code is None and plain.headers == {"retry-after": "3"}


BODIES = [
    Reply(b"<html>gateway</html>", content_type="text/html"),
    Reply(b"{not json"),
    Reply(b'{"choices": []}'),
    Reply(b'{"choices": [{"message": "text"}]}'),
    Reply(b'{"choices": [{"message": {"content": 7}}]}'),
    Reply(b"[1, 2, 3]"),
    Reply(b""),
]


@pytest.mark.parametrize("reply", BODIES, ids=[f"body{i}" for i in range(len(BODIES))])
@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_malformed_bodies_are_bad_response_errors_naming_the_server(
    reply: Reply, transport: str
) -> None:
    if transport == "sdk":
        pytest.importorskip("openai")
    with HostileServer(lambda _: reply) as srv:
        kind, text = _outcome(srv.url, transport, max_attempts=1)
    assert kind is BadResponseError
    assert "127.0.0.1" in text and "it sent" in text


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_malformed_logprobs_are_bad_response_errors(transport: str) -> None:
    if transport == "sdk":
        pytest.importorskip("openai")
    content = [{"token": "A", "logprob": "high", "top_logprobs": [{"token": "A", "logprob": "x"}]}]
    body = {"choices": [{"message": {"content": "A"}, "logprobs": {"content": content}}]}
    with HostileServer(lambda _: Reply(json.dumps(body).encode())) as srv:
        b = _backend(srv.url, transport, max_attempts=1, logit_bias=False)
        with pytest.raises(BadResponseError, match="not a number"):
            b.next_token_logprobs([LogprobRequest(REQ.messages, ("A", "B"), "[")])
        b.close()


def test_answers_and_usage_are_the_same_through_both_transports(
    server: FakeOpenAIServer,
) -> None:
    pytest.importorskip("openai")
    results = []
    for transport in ("http", "sdk"):
        b = _backend(server.url, transport, logit_bias=False)
        gen = b.generate([REQ])[0]
        lp = b.next_token_logprobs([LogprobRequest(REQ.messages, ("A", "B", "C"), "[")])[0]
        results.append((gen.text, gen.prompt_tokens, gen.completion_tokens, lp.logprobs))
        results.append(b.usage.summary())
        b.close()
    assert results[0] == results[2] and results[1] == results[3]
    assert results[0][0] == "[3] > [2] > [1]"


def test_the_default_transport_never_imports_the_sdk(server: FakeOpenAIServer) -> None:
    probe = (
        "import sys\n"
        "from listrank.backends.base import GenerationRequest\n"
        "from listrank.backends.openai import OpenAIBackend\n"
        f"b = OpenAIBackend('m', base_url={server.url!r})\n"
        "msgs = [{'role': 'user', 'content': '[1] a [2] b'}]\n"
        "print(b.generate([GenerationRequest(msgs, 5)])[0].text)\n"
        "b.close()\n"
        "print('openai' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120,
        check=True,
    )  # fmt: skip
    assert out.stdout.split() == ["[2]", ">", "[1]", "False"]
    assert "Unclosed" not in out.stderr


def test_an_unclosed_backend_ends_its_process_quietly(server: FakeOpenAIServer) -> None:
    probe = (
        "from listrank.backends.base import GenerationRequest\n"
        "from listrank.backends.openai import OpenAIBackend\n"
        f"b = OpenAIBackend('m', base_url={server.url!r})\n"
        "msgs = [{'role': 'user', 'content': '[1] a'}]\n"
        "b.generate([GenerationRequest(msgs, 5)])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120,
        check=True,
    )  # fmt: skip
    assert out.stderr == ""


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_https_with_the_trust_store_the_environment_names(
    transport: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trustme = pytest.importorskip("trustme")
    if transport == "sdk":
        pytest.importorskip("openai")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with FakeOpenAIServer() as server:
        assert server._server is not None
        server._server.socket = context.wrap_socket(server._server.socket, server_side=True)
        url = server.url.replace("http://", "https://")
        untrusted = _backend(url, transport, max_attempts=1)
        with pytest.raises(RetryExhaustedError):  # the system does not trust this CA
            untrusted.generate([REQ])
        untrusted.close()
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        b = _backend(url, transport)
        assert b.generate([REQ])[0].text == "[3] > [2] > [1]"
        b.close()
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
