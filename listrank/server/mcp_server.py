"""The MCP face (extra ``mcp``): tools ``rerank`` and ``plan`` for agents, over stdio or
streamable HTTP, on the official MCP SDK.

Each named pipeline is a ``RerankService`` exactly as `listrank serve` runs one: the same
limits (checked by ``schema.request_from_data``, so the messages are the HTTP API's), the same
bounded queue and workers whose calls at a stage share backend calls, the same cancellation
(a call the client cancels never reaches the model if queued and stops before its next stage
if running). ``rerank`` answers the Cohere rerank response as JSON text. Every failure is an
MCP tool error carrying a one-line message; nothing of a traceback reaches the client.

No ``from __future__ import annotations`` here: the SDK reads the tools' annotations (and the
pipeline names in them, which exist only at run time) from the function objects.
"""

import asyncio
import dataclasses
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from listrank.errors import InputError, ListrankError, PromptTooLongError, did_you_mean
from listrank.pipeline.reranker import Reranker
from listrank.server.auth import authorized
from listrank.server.errors import ApiError
from listrank.server.schema import request_from_data, rerank_response
from listrank.server.service import RerankService
from listrank.server.settings import ServerSettings
from listrank.server.work_queue import QueueFullError
from listrank.strategies.planning import placeholder_candidates
from listrank.types import Candidate

logger = logging.getLogger("listrank.server")

T = TypeVar("T")

DEFAULT_PATH = "/mcp"
_PLACEHOLDER_WORDS = 100  # as `listrank plan` without --input
_PLACEHOLDER_QUERY = "what is the placeholder query used for token estimates"


@dataclass(frozen=True)
class Pipeline:
    """A pipeline the server offers: its name in the tools, the built reranker, and a line
    telling an agent what it is (method, strategy, model)."""

    name: str
    reranker: Reranker
    summary: str
    workers: int | None = None
    """Calls run at once (default: the settings' workers)."""


def _instructions(pipelines: Sequence[Pipeline], settings: ServerSettings) -> str:
    lines = [
        "listrank reranks search results with a language model: give `rerank` a query and the "
        "candidate passages (e.g. a retriever's top 20-100) and it returns their indexes best "
        "first. `plan` tells, without running a model, how many model calls a rerank of N "
        "passages costs. Pipelines:",
        *(f"- {p.name}: {p.summary}" for p in pipelines),
        f"Limits: at most {settings.max_documents} documents and {settings.max_query_chars} "
        f"query characters per call; {settings.queue_size} calls may wait.",
    ]
    return "\n".join(lines)


