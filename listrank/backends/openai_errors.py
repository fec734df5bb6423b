"""How the OpenAI SDK's exceptions map onto listrank's: which are transient (retry), which mean
the prompt is too long (shrink it), how long the server asked us to wait; and how to describe
an error without leaking the API key."""

from __future__ import annotations

import email.utils
import math
import time
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


def is_transient(exc: BaseException) -> bool:
    """Timeouts, dropped connections, 429, 408/409/425 and every 5xx."""
    import openai  # imported by the backend already; here it is a lookup

    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _TRANSIENT_STATUS or exc.status_code >= 500
    return isinstance(exc, openai.APIResponseValidationError)


def is_context_error(exc: BaseException) -> bool:
    import openai  # imported by the backend already; here it is a lookup

    if not isinstance(exc, openai.APIStatusError) or exc.status_code not in (400, 413, 422):
        return False
    if (exc.code or "") in _CONTEXT_CODES:
        return True
    text = f"{exc.message} {exc.body}".lower()
    return any(p in text for p in _CONTEXT_PHRASES)


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds from ``Retry-After-Ms`` / ``Retry-After`` (seconds or an HTTP date)."""
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
        import openai  # imported by the backend already; here it is a lookup

        if isinstance(exc, openai.APIStatusError):
            return self(f"HTTP {exc.status_code}: {exc.message}")
        if isinstance(exc, openai.APITimeoutError):
            return "request timed out"
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__
            detail = f" ({type(cause).__name__})" if cause is not None else ""
            return f"connection error{detail}"
        return self(f"{type(exc).__name__}: {exc}")


def translate(exc: BaseException, redact: Redactor, model: str) -> BackendError:
    """A non-transient SDK error as a listrank error (no SDK objects attached: they hold the
    request headers, key included)."""
    if is_context_error(exc):
        return ContextLengthError(f"{model}: {redact.describe(exc)}")
    return BackendError(f"{model}: {redact.describe(exc)}")
