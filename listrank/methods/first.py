"""FIRST single-token scoring (Reddy et al., 2024): one forward pass per block, the ranking read
from the next-token scores of the identifiers after the answer prefix "[".

Written against the "next-token logprobs" capability, so in-process models (all logits) and
APIs (truncated top-k) are served alike. Identifiers must each be exactly one token for the
backend's tokenizer; that is checked at construction and fails loudly (never a fallback to
generation). Order: scored identifiers by score, descending, ties by input position; then
identifiers the backend did not return (truncated top-k) or returned as NaN, in input order.
Those are ``filled`` in the Judgement, scored NaN ("not scored", as wrappers expect) and listed
in the call record's ``extra``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

from listrank.backends.base import (
    LogprobRequest,
    LogprobResult,
    SupportsNextTokenLogprobs,
    require,
)
from listrank.errors import ConfigError
from listrank.methods.base import (
    PASSAGE_WORDS,
    TEXT_RULES,
    Method,
    fit_block,
    order_from_scores,
    passage_word_limits,
    shrinking,
    template_for,
    template_option,
)
from listrank.methods.labels import require_single_tokens
from listrank.options import Option
from listrank.prompting.budget import (
    DEFAULT_MAX_PASSAGE_WORDS,
    DEFAULT_MIN_PASSAGE_WORDS,
)
from listrank.prompting.templates import PromptTemplate, RenderedPrompt, identifiers_for
from listrank.types import CallRecord, Candidate, Judgement, Query, RepairStats, prompt_messages

ALPHA_MAX_BLOCK = 26
DEFAULT_NUMERIC_MAX_BLOCK = 20
_ANSWER_TOKENS = 1
"""Only the next token is read."""


class FirstMethod(Method):
    """Listwise ranking from the logits of single-token identifiers."""

    name = "first"
    produces_scores = True
    OPTIONS = (
        template_option("first_alpha"),
        *PASSAGE_WORDS,
        *TEXT_RULES,
        Option(
            "max_block",
            int | None,
            None,
            "largest block (default: the identifier scheme's)",
            changes_answers=True,
            ge=2,
            example=10,
        ),
    )

    def __init__(
        self,
        backend: object,
        *,
        template: str | PromptTemplate = "first_alpha",
        max_passage_words: int = DEFAULT_MAX_PASSAGE_WORDS,
        min_passage_words: int = DEFAULT_MIN_PASSAGE_WORDS,
        brackets: str | None = None,
        clean_text: str | None = None,
        guard: str | None = None,
        max_block: int | None = None,
    ) -> None:
        require(backend, SupportsNextTokenLogprobs, "next_token_logprobs", self.name)
        self.backend = cast(SupportsNextTokenLogprobs, backend)
        self.template = template_for(
            template,
            "first",
            "FIRST single-token scoring",
            brackets=brackets,
            clean_text=clean_text,
            guard=guard,
        )
        self.max_passage_words, self.min_passage_words = passage_word_limits(
            max_passage_words, min_passage_words
        )
        limit = ALPHA_MAX_BLOCK if self.template.identifiers == "alpha" else None
        default = limit or DEFAULT_NUMERIC_MAX_BLOCK
        self._max_block = default if max_block is None else max_block
        if self._max_block < 2 or (limit is not None and self._max_block > limit):
            raise ConfigError(
                f"max_block must be between 2 and {limit or 'any'} for {self.template.identifiers}"
                f" identifiers; got {self._max_block}"
            )
        self.identifiers = identifiers_for(self.template.identifiers, self._max_block)
        self._check_single_tokens()

    def _check_single_tokens(self) -> None:
        require_single_tokens(
            self.backend,
            self.identifiers,
            what=f"{self.template.source}: FIRST needs every identifier",
            fix=f"Use an identifier scheme whose labels are single tokens (e.g. 'alpha') or a "
            f"smaller max_block (now {self._max_block})",
        )

    @property
    def max_block_size(self) -> int:
        return self._max_block

    def _check_block(self, block: Sequence[Candidate]) -> None:
        if len(block) > self._max_block:
            raise ConfigError(
                f"FIRST with {self.template.identifiers} identifiers judges at most "
                f"{self._max_block} candidates per block; got {len(block)}. Use a window <= "
                f"{self._max_block}"
            )

    def _fit(self, query: Query, block: Sequence[Candidate], max_words: int) -> RenderedPrompt:
        return self._fitted(query, block, max_words)[0]

    def _fitted(
        self, query: Query, block: Sequence[Candidate], max_words: int
    ) -> tuple[RenderedPrompt, int]:
        self._check_block(block)
        return fit_block(
            self.template,
            self.backend,
            query,
            block,
            max_words=max_words,
            min_words=self.min_passage_words,
            reserve_tokens=_ANSWER_TOKENS,
        )

    def estimate_prompt_tokens(self, query: Query, block: Sequence[Candidate]) -> int:
        return self._fitted(query, block, self.max_passage_words)[1]

    def judge(self, query: Query, blocks: Sequence[Sequence[Candidate]]) -> list[Judgement]:

        def attempt(max_words: int) -> tuple[list[RenderedPrompt], list[LogprobResult]]:
            prompts = [self._fit(query, b, max_words) for b in blocks]
            requests = [
                LogprobRequest(p.messages, tuple(p.identifiers), p.assistant_prefix)
                for p in prompts
            ]
            return prompts, self.backend.next_token_logprobs(requests)  # one batched call

        prompts, results = shrinking(self.max_passage_words, self.min_passage_words, attempt)
        judgements = []
        for block, prompt, result in zip(blocks, prompts, results, strict=True):
            n = len(block)
            raw = [result.logprobs.get(ident) for ident in prompt.identifiers]
            missing = [i for i in range(n) if raw[i] is None]
            nan = [i for i in range(n) if raw[i] is not None and math.isnan(cast(float, raw[i]))]
            unscored = set(missing) | set(nan)
            if result.error is not None:
                unscored = set(range(n))
            scores = [math.nan if i in unscored else float(cast(float, raw[i])) for i in range(n)]
            order = order_from_scores(scores)  # unscored slots are NaN: last, in input order
            scored = [scores[i] for i in range(n) if i not in unscored]
            record = CallRecord(
                method=self.name,
                docids=tuple(c.docid for c in block),
                prompt_tokens=result.prompt_tokens,
                completion_tokens=0,
                output="",  # one forward pass, no generated text: the scores are the answer
                latency_s=result.latency_s,
                scores=tuple(scores),
                cached=result.cached,
                error=result.error,
                extra={
                    **result.extra,
                    "missing_identifiers": [prompt.identifiers[i] for i in missing],
                    "nan_identifiers": [prompt.identifiers[i] for i in nan],
                    "ties": len(scored) - len(set(scored)),
                },
                messages=prompt_messages(prompt.messages, prompt.assistant_prefix),
                # identifiers with no score were placed by repair (last, input order): counted,
                # so a backend that returns no usable scores shows in the summary
                repair=RepairStats(missing=len(unscored), malformed=len(unscored) == n > 0)
                if result.error is None
                else RepairStats(),
            )
            judgements.append(
                Judgement(
                    order=order,
                    record=record,
                    scores=tuple(scores),
                    filled=frozenset(unscored),
                )
            )
        return judgements
