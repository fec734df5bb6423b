"""A deterministic scripted backend for in-process CLI tests: its answer is a permutation fixed
by the prompt text (so a changed passage or template changes the ranking), and a prompt holding
``POISON`` fails its call, as a query whose retries ran out."""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
from collections.abc import Iterator
from typing import Any

from listrank import registry
from listrank.backends.base import GenerationRequest, LogprobRequest
from listrank.backends.fake import FakeBackend
from listrank.errors import RetryExhaustedError


def answer(request: GenerationRequest) -> str:
    text = "".join(m["content"] for m in request.messages)
    if "POISON" in text:
        raise RetryExhaustedError("scripted: retries ran out")
    n = max((int(x) for x in re.findall(r"\[(\d+)\]", text)), default=1)
    ids = list(range(1, n + 1))
    random.Random(hashlib.sha256(text.encode()).hexdigest()).shuffle(ids)
    return " > ".join(f"[{i}]" for i in ids)


def logprobs(request: LogprobRequest) -> dict[str, float]:
    """Next-token scores fixed by the prompt text and the token."""
    text = "".join(m["content"] for m in request.messages)
    seed = hashlib.sha256(text.encode()).hexdigest()
    return {t: -random.Random(f"{seed}{t}").random() * 5 for t in request.tokens}


class Scripted(FakeBackend):
    name = "scripted"

    def __init__(self, model: Any = None, **_: Any) -> None:
        super().__init__(responder=answer, logprob_responder=logprobs, model_name="scripted")


@contextlib.contextmanager
def registered() -> Iterator[None]:
    """The backend registered as "scripted" for the duration (other tests never see it)."""
    registry.register("backend", "scripted", "tests.support.scripted:Scripted")
    try:
        yield
    finally:
        registry._BUILTIN["backend"].pop("scripted", None)
