"""Passage and query text must stay data: it may not forge the prompt's structure.

Three things a passage could otherwise forge, and what is done to each (every backend, before
any tokenizer sees the text):
- identifiers and answers ("[3] > [1]", Mistral's "[INST]"): brackets become parentheses;
- chat-template control strings: ChatML and Llama 3 style ``<|im_start|>`` ``<|eot_id|>``,
  DeepSeek's ``<｜…｜>``, Gemma's ``<start_of_turn>``, Llama 2's ``<<SYS>>``, ``<s>`` ``</s>``
  ``<bos>`` ``<eos>`` …: their angle brackets become parentheses, so no tokenizer reads them as
  special tokens (``<|im_start|>`` -> ``(|im_start|)``). Local backends also defang every
  special token of their own tokenizer (:func:`defang_tokens`);
- new lines ("Search Query: …", a fake instruction on its own line): a line break with the
  whitespace around it becomes one space, so a passage stays on its own line(s) of the
  template. RankGPT's reference code joins passage words with single spaces too;
- the passage delimiters of the opt-in guard (``<passage>`` ``</passage>``, also with spaces,
  attributes or another case): angle brackets become parentheses, so a passage cannot close
  its own delimiters and write outside them (``prompting.guard``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_CONTROL = re.compile(
    r"<\s*[|｜][^<>\n]{0,64}?[|｜]\s*>"  # <|im_start|> <|eot_id|> <｜end▁of▁sentence｜>
    r"|<</?SYS>>"  # Llama 2
    r"|</?(?:s|bos|eos|pad|unk|mask|start_of_turn|end_of_turn|start_of_image|end_of_image"
    r"|think|tool_call|tool_response|im_start|im_end|endoftext|eot|eos_token|bos_token)\s*>"
    r"|<\s*/?\s*passage\b[^<>\n]{0,64}>",  # the guard's delimiters (prompting.guard)
    re.IGNORECASE,
)
_BREAK = re.compile(r"[^\S\r\n\v\f\x85\u2028\u2029]*[\r\n\v\f\x85\u2028\u2029]\s*")
_WORD_JOINER = "\u2060"


def _flip(match: re.Match[str]) -> str:
    return match.group(0).replace("<", "(").replace(">", ")")


def neutralize(text: str) -> str:
    """Passage or query text as the prompt shows it: unable to forge identifiers, chat turns
    or template lines."""
    return neutralize_structure(text.replace("[", "(").replace("]", ")"))


def neutralize_structure(text: str) -> str:
    """Chat-template control strings and line breaks neutralised, brackets left alone (for
    bracket rules that reproduce a reference's text)."""
    return _BREAK.sub(" ", _CONTROL.sub(_flip, text))


def defang_tokens(text: str, tokens: Iterable[str]) -> str:
    """``text`` with every occurrence of the given special-token strings broken up, so a
    tokenizer that knows them as special tokens reads plain characters instead."""
    for token in sorted({t for t in tokens if t and len(t) > 1}, key=len, reverse=True):
        if token in text:
            if token[0] == "<" and token[-1] == ">":
                safe = "(" + token[1:-1] + ")"
            else:
                safe = token[0] + _WORD_JOINER + token[1:]
            text = text.replace(token, safe)
    return text
