"""What a method is: it judges blocks of candidates for a query, many blocks per call."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from listrank.types import Candidate, Judgement, Query


class Method(ABC):
    """Judges blocks. ``judge`` takes every independent block of a stage at once, so batched
    backends (vLLM, async APIs) run the whole stage together."""

    name: str = "method"

    @abstractmethod
    def judge(self, query: Query, blocks: Sequence[Sequence[Candidate]]) -> list[Judgement]:
        """One Judgement per block, in the same order."""

    @abstractmethod
    def estimate_prompt_tokens(self, query: Query, block: Sequence[Candidate]) -> int:
        """Prompt tokens a call on this block would use (for plans)."""

    @property
    def max_block_size(self) -> int | None:
        """The largest block this method can judge, or None for no fixed limit."""
        return None
