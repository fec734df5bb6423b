"""`listrank mcp` as an agent meets it, through the MCP SDK's own client: over stdio (the
client starts the command) and over streamable HTTP (a real uvicorn server on loopback).

The equality checks run the tiny random model: each tool answer must list the documents in
exactly the order `listrank rerank` writes for the same query. Sharing of backend calls and
cancellation are checked on the scripted fake backend, whose calls can be counted and held."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="needs the mcp extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")

from mcp import Client, StdioServerParameters

from listrank.backends.fake import FakeBackend
from listrank.cli import main
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.reranker import Reranker
from listrank.runs.io import Request, read_requests, read_trec_run
from listrank.server import ServerSettings
from listrank.server.mcp_server import Pipeline, create_mcp_server, http_app
from listrank.types import Candidate
from tests.unit.server_helpers import CountingJudge, by_grade, running_asgi

QUERIES = 10
# a short pipeline over each query's BM25 top 20: 3 windows, so the test stays fast
FLAGS = ["--strategy", "sliding", "--window", "10", "--step", "5", "--top-k-candidates", "20"]


@pytest.fixture(scope="module")
def dl19_10(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = data_dir / "trec-dl19-passage" / "dl19.bm25.top100.normalized.jsonl"
    path = tmp_path_factory.mktemp("dl19") / "dl19-10.jsonl"
    with open(src, encoding="utf-8") as fh:
        path.write_text("".join(fh.readline() for _ in range(QUERIES)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cli_orders(
    dl19_10: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[str]]:
    """qid -> docids best first, as `listrank rerank` writes them on the tiny model."""
    out = tmp_path_factory.mktemp("cli") / "run.trec"
    argv = ["rerank", str(dl19_10), "-o", str(out), "--format", "trec", "--no-progress"]
    argv += ["--model", str(tiny_model_dir), "--device", "cpu", *FLAGS]
    assert main(argv) == 0
    return {qid: [d for d, _ in pairs] for qid, pairs in read_trec_run(out).items()}


def _text(result: Any) -> str:
    assert len(result.content) == 1 and result.content[0].type == "text"
    text: str = result.content[0].text
    return text


async def _agent_session(client: Client, requests: list[Request]) -> list[dict[str, Any]]:
    """What an agent does: look at the tools, then rerank every query at once."""
    listed = (await client.list_tools()).tools
    tools = {t.name: t for t in listed}
    assert set(tools) == {"rerank", "plan"}
    schema = tools["rerank"].input_schema
    assert schema["required"] == ["query", "documents"]
    assert all(p.get("description") for p in schema["properties"].values())
    assert "Cohere" in (tools["rerank"].description or "")
    calls = [
        client.call_tool(
            "rerank",
            {"query": r.query.text, "documents": [c.text for c in r.candidates], "top_n": 100},
        )
        for r in requests
    ]
    results = await asyncio.gather(*calls)
    answers = []
    for r in results:
        assert not r.is_error, _text(r)
        answers.append(json.loads(_text(r)))
    return answers


def _check_equal(
    requests: list[Request], answers: list[dict[str, Any]], cli_orders: dict[str, list[str]]
) -> None:
    for req, answer in zip(requests, answers, strict=True):
        indexes = [r["index"] for r in answer["results"]]
        assert sorted(indexes) == list(range(len(req.candidates)))  # none lost or duplicated
        scores = [r["relevance_score"] for r in answer["results"]]
        assert scores == sorted(scores, reverse=True) and scores[0] == 1.0
        docids = [req.candidates[i].docid for i in indexes]
        assert docids == cli_orders[req.query.qid], req.query.qid


def test_stdio_agent_session_answers_as_listrank_rerank(
    dl19_10: Path, tiny_model_dir: Path, repo: Path, cli_orders: dict[str, list[str]]
) -> None:
    requests = read_requests(dl19_10)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "listrank", "mcp", "--model", str(tiny_model_dir), "--device", "cpu", *FLAGS],
        env={**os.environ, "PYTHONPATH": str(repo)},
    )

    async def session() -> list[dict[str, Any]]:
        async with Client(params) as client:
            return await _agent_session(client, requests)

    _check_equal(requests, asyncio.run(session()), cli_orders)


def test_http_agent_session_answers_as_listrank_rerank(
    tiny_model_dir: Path, dl19_10: Path, cli_orders: dict[str, list[str]]
) -> None:
    argv_cfg = PipelineConfig().with_overrides(
        backend="hf",
        model=str(tiny_model_dir),
        strategy="sliding",
        options={"window": 10, "step": 5, "top_k_candidates": 20, "device": "cpu"},
    )
    reranker = argv_cfg.build()
    settings = ServerSettings(workers=reranker.default_max_in_flight())
    server = create_mcp_server([Pipeline("tiny", reranker, "tiny random model")], settings)
    requests = read_requests(dl19_10)

    async def session(url: str) -> list[dict[str, Any]]:
        async with Client(f"{url}/mcp") as client:
            return await _agent_session(client, requests)

    with running_asgi(http_app(server, settings)) as base:
        answers = asyncio.run(session(base))
    _check_equal(requests, answers, cli_orders)


# ---- the fake backend: sharing, cancellation, errors --------------------------------------


def _candidates(docs: list[str]) -> list[Candidate]:
    return [Candidate(docid=str(i), text=t) for i, t in enumerate(docs)]


def _graded(n: int) -> list[str]:
    return [f"passage {i} grade={(i * 7) % n}" for i in range(n)]


@contextmanager
def fake_mcp(
    judge: CountingJudge, *, workers: int = 1, window: int = 2, **limits: int
) -> Iterator[tuple[str, FakeBackend, Reranker]]:
    """An MCP server over HTTP on a fake backend (sliding window of ``window``, step 1)."""
    backend = FakeBackend(responder=judge)
    reranker = Reranker(backend=backend, window=window, step=1)
    settings = ServerSettings(workers=workers, **limits)
    server = create_mcp_server([Pipeline("fake", reranker, "scripted fake model")], settings)
    with running_asgi(http_app(server, settings)) as base:
        yield f"{base}/mcp", backend, reranker


def test_concurrent_calls_share_backend_calls() -> None:
    judge = CountingJudge(by_grade)
    docs = _graded(5)  # window 2, step 1: 4 stages per call

    async def session(url: str, reranker: Reranker) -> list[Any]:
        assert reranker._gate is not None
        async with Client(url) as client:
            judge.gate.clear()  # the first call holds the model until all six are in flight
            calls = [
                asyncio.create_task(client.call_tool("rerank", {"query": "q", "documents": docs}))
                for _ in range(6)
            ]
            while reranker._gate._workers < 6:
                await asyncio.sleep(0.01)
            judge.gate.set()
            return await asyncio.gather(*calls)

    with fake_mcp(judge, workers=6) as (url, backend, reranker):
        results = asyncio.run(session(url, reranker))
    # each answer is the one a lone query gets from the library
    alone = Reranker(backend=FakeBackend(responder=by_grade), window=2, step=1)
    expected = [int(r.candidate.docid) for r in alone.rerank("q", _candidates(docs)).ranked]
    for r in results:
        assert [x["index"] for x in json.loads(_text(r))["results"]] == expected
    assert sum(backend.batches) == 6 * 4  # every block judged once
    assert max(backend.batches) > 1  # ... some in one backend call with other tool calls' blocks
    assert len(backend.batches) < 6 * 4


def test_a_cancelled_call_stops_its_work() -> None:
    judge = CountingJudge(by_grade)
    docs = _graded(5)

    async def session(url: str) -> dict[str, Any]:
        async with Client(url) as client:
            judge.gate.clear()
            doomed = asyncio.create_task(
                client.call_tool("rerank", {"query": "q", "documents": docs})
            )
            while not judge.entered.is_set():  # its first stage is with the model
                await asyncio.sleep(0.01)
            doomed.cancel()
            with pytest.raises(asyncio.CancelledError):
                await doomed
            await asyncio.sleep(0.5)  # the server hears of it
            judge.gate.set()
            # the only worker is free again: the next call runs all of its stages
            ok = await client.call_tool("rerank", {"query": "q", "documents": docs})
            return dict(json.loads(_text(ok)))

    with fake_mcp(judge) as (url, _, _):
        answer = asyncio.run(session(url))
    assert len(answer["results"]) == 5
    assert judge.calls == 1 + 4  # the cancelled call stopped after its first stage


BAD_CALLS: dict[str, tuple[str, dict[str, Any], str]] = {
    "too-many-documents": (
        "rerank",
        {"query": "q", "documents": ["d"] * 9},
        "at most 8 per request (max_documents)",
    ),
    "query-too-long": (
        "rerank",
        {"query": "q" * 41, "documents": ["d"]},
        "at most 40 (max_query_chars)",
    ),
    "empty-documents": ("rerank", {"query": "q", "documents": []}, "'documents' is empty"),
    "blank-document": ("rerank", {"query": "q", "documents": ["a", " "]}, "documents[1] is empty"),
    "top-n-zero": ("rerank", {"query": "q", "documents": ["a"], "top_n": 0}, "'top_n' must be"),
    "documents-not-a-list": ("rerank", {"query": "q", "documents": "d"}, "valid list"),
    "no-query": ("rerank", {"documents": ["d"]}, "query"),
    "unknown-pipeline": (
        "rerank",
        {"query": "q", "documents": ["d"], "pipeline": "fak"},
        "did you mean 'fake'?",
    ),
    "plan-over-the-limit": ("plan", {"n_documents": 9}, "(max_documents)"),
    "plan-of-nothing": ("plan", {}, "n_documents >= 1"),
}


def test_bad_calls_are_tool_errors_with_the_message() -> None:
    judge = CountingJudge(by_grade)

    async def session(url: str) -> dict[str, Any]:
        async with Client(url) as client:
            return {
                name: await client.call_tool(tool, args)
                for name, (tool, args, _) in BAD_CALLS.items()
            }

    with fake_mcp(judge, max_documents=8, max_query_chars=40) as (url, _, _):
        results = asyncio.run(session(url))
    for name, (_, _, words) in BAD_CALLS.items():
        result = results[name]
        assert result.is_error, name
        text = _text(result)
        assert words in text, (name, text)
        assert "Traceback" not in text and 'File "' not in text
    assert judge.calls == 0  # refused before any model work


def test_a_failing_model_is_a_tool_error_not_a_traceback() -> None:
    def broken(request: Any) -> str:
        raise KeyError("a bug deep inside")

    async def session(url: str) -> Any:
        async with Client(url) as client:
            return await client.call_tool("rerank", {"query": "q", "documents": ["a", "b"]})

    with fake_mcp(CountingJudge(broken)) as (url, _, _):
        result = asyncio.run(session(url))
    assert result.is_error
    assert _text(result).endswith("internal error (KeyError)")


def test_plan_counts_calls_without_running_a_model() -> None:
    judge = CountingJudge(by_grade)

    async def session(url: str) -> dict[str, Any]:
        async with Client(url) as client:
            result = await client.call_tool("plan", {"n_documents": 5})
            return dict(json.loads(_text(result)))

    with fake_mcp(judge) as (url, _, _):
        plan = asyncio.run(session(url))
    assert (plan["pipeline"], plan["strategy"], plan["n"]) == ("fake", "sliding", 5)
    assert plan["calls"] == 4 and plan["exact"] and plan["prompt_tokens"] > 0
    assert judge.calls == 0


def test_http_refuses_a_missing_api_key() -> None:
    import httpx

    reranker = Reranker(backend=FakeBackend(responder=by_grade), window=2, step=1)
    settings = ServerSettings(api_key="k-123456")
    server = create_mcp_server([Pipeline("fake", reranker, "fake")], settings)

    with running_asgi(http_app(server, settings)) as base:
        refused = httpx.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401 and "API key" in refused.json()["message"]
        wrong = httpx.post(f"{base}/mcp", json={}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401


def test_mcp_refuses_bad_pipelines_before_loading_a_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mcp", "--pipeline", "no-equals-sign"]) == 2
    assert "expected NAME=CONFIG" in capsys.readouterr().err
    config = tmp_path / "fast.toml"
    config.write_text('[strategy]\nname = "sliding"\nwindow = 4\n', encoding="utf-8")
    assert main(["mcp", "--config", str(config), "--pipeline", f"fast={config}"]) == 2
    assert "pipeline names must differ" in capsys.readouterr().err
    assert main(["mcp", "--pipeline", "x=preset:no-such-preset"]) == 2
    assert "no-such-preset" in capsys.readouterr().err
    assert main(["mcp", "--queue-size", "0"]) == 2
    assert "queue_size must be >= 1" in capsys.readouterr().err
