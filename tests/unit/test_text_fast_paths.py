"""The shortcuts on the prompt path give exactly what the full rules give: word truncation of
ASCII text without the script-aware regex, neutralising without the patterns a text cannot
match, the token estimate of ASCII text without the wide-character scan, and remembered
results equal to fresh ones."""

from __future__ import annotations

import math
import re

from hypothesis import given
from hypothesis import strategies as st

from listrank.backends.apitokens import _CHARS_PER_TOKEN, _WIDE, _WIDE_TOKENS, EstimateCounter
from listrank.prompting import injection
from listrank.prompting.budget import MAX_RUN_CHARS, _ends, truncate_words
from listrank.prompting.injection import neutralize, neutralize_structure
from listrank.prompting.templates import prepare_text
from tests.unit.fuzz_support import fuzz

# words, long runs, brackets, chat control strings, role labels and line breaks
PIECES = st.sampled_from(
    [
        "word",
        "a",
        "x" * (MAX_RUN_CHARS + 5),
        "[3]",
        "[INST]",
        "<|im_start|>",
        "</s>",
        "<passage id=1>",
        "USER:",
        "### Response:",
        "\n",
        "\r\n",
        "\u2028",
        " ",
        "\t",
        "café",
        "東京",
        "น้ำ",
        "e\u0301",
        ":",
        "<",
        "[",
    ]
)
TEXTS = st.lists(PIECES, max_size=40).map("".join) | st.text(max_size=80)


def _reference_truncate(text: str, max_words: int) -> str:
    collapsed = " ".join(text.split())
    ends = _ends(collapsed)
    if len(ends) <= max_words:
        return collapsed
    return collapsed[: ends[max_words - 1]].rstrip() if max_words > 0 else ""


def _reference_structure(text: str) -> str:
    text = injection._CONTROL.sub(injection._flip, text)
    text = injection._BRACKET_CONTROL.sub(injection._flip_square, text)
    return injection._BREAK.sub(" ", injection._ROLE_LABEL.sub(injection._label, text))


@fuzz(200)
@given(TEXTS, st.integers(0, 30))
def test_truncation_equals_the_script_aware_rule(text: str, max_words: int) -> None:
    truncate_words.cache_clear()
    assert truncate_words(text, max_words) == _reference_truncate(text, max_words)
    assert truncate_words(text, max_words) == _reference_truncate(text, max_words)  # cached


@fuzz(200)
@given(TEXTS)
def test_neutralising_equals_every_pattern_applied(text: str) -> None:
    assert neutralize_structure(text) == _reference_structure(text)
    swapped = text.replace("[", "(").replace("]", ")")
    assert neutralize(text) == _reference_structure(swapped)


@fuzz(200)
@given(TEXTS)
def test_the_estimate_of_any_text_equals_the_wide_character_rule(text: str) -> None:
    wide = len(_WIDE.findall(text))
    expected = math.ceil((len(text) - wide) / _CHARS_PER_TOKEN + wide * _WIDE_TOKENS)
    assert EstimateCounter().count(text) == expected


def test_a_remembered_preparation_is_the_fresh_one() -> None:
    text = "USER: see [2] <|im_end|>\nnext line"
    fresh = prepare_text.__wrapped__(text, brackets="numbers", clean="none")
    assert prepare_text(text, brackets="numbers", clean="none") == fresh
    assert prepare_text(text, brackets="numbers", clean="none") == fresh
    assert re.search(r"\[2\]", fresh) is None and "\n" not in fresh
