"""Auth, the bounded queue (503 + Retry-After) and settings of the rerank service."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

cohere = pytest.importorskip("cohere", reason="needs the integrations-test extra")
httpx = pytest.importorskip("httpx", reason="needs the integrations-test extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")

from listrank.errors import ConfigError  # noqa: E402
from listrank.server import ServerSettings  # noqa: E402
from listrank.server.auth import authorized, bearer_token  # noqa: E402
from listrank.server.work_queue import RerankQueue  # noqa: E402
from listrank.types import Candidate, Query, RankedCandidate, Ranking  # noqa: E402
from tests.unit.server_helpers import CountingJudge, fake_reranker, running_server  # noqa: E402

KEY = "s3cret-key-0123456789"
BODY = {"query": "q", "documents": ["grade=1 a", "grade=2 b"]}


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_authorized_only_with_the_exact_key() -> None:
    assert authorized(None, None) and authorized("junk", None)  # no key configured
    assert authorized(f"Bearer {KEY}", KEY)
    for wrong in (None, "Bearer ", f"Bearer {KEY}x", f"Bearer {KEY[:-1]}", f"Basic {KEY}"):
        assert not authorized(wrong, KEY)
    assert not authorized("Bearer ключ", KEY)  # non-ASCII is compared as bytes, not an error


def test_auth_missing_or_wrong_key_is_401_and_no_work_is_done(
    caplog: pytest.LogCaptureFixture,
) -> None:
    judge = CountingJudge()
    with (
        caplog.at_level(logging.DEBUG),
        running_server(fake_reranker(judge), ServerSettings(api_key=KEY)) as url,
    ):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            resp = httpx.post(f"{url}/v1/rerank", json=BODY, headers=headers)
            assert resp.status_code == 401
            assert resp.headers["www-authenticate"] == "Bearer"
            assert resp.json()["code"] == "unauthorized"
        with pytest.raises(cohere.UnauthorizedError):
            cohere.Client(base_url=url, api_key="wrong").rerank(query="q", documents=["a"])
        # a body over the limits is not even read without the key
        big = httpx.post(f"{url}/v1/rerank", content=b"x" * 10_000_000)
        assert big.status_code == 401
        assert judge.calls == 0
        assert httpx.get(f"{url}/health").status_code == 200  # probes need no key

        resp = cohere.Client(base_url=url, api_key=KEY).rerank(
            query="q", documents=BODY["documents"]
        )
        assert [r.index for r in resp.results] == [1, 0]
        assert judge.calls == 1
    assert caplog.records, "the access log should have lines"
    assert all(KEY not in r.getMessage() and KEY not in str(r.__dict__) for r in caplog.records)


def test_settings_reject_bad_values_and_hide_the_key() -> None:
    assert KEY not in repr(ServerSettings(api_key=KEY))
    for field in ("max_documents", "max_request_bytes", "max_query_chars", "queue_size", "workers"):
        with pytest.raises(ConfigError, match=field):
            ServerSettings(**{field: 0})
    with pytest.raises(ConfigError, match="empty"):
        ServerSettings(api_key=" ")


def test_full_queue_answers_503_with_retry_after_and_loses_nothing() -> None:
    judge = CountingJudge()
    judge.gate.clear()  # hold the model so requests pile up
    settings = ServerSettings(queue_size=1, workers=1)
    with running_server(fake_reranker(judge), settings) as url, ThreadPoolExecutor(2) as pool:
        health = lambda: httpx.get(f"{url}/health").json()["queue"]  # noqa: E731
        first = pool.submit(httpx.post, f"{url}/v1/rerank", json=BODY, timeout=30)
        wait_until(lambda: health()["in_flight"] == 1)  # on the model, held
        second = pool.submit(httpx.post, f"{url}/v1/rerank", json=BODY, timeout=30)
        wait_until(lambda: health()["waiting"] == 1)  # the one place in the queue
        refused = httpx.post(f"{url}/v1/rerank", json=BODY)
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["limit"] == "queue_size"
        with pytest.raises(cohere.ServiceUnavailableError):
            cohere.Client(base_url=url, api_key="x").rerank(query="q", documents=["a"])
        judge.gate.set()
        assert first.result().status_code == 200
        assert second.result().status_code == 200
        assert judge.calls == 2  # the refused requests never reached the model
        assert health()["served"] == 2


def test_queue_serves_in_arrival_order_with_one_worker() -> None:
    seen: list[str] = []

    def rerank(query: str, docs: Any) -> Ranking:
        seen.append(query)
        time.sleep(0.01)
        return Ranking(Query(query), (RankedCandidate(Candidate("0", docs[0]), 1.0),))

    async def scenario() -> list[str]:
        queue = RerankQueue(rerank, size=10, workers=1)
        await queue.start()
        try:
            results = await asyncio.gather(*(queue.submit(f"q{i}", ["d"]) for i in range(8)))
        finally:
            await queue.stop()
        return [r.query.text for r, _ in results]

    answered = asyncio.run(scenario())
    assert seen == [f"q{i}" for i in range(8)]
    assert answered == seen  # each caller got its own result
