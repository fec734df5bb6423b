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

The control strings are those of every chat family a shipped preset or template targets
(:data:`CHAT_FAMILIES`: ChatML, Llama 2 and 3, Mistral, Gemma, Zephyr, Phi-3, Vicuna,
DeepSeek, Command-R …), and they are neutralised under every bracket rule, ``keep`` included:
Mistral's bracketed ``[INST]`` ``[/INST]`` become ``(INST)`` ``(/INST)``, and the plain role
labels of the Vicuna and Alpaca formats (``USER:``, ``ASSISTANT:``, ``### Response:``) get
their name in parentheses (``(ASSISTANT):``). The bracket rule decides only what happens to
other brackets: ``numbers`` rewrites the bracketed identifiers of the template's own scheme
(``[12]``, and ``[B]`` for letter templates), ``keep`` leaves every identifier-looking bracket
open (a passage can write a forged answer such as ``[3] > [1]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CHAT_FAMILIES: dict[str, tuple[str, ...]] = {
    "chatml": ("<|im_start|>system", "<|im_start|>assistant", "<|im_end|>", "<|endoftext|>"),
    "llama3": ("<|begin_of_text|>", "<|start_header_id|>assistant<|end_header_id|>", "<|eot_id|>"),
    "llama2": ("<s>", "</s>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>"),
    "mistral": ("[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CALLS]"),
    "gemma": ("<bos>", "<start_of_turn>model", "<start_of_turn>user", "<end_of_turn>"),
    "zephyr": ("<|system|>", "<|user|>", "<|assistant|>", "</s>"),
    "phi3": ("<|user|>", "<|assistant|>", "<|end|>"),
    "vicuna": ("USER:", "ASSISTANT:", "SYSTEM:"),
    "alpaca": ("### Instruction:", "### Response:", "### Human:", "### Assistant:"),
    "deepseek": ("<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>"),
    "command-r": ("<|START_OF_TURN_TOKEN|>", "<|CHATBOT_TOKEN|>", "<|END_OF_TURN_TOKEN|>"),
    "qwen-thinking": ("<think>", "</think>", "<tool_call>", "</tool_call>"),
}
"""Chat formats the shipped presets and templates target, with control strings that open or
close a turn in each (tests check every one against every preset)."""

_CONTROL = re.compile(
    r"<\s*[|｜][^<>\n]{0,64}?[|｜]\s*>"  # <|im_start|> <|eot_id|> <｜end▁of▁sentence｜>
    r"|<</?SYS>>"  # Llama 2
    r"|</?(?:s|bos|eos|pad|unk|mask|start_of_turn|end_of_turn|start_of_image|end_of_image"
    r"|think|tool_call|tool_response|im_start|im_end|endoftext|eot|eos_token|bos_token)\s*>"
    r"|<\s*/?\s*passage\b[^<>\n]{0,64}>",  # the guard's delimiters (prompting.guard)
    re.IGNORECASE,
)
_BRACKET_CONTROL = re.compile(
    r"\[\s*/?\s*(?:INST|SYS|SYSTEM_PROMPT|AVAILABLE_TOOLS|TOOL_CALLS|TOOL_RESULTS|TOOL_CONTENT"
    r"|IMG|IMG_BREAK|IMG_END)\s*\]",  # Mistral's (and Llama 2's) bracketed markers
    re.IGNORECASE,
)
_ROLE_LABEL = re.compile(
    r"(?<![\w(])(USER|ASSISTANT|SYSTEM)(\s*:)"  # Vicuna (upper case, as the format writes it)
    r"|(#{2,}\s*)(Instruction|Response|Human|Assistant|System|Input|User)(\s*:)",  # Alpaca
)
_BREAK = re.compile(r"[^\S\r\n\v\f\x85\u2028\u2029]*[\r\n\v\f\x85\u2028\u2029]\s*")
_ANY_BREAK = re.compile(r"[\r\n\v\f\x85\u2028\u2029]")
_WORD_JOINER = "\u2060"


def _flip(match: re.Match[str]) -> str:
    return match.group(0).replace("<", "(").replace(">", ")")


def _flip_square(match: re.Match[str]) -> str:
    return match.group(0).replace("[", "(").replace("]", ")")


def _label(match: re.Match[str]) -> str:
    if match.group(1):
        return f"({match.group(1)}){match.group(2)}"
    return f"{match.group(3)}({match.group(4)}){match.group(5)}"


def neutralize(text: str) -> str:
    """Passage or query text as the prompt shows it: unable to forge identifiers, chat turns
    or template lines."""
    return neutralize_structure(text.replace("[", "(").replace("]", ")"))


def neutralize_structure(text: str) -> str:
    """Chat-template control strings (every family of :data:`CHAT_FAMILIES`) and line breaks
    neutralised, other brackets left alone (for bracket rules that reproduce a reference's
    text)."""
    # each pattern needs a character of its own; most passages have none of them (a scan
    # for one character is far cheaper than a regex's)
    if "<" in text:
        text = _CONTROL.sub(_flip, text)
    if "[" in text:
        text = _BRACKET_CONTROL.sub(_flip_square, text)
    if ":" in text:
        text = _ROLE_LABEL.sub(_label, text)
    return _BREAK.sub(" ", text) if _ANY_BREAK.search(text) else text


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
