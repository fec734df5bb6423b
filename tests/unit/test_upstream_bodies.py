"""An HTTP 200 that is not the answer asked for (an HTML page, an error object, no choices, no
logprobs for a logprobs request) is a typed BackendError naming the server and quoting what
it sent; a command exits non-zero with it and the service answers 502 JSON. FIRST never keeps
input order silently: a missing score is counted as a repair."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from listrank.backends.base import GenerationRequest, LogprobRequest
from listrank.backends.fake import FakeBackend
from listrank.backends.openai import OpenAIBackend
from listrank.cli import main
from listrank.errors import BackendError, BadResponseError
from listrank.pipeline.reranker import Reranker
from tests.support.hostile_server import HostileServer, Reply, chat

BODIES: dict[str, Reply] = {
    "html page": Reply(b"<html><body>502 Bad gateway</body></html>", content_type="text/html"),
    "error object": Reply(json.dumps({"error": {"message": "model overloaded"}}).encode()),
    "empty choices": Reply(json.dumps({"object": "chat.completion", "choices": []}).encode()),
    "not json": Reply(b"{not json"),
    "empty body": Reply(b""),
    "choices not a list": Reply(json.dumps({"choices": {"0": "x"}}).encode()),
    "null message": Reply(json.dumps({"choices": [{"index": 0, "message": None}]}).encode()),
}
MSG = [{"role": "user", "content": "hi"}]


def _calls(backend: OpenAIBackend) -> dict[str, Callable[[], object]]:
    return {
        "generate": lambda: backend.generate([GenerationRequest(MSG, 5)]),  # type: ignore[list-item]
        "logprobs": lambda: backend.next_token_logprobs(
            [LogprobRequest(MSG, ("A", "B"), "[")]  # type: ignore[arg-type]
        ),
    }


@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize("call", ["generate", "logprobs"])
def test_a_body_that_is_not_a_completion_is_a_typed_error(body: str, call: str) -> None:
    with HostileServer(lambda _: BODIES[body]) as server:
        backend = OpenAIBackend("m", base_url=server.url, max_attempts=1, timeout=5)
        try:
            with pytest.raises(BackendError) as info:
                _calls(backend)[call]()
        finally:
            backend.close()
    assert not isinstance(info.value, BaseExceptionGroup)
    assert server.url in str(info.value)  # names the server


def test_a_chat_completion_without_logprobs_fails_a_logprob_call_with_the_fix() -> None:
    with HostileServer(lambda _: chat("[1]")) as server:
        backend = OpenAIBackend("m", base_url=server.url, max_attempts=1, timeout=5)
        try:
            with pytest.raises(BadResponseError, match=r"no logprobs.*--method rankgpt"):
                _calls(backend)["logprobs"]()
        finally:
            backend.close()


def _requests(path: Path) -> Path:
    cands = [{"docid": f"d{i}", "text": f"passage {i}"} for i in range(4)]
    path.write_text(json.dumps({"qid": "q1", "query": "a query", "candidates": cands}) + "\n")
    return path


def test_first_against_a_server_without_logprobs_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = _requests(tmp_path / "in.jsonl"), tmp_path / "out.jsonl"
    with HostileServer(lambda _: chat("[1]")) as server:
        code = main(
            ["rerank", str(inp), "-o", str(out), "--backend", "openai", "--model", "m",
             "--method", "first", "--strategy", "single", "--no-progress",
             "-O", f"base_url={server.url}", "-O", "max_attempts=1", "-O", "tokenizer=hf:embedded"]
        )  # fmt: skip
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert "q1" in err and "no logprobs" in err and "Traceback" not in err


def test_first_counts_unscored_identifiers_as_repairs() -> None:
    backend = FakeBackend(logprob_responder=lambda r: {})  # scores nothing
    ranking = Reranker(backend=backend, method="first", strategy="single").rerank(
        "q", ["a", "b", "c"]
    )
    (call,) = ranking.trace.calls
    assert call.repair.missing == 3 and call.repair.malformed and call.repair.repaired
    partial = FakeBackend(logprob_responder=lambda r: {r.tokens[1]: -0.1})
    ranking = Reranker(backend=partial, method="first", strategy="single").rerank(
        "q", ["a", "b", "c"]
    )
    assert ranking.trace.calls[0].repair.missing == 2
    assert ranking.ranked[0].candidate.text == "b"


def test_the_service_answers_502_json_for_a_bad_upstream_body() -> None:
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("uvicorn")
    from tests.unit.server_helpers import running_server

    with HostileServer(lambda _: BODIES["html page"]) as upstream:
        backend = OpenAIBackend("m", base_url=upstream.url, max_attempts=1, timeout=5)
        reranker = Reranker(backend=backend, strategy="single")
        with running_server(reranker) as url:
            resp = httpx.post(f"{url}/v1/rerank", json={"query": "q", "documents": ["a", "b"]})
        backend.close()
    assert resp.status_code == 502
    body = resp.json()
    assert body["code"] == "upstream_error" and "Bad gateway" in body["message"]
