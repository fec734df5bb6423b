"""The ASGI app: ``POST /v1/rerank`` (also ``/v2/rerank`` and ``/rerank``) and
``GET /health``.

Order of checks on a rerank request, cheapest first and before any model work: auth (401),
body size (413), JSON and shape (400/422), limits (400), queue capacity (503).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from listrank.errors import BackendError, InputError, ListrankError, PromptTooLongError
from listrank.integrations._rank import SupportsRerank
from listrank.server.access_log import log_access
from listrank.server.auth import authorized
from listrank.server.cancel import ClientGone, Documents, unless_disconnected
from listrank.server.connections import install_quiet_loop_errors
from listrank.server.errors import ApiError, over_limit
from listrank.server.guard import CatchAllMiddleware, http_error, require_json
from listrank.server.schema import parse_request, rerank_response
from listrank.server.service import serving_queue
from listrank.server.settings import ServerSettings
from listrank.server.work_queue import QueueFullError

logger = logging.getLogger("listrank.server")

REQUEST_ID_HEADER = "x-request-id"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
RERANK_PATHS = ("/v1/rerank", "/v2/rerank", "/rerank")


class RequestContext:
    """Request id and access-log fields, shared by the middleware and the handlers."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.fields: dict[str, Any] = {}


class AccessLogMiddleware:
    """Gives each request an id (the client's X-Request-ID when it is sane), echoes it in the
    response header and writes one access-log line when the response starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        ctx = RequestContext(given if _CLIENT_ID.match(given) else uuid.uuid4().hex)
        scope.setdefault("state", {})["ctx"] = ctx
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), ctx.request_id.encode()),
                ]
                message = {**message, "headers": headers}
                client = scope.get("client")
                log_access(
                    {
                        "request_id": ctx.request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": message["status"],
                        "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                        "client": client[0] if client else None,
                        **ctx.fields,
                    }
                )
            await send(message)

        await self.app(scope, receive, send_with_id)


def _context(request: Request) -> RequestContext:
    ctx: RequestContext = request.state.ctx
    return ctx


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed ``limit`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, "invalid_request", "Content-Length is not a number") from None
        if size > limit:
            raise _too_large(size, limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _too_large(total, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> ApiError:
    return over_limit(
        413,
        "max_request_bytes",
        f"the request body has {size} bytes or more; this server accepts at most "
        f"{limit} (max_request_bytes)",
    )


def _error(ctx: RequestContext, err: ApiError) -> JSONResponse:
    ctx.fields["error"] = err.code
    if err.limit:
        ctx.fields["limit"] = err.limit
    return JSONResponse(err.body(ctx.request_id), status_code=err.status, headers=err.headers)


def create_app(reranker: SupportsRerank, settings: ServerSettings | None = None) -> Starlette:
    """An app serving ``reranker`` (built once by the caller, e.g. from a PipelineConfig)."""
    cfg = settings or ServerSettings()

    queue = serving_queue(reranker, cfg)

    async def rerank(request: Request) -> Response:
        ctx = _context(request)
        try:
            if not authorized(request.headers.get("authorization"), cfg.api_key):
                raise ApiError(
                    401,
                    "unauthorized",
                    "missing or invalid API key; send 'Authorization: Bearer <key>'",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            require_json(request.headers.get("content-type"))
            body = await _read_body(request, cfg.max_request_bytes)
            req = parse_request(body, cfg)
            ctx.fields.update(documents=len(req.documents), top_n=req.top_n)
            documents = Documents(req.documents)
            try:
                ranking, timing = await unless_disconnected(
                    queue.submit(req.query, documents), request.receive, documents
                )
            except QueueFullError as exc:
                raise ApiError(
                    503,
                    "queue_full",
                    f"the server is busy ({queue.size} requests waiting); "
                    f"retry after {exc.retry_after_s} s",
                    limit="queue_size",
                    headers={"Retry-After": str(exc.retry_after_s)},
                ) from None
            except (InputError, PromptTooLongError) as exc:
                raise ApiError(422, "invalid_request", str(exc)) from None
            except BackendError as exc:  # the model server failed or sent something else
                logger.error("upstream failed: %s", exc, extra={"request_id": ctx.request_id})
                raise ApiError(502, "upstream_error", f"the model backend failed: {exc}") from None
            except ListrankError as exc:
                logger.error("rerank failed: %s", exc, extra={"request_id": ctx.request_id})
                raise ApiError(500, "rerank_failed", f"reranking failed: {exc}") from None
        except ApiError as err:
            return _error(ctx, err)
        except (ClientDisconnect, ClientGone):
            # nobody reads this; it gives the access log its line (499: client closed request)
            return _error(ctx, ApiError(499, "client_closed", "the client closed the request"))
        ctx.fields.update(
            queue_ms=round(timing.queue_s * 1000, 2),
            run_ms=round(timing.run_s * 1000, 2),
            model_calls=ranking.trace.n_calls,
            repaired_calls=ranking.trace.repaired_calls,
        )
        version = "2" if request.url.path.startswith("/v2/") else "1"
        return JSONResponse(
            rerank_response(ctx.request_id, req, ranking, cfg.model_name, api_version=version)
        )

    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "model": cfg.model_name,
                "queue": {
                    "waiting": queue.waiting,
                    "capacity": queue.size,
                    "in_flight": queue.in_flight,
                    "workers": queue.workers,
                    "served": queue.served,
                },
            }
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        install_quiet_loop_errors()  # e.g. out of descriptors: one line per 10 s, not a flood
        await queue.start()
        try:
            yield
        finally:
            await queue.stop()

    routes = [Route(p, rerank, methods=["POST"]) for p in RERANK_PATHS]
    routes.append(Route("/health", health, methods=["GET"]))
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error}
    )
    app.add_middleware(CatchAllMiddleware)  # inside the access log, so a 500 is logged too
    app.add_middleware(AccessLogMiddleware)
    app.state.queue = queue
    app.state.settings = cfg
    return app
