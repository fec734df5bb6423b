"""The exceptions listrank raises. Every error a user can hit has its own class.

ListrankError
├── ConfigError                 bad options, unknown names, incompatible layers
│   ├── UnknownComponentError   no backend / method / strategy / template by that name
│   └── CapabilityError         the backend lacks what the method needs
├── TemplateError               a prompt template file is invalid
├── InputError                  bad user input (query, candidates, input files)
├── PromptTooLongError          even the shortest allowed passages do not fit the context
├── BackendError                a model call failed
│   ├── ContextLengthError      the server said the prompt is too long
│   └── RetryExhaustedError     bounded retries ran out
├── ModelLoadError              weights or tokenizer could not be loaded
└── QueriesFailedError          some queries of a many-query run failed (the rest finished)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the closest of ``choices``, or "" when none is close."""
    close = difflib.get_close_matches(name, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class ListrankError(Exception):
    """Base class of every error listrank raises on purpose."""


class ConfigError(ListrankError):
    """Options or component combinations that cannot work."""


class UnknownComponentError(ConfigError):
    """No registered component has the requested name."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        hint = did_you_mean(name, self.known)
        super().__init__(f"unknown {kind} {name!r}{hint}; choose one of: {', '.join(self.known)}")


class CapabilityError(ConfigError):
    """The backend cannot do what the method needs (or the method what the strategy needs)."""


class TemplateError(ListrankError):
    """A prompt template is invalid; the message names the file and the fix."""


class InputError(ListrankError):
    """Invalid user input. ``line`` and ``field`` locate it in an input file when known."""

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None) -> None:
        self.line = line
        self.field = field
        where = []
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)


class PromptTooLongError(ListrankError):
    """The prompt cannot fit the model context even with the shortest allowed passages."""


class BackendError(ListrankError):
    """A model call failed."""


class ContextLengthError(BackendError):
    """The model or server rejected the prompt as longer than its context."""


class RetryExhaustedError(BackendError):
    """A call still failed after the configured number of attempts."""


class BadResponseError(BackendError):
    """The server answered, but not with what was asked for (an HTML page or an error object
    with HTTP 200, no choices, no logprobs for a logprobs request); the message names the
    server and quotes what it sent."""


class ModelLoadError(ListrankError):
    """Model weights or tokenizer could not be loaded."""


class QueriesFailedError(ListrankError):
    """Some queries of ``rerank_many`` failed; the others finished. ``errors`` maps input
    positions to their exceptions, ``results`` holds every ranking (None where failed)."""

    def __init__(
        self,
        message: str,
        *,
        errors: dict[int, Exception],
        results: list[Any],
        qids: list[str],
    ) -> None:
        super().__init__(message)
        self.errors = errors
        self.results = results
        self.qids = qids