def create_mcp_server(
    pipelines: Sequence[Pipeline],
    settings: ServerSettings | None = None,
) -> MCPServer[Any]:
    """An MCP server offering ``pipelines`` (the first is the default) under ``settings``."""
    cfg = settings or ServerSettings()
    if not pipelines:
        raise ValueError("an MCP server needs at least one pipeline")
    by_name = {p.name: p for p in pipelines}
    if len(by_name) != len(pipelines):
        raise ValueError(f"pipeline names must differ: {[p.name for p in pipelines]}")
    services = {
        p.name: RerankService(
            p.reranker, dataclasses.replace(cfg, workers=p.workers) if p.workers else cfg
        )
        for p in pipelines
    }
    names = list(by_name)
    default = names[0]

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        for service in services.values():
            await service.start()
        try:
            yield None
        finally:
            for service in services.values():
                await service.stop()

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server: MCPServer[Any] = MCPServer(
        "listrank",
        instructions=_instructions(pipelines, cfg),
        lifespan=lifespan,
    )
    # the SDK configures the root logger on construction; logging stays the caller's choice
    root.handlers[:] = handlers
    root.setLevel(level)
    pipeline_field = Field(
        description="Which pipeline ranks: "
        + "; ".join(f"'{p.name}' ({p.summary})" for p in pipelines)
        + f". Default '{default}'.",
        json_schema_extra={"enum": list[Any](names)},
    )

    def pick(name: str) -> str:
        if name not in services:
            raise ToolError(
                f"unknown pipeline {name!r}{did_you_mean(name, names)}; "
                f"this server has {', '.join(map(repr, names))}"
            )
        return name

    @server.tool(
        name="rerank",
        description="Order candidate passages by relevance to a query, best first, with a "
        "language model judging them together. Returns JSON text in the Cohere rerank "
        'format: {"results": [{"index": i, "relevance_score": s}, ...]} where index is the '
        "position in `documents` and relevance_score is in (0, 1], 1.0 for the best (it "
        f"comes from the rank, not a calibrated probability). At most {cfg.max_documents} "
        "documents per call.",
        structured_output=False,
    )
    async def rerank(
        query: Annotated[str, Field(description="The search query or question.")],
        documents: Annotated[
            list[str],
            Field(
                description="The candidate passages as plain text, in the retriever's order "
                "(the order is kept for ties and for candidates a pipeline does not rerank)."
            ),
        ],
        top_n: Annotated[
            int | None,
            Field(description="Return only the best top_n results (default: all of them)."),
        ] = None,
        pipeline: Annotated[str, pipeline_field] = default,
    ) -> str:
        name = pick(pipeline)
        req = _checked(
            lambda: request_from_data({"query": query, "documents": documents, "top_n": top_n}, cfg)
        )
        ranking, _ = await _tool_call(services[name].rerank(req.query, req.documents))
        answer = rerank_response(uuid.uuid4().hex, req, ranking, name)
        return json.dumps(answer, ensure_ascii=False)

    @server.tool(
        name="plan",
        description="Say what a rerank would cost before running it: model calls, the longest "
        "chain of calls that must run one after another (depth) and estimated prompt tokens, "
        "for n_documents candidates (or for the given documents). Runs no model. Returns "
        'JSON text: {"pipeline", "method", "strategy", "n", "calls", "depth", '
        '"prompt_tokens", "exact", "block_sizes"}.',
        structured_output=False,
    )
    async def plan(
        n_documents: Annotated[
            int | None,
            Field(description="How many candidates (default: the number of `documents`)."),
        ] = None,
        documents: Annotated[
            list[str] | None,
            Field(description="Optional passages to estimate prompt tokens from."),
        ] = None,
        query: Annotated[
            str | None, Field(description="Optional query to estimate prompt tokens with.")
        ] = None,
        pipeline: Annotated[str, pipeline_field] = default,
    ) -> str:
        name = pick(pipeline)
        n = n_documents if n_documents is not None else len(documents or [])
        if n < 1:
            raise ToolError("give n_documents >= 1 or a non-empty documents list")
        if n > cfg.max_documents:
            raise ToolError(
                f"{n} documents; this server accepts at most {cfg.max_documents} per request "
                "(max_documents)"
            )
        texts = list(documents or [])
        cands = (
            [Candidate(docid=str(i), text=texts[i % len(texts)]) for i in range(n)]
            if texts
            else placeholder_candidates(n, _PLACEHOLDER_WORDS)
        )
        reranker = by_name[name].reranker
        result = await _tool_call(
            asyncio.to_thread(reranker.plan, n, query or _PLACEHOLDER_QUERY, cands)
        )
        return json.dumps(
            {
                "pipeline": name,
                "method": reranker.method.name,
                "strategy": result.strategy,
                "n": result.n,
                "calls": result.calls,
                "depth": result.depth,
                "prompt_tokens": result.prompt_tokens,
                "exact": result.exact,
                "block_sizes": list(result.block_sizes),
            }
        )

    return server


def _checked(parse: Callable[[], T]) -> T:
    try:
        return parse()
    except ApiError as err:
        raise ToolError(err.message) from None


async def _tool_call(work: Awaitable[T]) -> T:
    """Await the work; every failure becomes a ToolError with a one-line message."""
    try:
        return await work
    except QueueFullError as exc:
        raise ToolError(
            f"the server is busy; retry after {exc.retry_after_s} s (queue_size)"
        ) from None
    except (InputError, PromptTooLongError) as exc:
        raise ToolError(str(exc)) from None
    except ListrankError as exc:
        logger.error("rerank failed: %s", exc)
        raise ToolError(f"reranking failed: {exc}") from None
    except Exception as exc:  # a bug: one log line, and no internals for the client
        first = str(exc).splitlines()[0][:300] if str(exc) else ""
        logger.error("unexpected error: %s: %s", type(exc).__name__, first)
        raise ToolError(f"internal error ({type(exc).__name__})") from None


class BearerAuth:
    """Refuses HTTP requests without ``Authorization: Bearer KEY`` (as `listrank serve`)."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            if not authorized(header or None, self.api_key):
                body = {"message": "missing or invalid API key; send 'Authorization: Bearer <key>'"}
                response = JSONResponse(body, 401, headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def http_app(
    server: MCPServer[Any],
    settings: ServerSettings,
    *,
    host: str = "127.0.0.1",
    path: str = DEFAULT_PATH,
) -> ASGIApp:
    """The streamable HTTP app at ``path`` (bodies capped at ``max_request_bytes``; with an API
    key, every request needs it)."""
    app: Starlette = server.streamable_http_app(
        streamable_http_path=path, max_request_body_size=settings.max_request_bytes, host=host
    )
    return BearerAuth(app, settings.api_key) if settings.api_key else app
