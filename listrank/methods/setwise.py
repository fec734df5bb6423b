"""Setwise best-of-set (Zhuang et al., 2024): "which passage is the most relevant?", answered
with one passage label.

Two ways to read the answer, as in the paper:

- ``scoring="generation"``: generate a few tokens and take the first passage label. Only the
  winner is the model's: the others follow in input order and are marked ``filled``, so an
  aggregator counts the winner's wins and nothing among the losers. An answer without a valid
  label keeps the input order with every position filled (the reference keeps the first
  passage, which is what the setwise heap does with that order); it is counted as malformed.
- ``scoring="likelihood"``: one forward pass, the label tokens' next-token scores (like FIRST):
  the winner is the best-scored label and the losers follow by score, a full order for free.

The label is read after the answer prefix ("Passage", as the reference does for flan-t5):
when the prefix ends in a non-space character the label token is " A", else "A". Every label
must be one token for the backend's tokenizer (checked at construction, likelihood only).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import cast

from listrank.backends.base import (
    LogprobRequest,
    SupportsGenerate,
    SupportsNextTokenLogprobs,
    require,
)
from listrank.errors import ConfigError, TemplateError
from listrank.methods import thinking as think
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
from listrank.options import Option
from listrank.prompting.budget import (
    DEFAULT_MAX_PASSAGE_WORDS,
    DEFAULT_MIN_PASSAGE_WORDS,
)
from listrank.prompting.reasoning import answer_block, split_reasoning
from listrank.prompting.templates import PromptTemplate, RenderedPrompt, identifiers_for
from listrank.types import CallRecord, Candidate, Judgement, Query, RepairStats

SCORINGS = ("generation", "likelihood")
MAX_BLOCK = 26
"""Letter labels A..Z."""
DEFAULT_ANSWER_TOKENS = 4
"""Room for " B" and a little chatter; the label is read from the start of the answer."""
_LABEL = re.compile(r"(?<![A-Za-z])([A-Z])(?![A-Za-z])")


_NUMBER_LABEL = re.compile(r"\[\s*([0-9]+)\s*\]|(?<![0-9])([0-9]+)(?![0-9])")


def first_label(text: str, n: int, identifiers: str = "alpha") -> tuple[int | None, int]:
    """(index of the first valid passage label in ``text`` or None, labels out of range seen
    before it). Numeric labels ("[3]", Rank-R1's) are read bracketed or bare."""
    out_of_range = 0
    if identifiers == "numeric":
        for match in _NUMBER_LABEL.finditer(text):
            digits = match.group(1) or match.group(2)
            index = int(digits) - 1 if len(digits) <= 9 else n
            if 0 <= index < n:
                return index, out_of_range
            out_of_range += 1
        return None, out_of_range
    for match in _LABEL.finditer(text):
        index = ord(match.group(1)) - ord("A")
        if index < n:
            return index, out_of_range
        out_of_range += 1
    return None, out_of_range


class SetwiseMethod(Method):
    """Best of a set by one passage label (generated, or read from the label logits)."""

    name = "setwise"
    OPTIONS = (
        Option(
            "scoring",
            str,
            "generation",
            "generate the label or read its logits",
            changes_answers=True,
            choices=SCORINGS,
        ),
        template_option("setwise"),
        *PASSAGE_WORDS,
        *TEXT_RULES,
        Option(
            "max_new_tokens",
            int,
            DEFAULT_ANSWER_TOKENS,
            "answer budget (generation)",
            changes_answers=True,
            ge=1,
        ),
        *think.THINKING_OPTIONS,
    )

    def __init__(
        self,
        backend: object,
        *,
        scoring: str = "generation",
        template: str | PromptTemplate = "setwise",
        max_passage_words: int = DEFAULT_MAX_PASSAGE_WORDS,
        min_passage_words: int = DEFAULT_MIN_PASSAGE_WORDS,
        brackets: str | None = None,
        clean_text: str | None = None,
        guard: str | None = None,
        max_new_tokens: int = DEFAULT_ANSWER_TOKENS,
        thinking: str = "default",
        reasoning_budget: int | None = None,
        force_answer: bool = True,
    ) -> None:
        if scoring not in SCORINGS:
            raise ConfigError(f"scoring must be one of {', '.join(SCORINGS)}; got {scoring!r}")
        if max_new_tokens < 1:
            raise ConfigError("max_new_tokens must be >= 1")
        self.scoring, self.max_new_tokens = scoring, max_new_tokens
        self.thinking = think.ThinkingSettings.of(thinking, reasoning_budget, force_answer)
        if scoring == "likelihood" and self.thinking.reasoning_budget:
            raise ConfigError("likelihood scoring reads one next token: it cannot think first")
        # label scores per position: calibration can subtract a label prior (likelihood only)
        self.produces_scores = scoring == "likelihood"
        if scoring == "likelihood":
            require(backend, SupportsNextTokenLogprobs, "next_token_logprobs", self.name)
        else:
            require(backend, SupportsGenerate, "generate", self.name)
        self.backend = backend
        self.template = template_for(
            template,
            "setwise",
            "setwise best-of-set",
            brackets=brackets,
            clean_text=clean_text,
            guard=guard,
        )
        if self.template.identifiers != "alpha" and scoring == "likelihood":
            raise TemplateError(
                f"{self.template.source}: likelihood scoring needs identifiers = 'alpha' "
                "(one token per label)"
            )
        self.max_passage_words, self.min_passage_words = passage_word_limits(
            max_passage_words, min_passage_words
        )
        prefix = self.template.answer_prefix
        space = " " if prefix and not prefix[-1].isspace() else ""
        self.label_tokens = [space + label for label in identifiers_for("alpha", MAX_BLOCK)]
        if scoring == "likelihood":
            self._check_single_tokens()

    def _check_single_tokens(self) -> None:
        backend = cast(SupportsNextTokenLogprobs, self.backend)
        bad = {t: ids for t in self.label_tokens if len(ids := backend.token_ids(t)) != 1}
        if bad:
            shown = ", ".join(f"{t!r} -> {ids}" for t, ids in bad.items())
            raise TemplateError(
                f"{self.template.source}: likelihood scoring needs every passage label to be one "
                f"token for {backend.model_name}; these are not: {shown}"
            )

    @property
    def max_block_size(self) -> int | None:
        return MAX_BLOCK if self.template.identifiers == "alpha" else None

    @property
    def reasoning_budget(self) -> int:
        return self.thinking.reasoning_budget

    def _reserve(self) -> int:
        if self.scoring == "generation":
            return self.max_new_tokens + self.reasoning_budget
        return 1

    def _fitted(
        self, query: Query, block: Sequence[Candidate], max_words: int
    ) -> tuple[RenderedPrompt, int]:
        if len(block) > MAX_BLOCK and self.template.identifiers == "alpha":
            raise ConfigError(
                f"setwise labels passages A..Z: at most {MAX_BLOCK} per block; got {len(block)}"
            )
        return fit_block(
            self.template,
            self.backend,
            query,
            block,
            max_words=max_words,
            min_words=self.min_passage_words,
            reserve_tokens=self._reserve(),
        )

    def estimate_prompt_tokens(self, query: Query, block: Sequence[Candidate]) -> int:
        return self._fitted(query, block, self.max_passage_words)[1]

    def judge(self, query: Query, blocks: Sequence[Sequence[Candidate]]) -> list[Judgement]:

        def attempt(max_words: int) -> list[Judgement]:
            prompts = [self._fitted(query, b, max_words)[0] for b in blocks]
            if self.scoring == "likelihood":
                return self._by_likelihood(blocks, prompts)
            return self._by_generation(blocks, prompts)

        return shrinking(self.max_passage_words, self.min_passage_words, attempt)

    def _by_generation(
        self, blocks: Sequence[Sequence[Candidate]], prompts: list[RenderedPrompt]
    ) -> list[Judgement]:
        backend = cast(SupportsGenerate, self.backend)
        calls = [(p.messages, p.assistant_prefix) for p in prompts]
        results = think.generate(backend, self.thinking, calls, [self.max_new_tokens] * len(calls))
        judgements = []
        for block, result in zip(blocks, results, strict=True):
            n = len(block)
            answer = answer_block(split_reasoning(result.text).answer)
            winner, out_of_range = first_label(answer, n, self.template.identifiers)
            if result.error is not None or (result.cut_in_reasoning and not result.forced_answer):
                winner = None
            if winner is None:
                order, filled = tuple(range(n)), frozenset(range(n))
            else:
                order = (winner, *(i for i in range(n) if i != winner))
                filled = frozenset(order[1:])
            record = CallRecord(
                method=self.name,
                docids=tuple(c.docid for c in block),
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                output=result.text,
                latency_s=result.latency_s,
                repair=RepairStats(
                    out_of_range=out_of_range,
                    malformed=winner is None,
                    cut_in_reasoning=result.cut_in_reasoning,
                    forced_answer=result.forced_answer,
                ),
                cached=result.cached,
                error=result.error,
                extra={"scoring": "generation"},
                reasoning_tokens=result.reasoning_tokens,
                calls=2 if result.forced_answer else 1,
            )
            judgements.append(Judgement(order=order, record=record, filled=filled))
        return judgements

    def _by_likelihood(
        self, blocks: Sequence[Sequence[Candidate]], prompts: list[RenderedPrompt]
    ) -> list[Judgement]:
        backend = cast(SupportsNextTokenLogprobs, self.backend)
        requests = [
            LogprobRequest(p.messages, tuple(self.label_tokens[: len(b)]), p.assistant_prefix)
            for p, b in zip(prompts, blocks, strict=True)
        ]
        judgements = []
        for block, result in zip(blocks, backend.next_token_logprobs(requests), strict=True):
            n = len(block)
            raw = [result.logprobs.get(t) for t in self.label_tokens[:n]]
            scores = [math.nan if result.error is not None or v is None else float(v) for v in raw]
            unscored = frozenset(i for i in range(n) if math.isnan(scores[i]))
            order = order_from_scores(scores)  # unscored last, in input order
            record = CallRecord(
                method=self.name,
                docids=tuple(c.docid for c in block),
                prompt_tokens=result.prompt_tokens,
                completion_tokens=0,
                output="",  # label log-probabilities, no generated text
                latency_s=result.latency_s,
                scores=tuple(scores),
                cached=result.cached,
                error=result.error,
                extra={**result.extra, "scoring": "likelihood"},
            )
            judgements.append(
                Judgement(order=order, record=record, scores=tuple(scores), filled=unscored)
            )
        return judgements
