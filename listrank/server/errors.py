"""Errors the service answers with, as JSON: ``{"message", "code", "limit"?}``.

``message`` is what Cohere's and Jina's clients show; ``code`` is stable for programs;
``limit`` names the server option a request exceeded.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        limit: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.limit = limit
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": request_id, "message": self.message, "code": self.code}
        if self.limit is not None:
            out["limit"] = self.limit
        return out


def invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_request", message)


def over_limit(status: int, limit: str, message: str) -> ApiError:
    return ApiError(status, "limit_exceeded", message, limit=limit)
