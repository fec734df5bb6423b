"""Turn a model's ranking text into a permutation, repairing and counting what was wrong.

Two reading rules (``parse=``):

- ``"listrank"`` (default): reasoning (``<think>`` … ``</think>``, or everything before the
  last ``</think>``) is skipped, an ``<answer>`` … ``</answer>`` block is read alone when there
  is one, fullwidth digits and brackets ("［３］") read as ASCII, and echoes of the prompt are
  removed; when the answer has bracketed identifiers ("[2] > [1]") only those count, so digits
  in prose ("the 3 passages") are not read as rankings; otherwise bare identifiers count.
- ``"rankgpt"``: the original RankGPT code's rule (``clean_response``): every run of digits, in
  order, whatever surrounds it (letter identifiers: every letter, adjacent letters forming one
  number, as rank_llm's alpha mode does).
- ``"rank_llm"``: today's rank_llm (``clean_ranking_response`` @ 1b3cabbc): only the text after
  the last ``</think>``; superscript, subscript, circled, fullwidth and boxed digits mapped to
  ASCII; then every run of digits (letters for alpha ids). A digit-like character that is not a
  number (e.g. "⓪") makes rank_llm keep the input order, and so does this mode (malformed).

Repair rule (both, as RankGPT / rank_llm): identifiers in order of appearance, duplicates
dropped (first kept), out-of-range dropped, missing ones appended in input order. Never raises
for any text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from listrank.prompting.reasoning import answer_block
from listrank.types import RepairStats

_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_BRACKETED_NUM = re.compile(r"\[\s*([0-9]+)\s*\]")
_BARE_NUM = re.compile(r"(?<![0-9])([0-9]+)(?![0-9])")
_BRACKETED_ALPHA = re.compile(r"\[\s*([A-Za-z])\s*\]")
_BARE_ALPHA = re.compile(r"(?<![A-Za-z])([A-Z])(?![A-Za-z])")
_MAX_DIGITS = 9  # longer numbers are out of range for any block and too costly to convert
_DIGIT_RUN = re.compile(r"\d+")
_LETTER = re.compile(r"[^\W\d_]")
PARSE_MODES = ("listrank", "rankgpt", "rank_llm")
_FULLWIDTH = str.maketrans("０１２３４５６７８９［］", "0123456789[]")
# rank_llm's "fake numbers": superscripts, subscripts, circled, negative circled, fullwidth and
# digit-comma forms, each read as its digit
_DIGIT_FORMS = str.maketrans(
    "⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉①②③④⑤⑥⑦⑧⑨❶❷❸❹❺❻❼❽❾０１２３４５６７８９🄀🄁🄂🄃🄄🄅🄆🄇🄈🄉",
    "01234567890123456789123456789123456789" + "01234567890123456789",
)


@dataclass(frozen=True)
class ParseResult:
    order: list[int]
    """0-based positions, best first; always a permutation of range(n)."""
    stats: RepairStats
    filled: frozenset[int]
    """Positions appended by repair, not ranked by the model."""


def _echo_regex(pattern: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in pattern.split("{id}")]
    return re.compile(r"\s*[0-9A-Za-z]+\s*".join(parts))


def _tokens(text: str, identifiers: str) -> list[str]:
    if identifiers == "alpha":
        found = _BRACKETED_ALPHA.findall(text)
        return [t.upper() for t in found] if found else _BARE_ALPHA.findall(text)
    found = _BRACKETED_NUM.findall(text)
    return found if found else _BARE_NUM.findall(text)


def _reference_tokens(text: str, identifiers: str) -> list[str]:
    """Every digit run, in order (RankGPT's clean_response). Letter ids become their 1-based
    alphabet positions first, adjacent letters running together, as rank_llm's alpha mode."""
    if identifiers == "alpha":
        text = _LETTER.sub(lambda m: str(ord(m.group()) - ord("A") + 1), text)
    return _DIGIT_RUN.findall(text)


def _to_index(token: str, identifiers: str) -> int | None:
    if identifiers == "alpha":
        return ord(token.upper()) - ord("A")
    if len(token.lstrip("0")) > _MAX_DIGITS:
        return None
    return int(token) - 1


def parse_permutation(
    text: str,
    n: int,
    *,
    identifiers: str = "numeric",
    echo: Sequence[str] = (),
    mode: str = "listrank",
) -> ParseResult:
    """Parse ``text`` into a 0-based order over ``n`` items and count the repairs.

    ``identifiers`` is "numeric" ([1], [2], …) or "alpha" ([A], [B], …). ``echo`` lists
    template fragments such as "Received passage [{id}]" (``{id}`` marks the identifier): an
    answer that only repeats one of them is an echo of the prompt, not a ranking. ``mode`` is
    the reading rule (module docstring); "rankgpt" ignores ``echo`` as the reference does.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if identifiers not in ("numeric", "alpha"):
        raise ValueError(f"unknown identifier scheme {identifiers!r}")
    if mode not in PARSE_MODES:
        raise ValueError(f"unknown parse mode {mode!r}; use one of {PARSE_MODES}")
    if mode == "rankgpt":
        # the reference reads positions as numbers for both schemes
        return _repair(_reference_tokens(text, identifiers), n)
    if mode == "rank_llm":
        return _rank_llm(text, n, identifiers)
    body = _THINK.sub(" ", _after_thought(text))
    body = answer_block(body).translate(_FULLWIDTH)
    is_echo = False
    for pattern in echo:
        rx = _echo_regex(pattern)
        if rx.search(body):
            is_echo = True
            body = rx.sub(" ", body)
    return _repair(_tokens(body, identifiers), n, identifiers, echo=is_echo)


def _after_thought(text: str) -> str:
    """The text after the last ``</think>`` (a thought opened by the prompt closes there)."""
    cut = text.lower().rfind("</think>")
    return text[cut + len("</think>") :] if cut >= 0 else text


def _rank_llm(text: str, n: int, identifiers: str) -> ParseResult:
    if "</think>" in text:  # rank_llm matches the tag case-sensitively
        text = text.split("</think>")[-1].strip()
    text = text.translate(_DIGIT_FORMS)
    if identifiers == "alpha":
        spaced = "".join(str(ord(c) - ord("A") + 1) if c.isalpha() else " " for c in text)
    else:
        spaced = "".join(c if c.isdigit() else " " for c in text)
    tokens = spaced.split()
    try:
        for token in tokens:
            int(token)
    except ValueError:
        # a digit-like character int() refuses: rank_llm catches the error and keeps the
        # block's input order
        return _repair([], n)
    return _repair(tokens, n)


def _repair(
    tokens: list[str], n: int, identifiers: str = "numeric", *, echo: bool = False
) -> ParseResult:
    seen: set[int] = set()
    order: list[int] = []
    duplicates = out_of_range = 0
    for token in tokens:
        idx = _to_index(token, identifiers)
        if idx is None or not 0 <= idx < n:
            out_of_range += 1
        elif idx in seen:
            duplicates += 1
        else:
            seen.add(idx)
            order.append(idx)
    missing = [i for i in range(n) if i not in seen]
    malformed = n > 0 and not order
    stats = RepairStats(
        missing=len(missing),
        duplicates=duplicates,
        out_of_range=out_of_range,
        malformed=malformed,
        echo=echo,
    )
    return ParseResult(order=order + missing, stats=stats, filled=frozenset(missing))
