"""The service's last line of defence: every answer is JSON, whatever went wrong.

- 404 / 405 (and any other HTTP error Starlette raises) become ``{"id", "message", "code"}``.
- ``CatchAllMiddleware`` turns an unexpected exception into a JSON 500 carrying the request
  id; the error is logged as one line (type and message, no traceback in the log stream),
  and the access log still gets its line because this middleware sits inside it.
- ``require_json`` refuses a body declared as anything but JSON (415). A request without a
  Content-Type is read as JSON: some minimal clients send none.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from listrank.server.errors import ApiError

logger = logging.getLogger("listrank.server")

_CODES = {404: "not_found", 405: "method_not_allowed"}


def _request_id(scope: Scope) -> str:
    ctx = scope.get("state", {}).get("ctx")
    return str(getattr(ctx, "request_id", ""))


def _note(scope: Scope, code: str) -> None:
    ctx = scope.get("state", {}).get("ctx")
    if ctx is not None:
        ctx.fields["error"] = code


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's HTTP errors (no route, wrong method) as the service's JSON error body."""
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, "http_error")
    message = str(exc.detail)
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    _note(request.scope, code)
    body = ApiError(exc.status_code, code, message).body(_request_id(request.scope))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def require_json(content_type: str | None) -> None:
    if content_type is None:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return
    raise ApiError(
        415,
        "unsupported_media_type",
        f"the body must be JSON (Content-Type: application/json), not {media[:60]!r}",
    )


class CatchAllMiddleware:
    """Any exception that escapes the app becomes a JSON 500 (when no response has started)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # the catch-all: nothing unexpected reaches the server's log
            rid = _request_id(scope)
            first = str(exc).splitlines()[0][:300] if str(exc) else ""
            logger.error(
                "unexpected error: %s: %s", type(exc).__name__, first, extra={"request_id": rid}
            )
            if started:
                return
            _note(scope, "internal_error")
            body: dict[str, Any] = ApiError(
                500, "internal_error", f"internal error ({type(exc).__name__}); request id {rid}"
            ).body(rid)
            await JSONResponse(body, status_code=500)(scope, receive, send)
