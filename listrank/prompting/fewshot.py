"""Few-shot examples from a file, in rank_llm's form: a JSON array of
``{"conversations": [{"role": "user" | "assistant", "value": "..."}, ...]}``; the turns of the
first ``n`` examples go after the system message, before the prompt (rank_llm's
``_generate_fewshot_prompt``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

from listrank.errors import ConfigError
from listrank.types import ChatMessage

_ROLES = ("system", "user", "assistant")


def load_few_shot(path: str | Path, n: int) -> tuple[ChatMessage, ...]:
    """The chat turns of the first ``n`` examples of ``path`` (fewer when it has fewer)."""
    if n < 0:
        raise ConfigError("few_shot must be >= 0")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"few-shot file {path}: cannot read it as JSON: {exc}") from exc
    if not isinstance(data, list):
        raise ConfigError(f"few-shot file {path}: expected a JSON array of examples")
    turns: list[ChatMessage] = []
    for i, example in enumerate(data[:n]):
        conv = example.get("conversations") if isinstance(example, dict) else None
        if not isinstance(conv, list):
            raise ConfigError(f"few-shot file {path}: example {i} needs a 'conversations' list")
        for j, turn in enumerate(conv):
            role = turn.get("role") if isinstance(turn, dict) else None
            value = turn.get("value") if isinstance(turn, dict) else None
            if role not in _ROLES or not isinstance(value, str):
                raise ConfigError(
                    f"few-shot file {path}: example {i} turn {j} needs a role "
                    f"({', '.join(_ROLES)}) and a string 'value'"
                )
            turns.append(cast(ChatMessage, {"role": role, "content": value}))
    return tuple(turns)
