"""The rerank service end to end: a real uvicorn server on loopback, called with the published
Cohere SDK and with raw HTTP for the error cases."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

cohere = pytest.importorskip("cohere", reason="needs the integrations-test extra")
httpx = pytest.importorskip("httpx", reason="needs the integrations-test extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")

from listrank.server import ServerSettings  # noqa: E402
from tests.unit.server_helpers import CountingJudge, fake_reranker, running_server  # noqa: E402

GRADES = [3, 9, 1, 7, 5, 0, 8]
DOCS = [f"document {i} about things grade={g}" for i, g in enumerate(GRADES)]
BEST_FIRST = sorted(range(len(GRADES)), key=lambda i: -GRADES[i])
SETTINGS = ServerSettings(max_documents=10, max_request_bytes=4000, max_query_chars=50)


@pytest.fixture(scope="module")
def judge() -> CountingJudge:
    return CountingJudge()


@pytest.fixture(scope="module")
def url(judge: CountingJudge) -> Iterator[str]:
    with running_server(fake_reranker(judge), SETTINGS) as base:
        yield base


def test_cohere_v1_client_gets_results_best_first(url: str) -> None:
    co = cohere.Client(base_url=url, api_key="unused")
    resp = co.rerank(model="listrank", query="things", documents=DOCS, top_n=3)
    assert [r.index for r in resp.results] == BEST_FIRST[:3]
    scores = [r.relevance_score for r in resp.results]
    assert scores == sorted(scores, reverse=True) and scores[0] == 1.0
    assert all(r.document is None for r in resp.results)  # Cohere's default
    assert resp.id and resp.meta is not None and resp.meta.api_version is not None
    assert resp.meta.api_version.version == "1"


def test_cohere_v1_returns_documents_as_sent(url: str) -> None:
    co = cohere.Client(base_url=url, api_key="unused")
    objects = [{"text": d, "source": f"s{i}"} for i, d in enumerate(DOCS)]
    resp = co.rerank(query="things", documents=objects, return_documents=True)
    assert [r.index for r in resp.results] == BEST_FIRST
    for r in resp.results:
        assert r.document is not None and r.document.text == DOCS[r.index]
        assert r.document.dict()["source"] == f"s{r.index}"  # other fields preserved


def test_rank_fields_choose_what_is_judged(url: str) -> None:
    # the grades live in "title"; "text" alone would tie everything
    objects = [{"title": f"grade={g}", "text": "same"} for g in GRADES]
    body = {"query": "q", "documents": objects, "rank_fields": ["title"]}
    resp = httpx.post(f"{url}/v1/rerank", json=body)
    assert resp.status_code == 200
    assert [r["index"] for r in resp.json()["results"]] == BEST_FIRST


def test_cohere_v2_client(url: str) -> None:
    co = cohere.ClientV2(base_url=url, api_key="unused")
    resp = co.rerank(model="listrank", query="things", documents=DOCS, top_n=100)
    assert [r.index for r in resp.results] == BEST_FIRST  # top_n above n is clamped
    assert resp.meta is not None and resp.meta.api_version is not None
    assert resp.meta.api_version.version == "2"


def test_jina_shape_on_the_same_endpoint(url: str) -> None:
    body = {"model": "m", "query": "q", "documents": DOCS[:3], "return_documents": True}
    resp = httpx.post(f"{url}/v1/rerank", json=body)
    data = resp.json()
    assert resp.status_code == 200
    assert data["model"] == "listrank" and data["usage"]["total_tokens"] > 0
    assert [r["document"]["text"] for r in data["results"]] == [DOCS[1], DOCS[0], DOCS[2]]


def test_request_id_is_echoed_or_generated(url: str) -> None:
    body = {"query": "q", "documents": DOCS[:2]}
    given = httpx.post(f"{url}/v1/rerank", json=body, headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123" == given.json()["id"]
    for header in ({}, {"X-Request-ID": "bad id with spaces"}, {"X-Request-ID": "x" * 500}):
        resp = httpx.post(f"{url}/v1/rerank", json=body, headers=header)
        rid = resp.headers["x-request-id"]
        assert rid == resp.json()["id"] and len(rid) == 32 and rid.isalnum()
    bad = httpx.post(f"{url}/v1/rerank", content=b"[")
    assert bad.headers["x-request-id"] == bad.json()["id"]  # errors carry it too


def test_health(url: str) -> None:
    data = httpx.get(f"{url}/health").json()
    assert data["status"] == "ok"
    assert data["queue"]["capacity"] == SETTINGS.queue_size


def _post(url: str, body: object) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{url}/v1/rerank", content=raw, headers={"content-type": "application/json"})


OK = {"query": "q", "documents": ["a", "b"]}
BAD_REQUESTS: dict[str, tuple[object, int, str, str | None]] = {
    # name: (body, status, words in the message, limit named)
    "not-json": (b"{not json", 400, "not valid JSON", None),
    "not-utf8": (b"\xff\xfe", 400, "not valid JSON", None),
    "not-an-object": ([1, 2], 422, "must be a JSON object", None),
    "no-query": ({"documents": ["a"]}, 422, "'query' is required", None),
    "query-not-string": ({**OK, "query": 5}, 422, "'query' must be a string", None),
    "query-blank": ({**OK, "query": "  "}, 422, "'query' is empty", None),
    "no-documents": ({"query": "q"}, 422, "'documents' is required", None),
    "documents-not-list": ({**OK, "documents": "a"}, 422, "must be a list", None),
    "documents-empty": ({**OK, "documents": []}, 422, "'documents' is empty", None),
    "document-wrong-type": ({**OK, "documents": ["a", 3]}, 422, "documents[1] must be", None),
    "document-blank": ({**OK, "documents": ["a", " "]}, 422, "documents[1] is empty", None),
    "document-no-text": ({**OK, "documents": [{"title": "t"}]}, 422, "'text'", None),
    "document-text-not-string": ({**OK, "documents": [{"text": 1}]}, 422, "strings", None),
    "top-n-zero": ({**OK, "top_n": 0}, 422, "'top_n' must be >= 1", None),
    "top-n-string": ({**OK, "top_n": "2"}, 422, "'top_n' must be an integer", None),
    "top-n-bool": ({**OK, "top_n": True}, 422, "'top_n' must be an integer", None),
    "return-documents-string": ({**OK, "return_documents": "yes"}, 422, "true or false", None),
    "model-not-string": ({**OK, "model": 1}, 422, "'model' must be a string", None),
    "rank-fields-bad": ({**OK, "rank_fields": "text"}, 422, "'rank_fields'", None),
    "too-many-documents": ({**OK, "documents": ["d"] * 11}, 400, "at most 10", "max_documents"),
    "query-too-long": ({**OK, "query": "q" * 51}, 400, "at most 50", "max_query_chars"),
    "body-too-large": ({**OK, "documents": ["x" * 5000]}, 413, "at most 4000", "max_request_bytes"),
}


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_bad_requests_get_their_documented_status(
    url: str, judge: CountingJudge, name: str
) -> None:
    body, status, words, limit = BAD_REQUESTS[name]
    before = judge.calls
    resp = _post(url, body)
    assert resp.status_code == status, resp.text
    data = resp.json()
    assert words in data["message"]
    assert data.get("limit") == limit
    assert judge.calls == before  # refused before any model work


def test_streamed_body_over_the_limit_is_refused_without_content_length(url: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "q", "documents": ["'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"]}'

    resp = httpx.post(f"{url}/v1/rerank", content=chunks())  # chunked transfer encoding
    assert resp.status_code == 413
    assert resp.json()["limit"] == "max_request_bytes"


def test_cohere_client_raises_its_own_error_on_a_limit(url: str) -> None:
    co = cohere.Client(base_url=url, api_key="unused")
    with pytest.raises(cohere.BadRequestError) as err:
        co.rerank(query="q", documents=["d"] * 11)
    assert err.value.body["limit"] == "max_documents"


def test_access_log_lines_are_json_with_the_request_id(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from listrank.server.access_log import ACCESS_LOGGER, JsonLineFormatter

    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        resp = _post(url, {"query": "q", "documents": DOCS[:3]})
        _post(url, {"query": "q", "documents": []})
    lines = [json.loads(JsonLineFormatter().format(r)) for r in caplog.records]
    ok, bad = lines[-2:]
    assert ok["request_id"] == resp.json()["id"]
    assert (ok["status"], ok["documents"], ok["path"]) == (200, 3, "/v1/rerank")
    assert ok["model_calls"] == 1 and ok["duration_ms"] >= 0 and "queue_ms" in ok
    assert (bad["status"], bad["error"]) == (422, "invalid_request")
