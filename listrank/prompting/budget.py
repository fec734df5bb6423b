"""Fit prompts into the model's context: truncate passages by words, then shrink until the
prompt's token count (the backend's own counter) fits.

A "word" is script-aware, so text of any script shrinks: in scripts written with spaces it is a
whitespace-separated run (RankGPT's and rank_llm's unit); in scripts written without spaces
(Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar, Tibetan) every character, with the
combining marks after it, is one word — about one to two tokens in the tokenizers we measured,
close to an English word's — and a run of more than :data:`MAX_RUN_CHARS` characters with no
space (a URL, a hash, base64) counts one word per that many characters. Text in spaced scripts
truncates exactly as before.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from listrank.errors import PromptTooLongError
from listrank.types import Candidate

DEFAULT_MAX_PASSAGE_WORDS = 300
DEFAULT_MIN_PASSAGE_WORDS = 16
_SHRINK = 0.75
SHRINK_RULES = ("listrank", "rank_llm")
T = TypeVar("T")


def passage_text(candidate: Candidate, titled: str = "{title}: {text}") -> str:
    """The text a model sees for a candidate: title and body (joined by ``titled``),
    whitespace collapsed."""
    body = " ".join(candidate.text.split())
    if candidate.title:
        title = " ".join(candidate.title.split())
        if titled != "{title}: {text}":  # rank_llm writes "Title: … Content: …" even unbodied
            return " ".join(titled.format(title=title, text=body).split())
        return f"{title}: {body}" if body else candidate.title
    return body


UNSPACED_SCRIPTS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u0f00-\u0fff"  # Tibetan
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3000-\u303f"  # CJK symbols and punctuation
    "\u3040-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han
    "\uff01-\uff9f"  # full-width forms, half-width Katakana
    "\U00020000-\U0003134f"  # Han extensions
)
"""Character ranges of scripts written without spaces between words (a regex class body)."""
MAX_RUN_CHARS = 24
"""A space-free run in other scripts counts one word per this many characters."""
_UNIT = re.compile(f"[{UNSPACED_SCRIPTS}]|[^\\s{UNSPACED_SCRIPTS}]{{1,{MAX_RUN_CHARS}}}")


def _ends(text: str) -> list[int]:
    """The end offset of every word of ``text``; a combining mark (Thai vowels and tones …)
    belongs to the word before it, never starts one."""
    ends: list[int] = []
    for match in _UNIT.finditer(text):
        if ends and ends[-1] == match.start() and unicodedata.category(match.group()[0])[0] == "M":
            ends[-1] = match.end()
        else:
            ends.append(match.end())
    return ends


def count_words(text: str) -> int:
    """Words of ``text`` as passage budgets count them (see the module docstring)."""
    return len(_ends(text))


@functools.lru_cache(maxsize=4096)
def truncate_words(text: str, max_words: int) -> str:
    """The first ``max_words`` words of ``text``, whitespace collapsed; space-free text is cut
    between characters (never inside a character's combining marks). Remembered for recent
    texts: a passage is cut again for every block it is in (four times in JointRank 20x4)."""
    words = text.split()
    collapsed = " ".join(words)
    if collapsed.isascii() and sum(-(-len(w) // MAX_RUN_CHARS) for w in words) <= max_words:
        # ASCII has no unspaced script and no combining mark: every whitespace-separated run
        # is one word per MAX_RUN_CHARS characters, which fits (the common case, no regex)
        return collapsed
    ends = _ends(collapsed)
    if len(ends) <= max_words:
        return collapsed
    return collapsed[: ends[max_words - 1]].rstrip() if max_words > 0 else ""


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
    shrink: str = "listrank",
) -> Fitted[T]:
    """Render with passages of at most ``max_words`` words, shrinking until prompt + reserve fits.
    ``shrink="rank_llm"`` takes rank_llm's steps (a word per passage for every 4 tokens over)
    instead of listrank's (to the fitting share, at most 3/4 of the words).

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
        if shrink == "rank_llm":
            step = max(1, (tokens - budget) // (max(1, len(texts)) * 4))
            words = max(min_words, words - step)
        else:
            words = max(min_words, int(words * min(_SHRINK, budget / tokens)))


ANSWER_SLACK_TOKENS = 8
"""Room beyond the ranking itself: a short preamble, a trailing full stop, the end token."""
_BOUND_TOKENS_PER_ID = 4
"""Tokens per identifier besides its own characters: "[", "]", " >" and a space at most. Each
ASCII character of the identifier is at most one token in byte-level BPE and SentencePiece
vocabularies alike (tested on SmolLM2, cl100k and o200k for blocks of 2-100)."""


def example_answers(identifiers: Sequence[str]) -> list[str]:
    """Complete answers "[1] > [2] > …" in input and reversed order; a real answer's token count
    lies within a token of the larger of the two on the tokenizers we measured."""
    forward = " > ".join(f"[{i}]" for i in identifiers)
    backward = " > ".join(f"[{i}]" for i in reversed(identifiers))
    return [forward, backward]


def answer_token_bound(identifiers: Sequence[str]) -> int:
    """An upper bound on the tokens of a complete answer that needs no tokenizer."""
    return sum(len(i) + _BOUND_TOKENS_PER_ID for i in identifiers) + ANSWER_SLACK_TOKENS


def answer_budget(identifiers: Sequence[str], count: Callable[[str], int] | None) -> int:
    """``max_new_tokens`` for a complete ranking of ``identifiers``: counted with the model's own
    tokenizer when ``count`` is given, else the tokenizer-free bound."""
    if count is None:
        return answer_token_bound(identifiers)
    return max(count(a) for a in example_answers(identifiers)) + ANSWER_SLACK_TOKENS
