"""Render chat messages to the exact text a local model reads, with its tokenizer's template."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from listrank.backends.base import ChatMessage


def render_chat(tokenizer: Any, messages: Sequence[ChatMessage], assistant_prefix: str = "") -> str:
    """Chat template + generation prompt + answer prefix; base models without a chat template
    get a plain role-labelled transcript."""
    msgs = [dict(m) for m in messages]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    else:
        text = "".join(f"{m['role']}: {m['content']}\n" for m in msgs) + "assistant: "
    return str(text) + assistant_prefix
