"""A scripted backend for tests of orchestration logic (yours too): it records every request
and answers from a queue or a function. It never replaces a real model in integration tests."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence

from listrank.backends.base import (
    Feeding,
    GenerationRequest,
    GenerationResult,
    LogprobRequest,
    LogprobResult,
)
from listrank.errors import BackendError
from listrank.options import Option, bind
from listrank.types import ChatMessage


class FakeBackend:
    """Answers ``generate`` from ``enqueue``d texts (then ``responder``), and
    ``next_token_logprobs`` from ``logprob_responder``. Tokens are whitespace-separated words."""

    name = "fake"
    scripted = True
    """Answers only what Python code scripts into it; takes no model."""
    feeding = Feeding("batched")
    """One call at a time, like an in-process model: the gate merges queries' calls."""
    OPTIONS = (
        Option(
            "responder",
            object,
            None,
            "answers generate requests once the queue is empty",
            changes_answers=True,
            internal=True,
        ),
        Option(
            "logprob_responder",
            object,
            None,
            "answers next-token logprob requests",
            changes_answers=True,
            internal=True,
        ),
        Option(
            "context_length",
            int,
            100_000,
            "context window the methods budget for",
            changes_answers=False,
            ge=1,
        ),
        Option(
            "model_name",
            str,
            "fake-model",
            "the model's name",
            changes_answers=False,
            example="other-model",
        ),
    )

    def __init__(
        self,
        outputs: Iterable[str] = (),
        *,
        responder: Callable[[GenerationRequest], str] | None = None,
        logprob_responder: Callable[[LogprobRequest], dict[str, float]] | None = None,
        context_length: int = 100_000,
        model_name: str = "fake-model",
    ) -> None:
        self.settings = bind(self.OPTIONS, locals())
        self.model_name = model_name
        self._queue: deque[str] = deque(outputs)
        self.responder = responder
        self.logprob_responder = logprob_responder
        self._context_length = context_length
        self.history: list[GenerationRequest | LogprobRequest] = []
        self.batches: list[int] = []
        """Size of every batch received, in order (one entry per backend call)."""

    def enqueue(self, outputs: Iterable[str]) -> None:
        self._queue.extend(outputs)

    @property
    def context_length(self) -> int:
        return self._context_length

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def token_ids(self, text: str) -> list[int]:
        return [hash(w) & 0xFFFF for w in text.split()] or [0]

    def count_prompt_tokens(
        self, messages: Sequence[ChatMessage], assistant_prefix: str = ""
    ) -> int:
        return sum(self.count_tokens(m["content"]) for m in messages) + self.count_tokens(
            assistant_prefix
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.batches.append(len(requests))
        out = []
        for r in requests:
            self.history.append(r)
            if self._queue:
                text = self._queue.popleft()
            elif self.responder is not None:
                text = self.responder(r)
            else:
                raise BackendError("FakeBackend has no scripted output left")
            tokens = self.count_prompt_tokens(r.messages, r.assistant_prefix)
            out.append(GenerationResult(text, tokens, self.count_tokens(text), 0.0))
        return out

    def next_token_logprobs(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        self.batches.append(len(requests))
        if self.logprob_responder is None:
            raise BackendError("FakeBackend has no logprob_responder")
        out = []
        for r in requests:
            self.history.append(r)
            tokens = self.count_prompt_tokens(r.messages, r.assistant_prefix)
            out.append(LogprobResult(self.logprob_responder(r), tokens, 0.0))
        return out
