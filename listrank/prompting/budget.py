"""Fit prompts into the model's context: truncate passages by words, then shrink until it fits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from listrank.errors import PromptTooLongError
from listrank.types import Candidate

DEFAULT_MAX_PASSAGE_WORDS = 300
DEFAULT_MIN_PASSAGE_WORDS = 16
_SHRINK = 0.75
T = TypeVar("T")


def passage_text(candidate: Candidate) -> str:
    """The text a model sees for a candidate: title and body, whitespace collapsed."""
    body = " ".join(candidate.text.split())
    if candidate.title:
        return f"{' '.join(candidate.title.split())}: {body}" if body else candidate.title
    return body


def truncate_words(text: str, max_words: int) -> str:
    words = text.split()
    return " ".join(words[:max_words])


@dataclass(frozen=True)
class Fitted(Generic[T]):
    prompt: T
    prompt_tokens: int
    max_words: int


def fit_prompt(
    texts: Sequence[str],
    render: Callable[[list[str]], T],
    count: Callable[[T], int],
    *,
    context_length: int,
    reserve_tokens: int,
    max_words: int = DEFAULT_MAX_PASSAGE_WORDS,
    min_words: int = DEFAULT_MIN_PASSAGE_WORDS,
) -> Fitted[T]:
    """Render with passages of at most ``max_words`` words, shrinking until prompt + reserve fits.

    Raises PromptTooLongError when even ``min_words`` per passage does not fit.
    """
    budget = context_length - reserve_tokens
    words = max(max_words, 1)
    while True:
        prompt = render([truncate_words(t, words) for t in texts])
        tokens = count(prompt)
        if tokens <= budget:
            return Fitted(prompt, tokens, words)
        if words <= min_words:
            raise PromptTooLongError(
                f"a prompt of {len(texts)} passages needs {tokens} tokens at {words} words per "
                f"passage, over the {budget} available (context {context_length} minus "
                f"{reserve_tokens} for the answer); use a smaller window/block size, a model with "
                "a longer context, or a lower min_passage_words"
            )
        words = max(min_words, int(words * min(_SHRINK, budget / tokens)))
