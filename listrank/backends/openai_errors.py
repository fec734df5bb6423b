"""How a request's failures map onto listrank's: which are transient (retry), which mean the
prompt is too long (shrink it), how long the server asked us to wait; and how to describe an
error without leaking the API key.

Two transports raise them (``openai_http.py``): the lean HTTP one raises the two classes
below, read from the response exactly as the openai SDK reads its own (same message, ``body``
and ``code``); the SDK transport raises the SDK's. Every function here takes either, and never
imports the SDK: when it is not loaded, no SDK error can exist.
"""

from __future__ import annotations

import email.utils
import json
import math
import sys
import time
from collections.abc import Mapping
from typing import Any

from listrank.errors import BackendError, ContextLengthError

_TRANSIENT_STATUS = frozenset({408, 409, 425, 429})
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
# what OpenAI, vLLM, llama.cpp, TGI and others say when the prompt does not fit
_CONTEXT_PHRASES = (
    "maximum context length",
    "context length",
    "context window",
    "context_length_exceeded",
    "exceed context",
    "exceeds the context",
    "prompt is too long",
    "input is too long",
    "too many tokens",
    "reduce the length",
)


class StatusError(Exception):
    """The server answered with an error status (>= 400); read as the SDK reads it: the
    message is "Error code: N" and the error's own message, ``body`` its ``error`` object (or
    the whole JSON, or the raw text), ``code`` that object's code."""

    def __init__(self, status_code: int, text: str, headers: Mapping[str, str]) -> None:
        self.status_code = status_code
        self.headers = {k.lower(): v for k, v in headers.items()}
        message = f"Error code: {status_code}"
        body: object = text.strip()
        try:
            body = json.loads(text)
        except ValueError:
            pass
        else:
            error = body.get("error", body) if isinstance(body, Mapping) else None
            said = error.get("message") if isinstance(error, Mapping) else None
            if isinstance(said, str) and said:
                message += f" - {said}"
        self.body = body.get("error", body) if isinstance(body, Mapping) else body
        code = self.body.get("code") if isinstance(self.body, Mapping) else None
        self.code = str(code) if code is not None else None
        self.message = message
        super().__init__(message)


class TransportError(Exception):
    """No complete HTTP answer: the connection failed or dropped (transient); the cause is
    chained."""


def _sdk() -> Any:
    """The openai module if something loaded it, else None (then no SDK error exists)."""
    return sys.modules.get("openai")


def is_api_error(exc: BaseException) -> bool:
    """An error of a transport (either kind), as opposed to a bug or a listrank error."""
    if isinstance(exc, StatusError | TransportError):
        return True
    sdk = _sdk()
    return sdk is not None and isinstance(exc, sdk.OpenAIError)


def _status(exc: BaseException) -> StatusError | Any | None:
    if isinstance(exc, StatusError):
        return exc
    sdk = _sdk()
    return exc if sdk is not None and isinstance(exc, sdk.APIStatusError) else None


def is_transient(exc: BaseException) -> bool:
    """Timeouts, dropped connections, 429, 408/409/425 and every 5xx."""
    if isinstance(exc, TransportError):
        return True
    status = _status(exc)
    if status is not None:
        code = int(status.status_code)
        return code in _TRANSIENT_STATUS or code >= 500
    sdk = _sdk()
    if sdk is None:
        return False
    return isinstance(exc, sdk.APIConnectionError | sdk.APIResponseValidationError)


def is_context_error(exc: BaseException) -> bool:
    status = _status(exc)
    if status is None or status.status_code not in (400, 413, 422):
        return False
    if (status.code or "") in _CONTEXT_CODES:
        return True
    text = f"{status.message} {status.body}".lower()
    return any(p in text for p in _CONTEXT_PHRASES)


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds from ``Retry-After-Ms`` / ``Retry-After`` (seconds or an HTTP date)."""
    headers: Any = getattr(exc, "headers", None)
    if not isinstance(exc, StatusError):
        response: Any = getattr(exc, "response", None)
        if response is None:
            return None
        headers = response.headers
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000
            return value if math.isfinite(value) and value >= 0 else None
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
        return value if math.isfinite(value) and value >= 0 else None
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())


class Redactor:
    """Removes the API key from any text we put in an error, a log or a trace."""

    def __init__(self, secret: str | None) -> None:
        self._secret = secret if secret and len(secret) >= 4 else None

    def __call__(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def describe(self, exc: BaseException) -> str:
        status = _status(exc)
        if status is not None:
            return self(f"HTTP {status.status_code}: {status.message}")
        sdk = _sdk()
        if sdk is not None and isinstance(exc, sdk.APITimeoutError):
            return "request timed out"
        if isinstance(exc, TransportError) or (
            sdk is not None and isinstance(exc, sdk.APIConnectionError)
        ):
            cause = exc.__cause__
            detail = f" ({type(cause).__name__})" if cause is not None else ""
            return f"connection error{detail}"
        return self(f"{type(exc).__name__}: {exc}")


def translate(exc: BaseException, redact: Redactor, model: str) -> BackendError:
    """A non-transient transport error as a listrank error (no SDK objects attached: they
    hold the request headers, key included)."""
    if is_context_error(exc):
        return ContextLengthError(f"{model}: {redact.describe(exc)}")
    return BackendError(f"{model}: {redact.describe(exc)}")
