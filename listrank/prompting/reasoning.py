"""A thinking model's answer split into its reasoning and its answer.

Reasoning arrives in one of three shapes: ``<think>…</think>`` before the answer in the text;
the text starting inside the thought (the chat template opened ``<think>`` in the prompt, as
DeepSeek-R1 and some Qwen3 templates do) so only ``</think>`` appears; or a separate
``reasoning_content`` field (OpenAI-compatible servers with a reasoning parser). A thought that
never closes means the call stopped inside its reasoning: there is no answer yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
THINKING_MODES = ("default", "on", "off")
"""``default``: the chat template decides (Qwen3 thinks, most models do not); ``on`` / ``off``:
``enable_thinking`` passed to the chat template (or ``chat_template_kwargs`` over a server)."""
_OPEN = re.compile(r"<think>", re.IGNORECASE)
_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Split:
    reasoning: str
    """The thought, without its tags ("" when the model did not think)."""
    answer: str
    """What follows the last ``</think>`` (the whole text when there was no thought)."""
    open_thought: bool
    """A thought was opened and never closed: the call stopped inside its reasoning."""


def split_reasoning(text: str, *, reasoning_field: str = "", opened: bool = False) -> Split:
    """Split ``text`` (and a separately reported ``reasoning_field``).

    ``opened`` says the prompt itself ended in ``<think>``, so the text starts inside the thought
    and an answer exists only after a ``</think>``."""
    closes = list(_CLOSE.finditer(text))
    if closes:
        last = closes[-1]
        head = text[: last.start()]
        start = _OPEN.search(head)
        thought = head[start.end() :] if start else head
        return Split(_join(reasoning_field, thought), text[last.end() :], False)
    start = _OPEN.search(text)
    if start is not None and not text[: start.start()].strip():
        return Split(_join(reasoning_field, text[start.end() :]), "", True)
    if opened:
        return Split(_join(reasoning_field, text), "", True)
    return Split(reasoning_field.strip(), text, False)


def _join(*parts: str) -> str:
    return "\n".join(p.strip() for p in parts if p.strip())


def answer_block(text: str) -> str:
    """The inside of the last ``<answer>…</answer>`` (an unclosed last one runs to the end), or
    ``text`` when there is none: ReasonRank, REARANK and Rank-R1 answer inside these tags."""
    found = _ANSWER.findall(text)
    return found[-1] if found else text


def closing_prefix(generated: str, reasoning_field: str = "") -> str:
    """The answer prefix that closes a thought cut at the budget: the text generated so far (or
    the separately reported reasoning, reopened) followed by ``</think>``, so the model's next
    tokens are its answer (Rank1's and rank_llm's recipe)."""
    if reasoning_field and not generated.strip():
        return f"{THINK_OPEN}\n{reasoning_field.rstrip()}\n{THINK_CLOSE}\n\n"
    return f"{generated.rstrip()}\n{THINK_CLOSE}\n\n"
