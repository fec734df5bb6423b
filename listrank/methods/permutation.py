"""RankGPT permutation generation: the model writes "[2] > [1] > [3]"; repair fixes the rest."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, cast

from listrank.backends.base import SupportsGenerate, require
from listrank.errors import ConfigError
from listrank.methods import thinking as think
from listrank.methods.base import (
    PASSAGE_WORDS,
    TEXT_RULES,
    Method,
    fit_block,
    passage_word_limits,
    shrinking,
    template_for,
    template_option,
)
from listrank.options import Option
from listrank.prompting.budget import (
    DEFAULT_MAX_PASSAGE_WORDS,
    DEFAULT_MIN_PASSAGE_WORDS,
    SHRINK_RULES,
    answer_budget,
)
from listrank.prompting.fewshot import load_few_shot
from listrank.prompting.parsing import PARSE_MODES, parse_permutation
from listrank.prompting.templates import PromptTemplate, RenderedPrompt, identifiers_for
from listrank.types import CallRecord, Candidate, Judgement, Query, prompt_messages


class PermutationMethod(Method):
    """Listwise permutation generation (RankGPT) with greedy decoding and counted repair."""

    name = "rankgpt"
    OPTIONS = (
        template_option("rankgpt"),
        *PASSAGE_WORDS,
        *TEXT_RULES,
        Option(
            "parse",
            str,
            "listrank",
            "how answers are read",
            changes_answers=True,
            choices=PARSE_MODES,
        ),
        Option(
            "max_new_tokens",
            int | None,
            None,
            "answer budget (default: from the block size)",
            changes_answers=True,
            ge=1,
            example=64,
        ),
        *think.THINKING_OPTIONS,
        Option(
            "few_shot_file",
            str | None,
            None,
            "rank_llm's few-shot JSON: [{conversations: [{role, value}, ...]}, ...]",
            changes_answers=True,
            example="examples.json",
        ),
        Option(
            "few_shot",
            int,
            0,
            "how many of its examples go before the prompt (rank_llm's num_few_shot_examples)",
            changes_answers=True,
            ge=0,
            example=1,
        ),
        Option(
            "shrink",
            str,
            "listrank",
            "how passages shrink to fit the context: listrank's steps or rank_llm's",
            changes_answers=True,
            choices=SHRINK_RULES,
        ),
    )

    def __init__(
        self,
        backend: object,
        *,
        template: str | PromptTemplate = "rankgpt",
        max_passage_words: int = DEFAULT_MAX_PASSAGE_WORDS,
        min_passage_words: int = DEFAULT_MIN_PASSAGE_WORDS,
        brackets: str | None = None,
        clean_text: str | None = None,
        guard: str | None = None,
        parse: str = "listrank",
        max_new_tokens: int | None = None,
        thinking: str = "default",
        reasoning_budget: int | None = None,
        force_answer: bool = True,
        few_shot_file: str | None = None,
        few_shot: int = 0,
        shrink: str = "listrank",
    ) -> None:
        require(backend, SupportsGenerate, "generate", self.name)
        self.backend = cast(SupportsGenerate, backend)
        self.template = template_for(
            template,
            "permutation",
            "permutation generation",
            brackets=brackets,
            clean_text=clean_text,
            guard=guard,
        )
        if few_shot:
            if not few_shot_file:
                raise ConfigError("few_shot > 0 needs few_shot_file (rank_llm's few-shot JSON)")
            examples = load_few_shot(few_shot_file, few_shot)
            self.template = dataclasses.replace(self.template, examples=examples)
        self.max_passage_words, self.min_passage_words = passage_word_limits(
            max_passage_words, min_passage_words
        )
        self.max_new_tokens = max_new_tokens
        self._budgets: dict[int, int] = {}
        if parse not in PARSE_MODES:
            raise ConfigError(f"parse={parse!r}: use one of {PARSE_MODES}")
        self.parse = parse
        self.thinking = think.ThinkingSettings.of(thinking, reasoning_budget, force_answer)
        if shrink not in SHRINK_RULES:
            raise ConfigError(f"shrink={shrink!r}: use one of {SHRINK_RULES}")
        self.shrink = shrink

    @property
    def reasoning_budget(self) -> int:
        return self.thinking.reasoning_budget

    def _answer_tokens(self, n: int) -> int:
        if self.max_new_tokens is not None:
            return self.max_new_tokens
        # the same for every block of n: counted once (it tokenizes n identifiers)
        budget = self._budgets.get(n)
        if budget is None:
            # a backend that only estimates its tokens (an API model tiktoken does not know)
            # would cut answers short: it gets the tokenizer-free upper bound instead
            exact = bool(getattr(self.backend, "exact_token_counts", True))
            ids = identifiers_for(self.template.identifiers, n)
            budget = answer_budget(ids, self.backend.count_tokens if exact else None)
            self._budgets[n] = budget
        return budget

    def _fit(
        self, query: Query, block: Sequence[Candidate], max_words: int
    ) -> tuple[RenderedPrompt, int]:
        return fit_block(
            self.template,
            self.backend,
            query,
            block,
            max_words=max_words,
            min_words=self.min_passage_words,
            reserve_tokens=self._answer_tokens(len(block)) + self.reasoning_budget,
            shrink=self.shrink,
        )

    def estimate_prompt_tokens(self, query: Query, block: Sequence[Candidate]) -> int:
        return self._fit(query, block, self.max_passage_words)[1]

    def judge(self, query: Query, blocks: Sequence[Sequence[Candidate]]) -> list[Judgement]:

        def attempt(max_words: int) -> tuple[list[RenderedPrompt], list[Any]]:
            prompts = [self._fit(query, b, max_words)[0] for b in blocks]
            answer_tokens = [self._answer_tokens(len(b)) for b in blocks]
            calls = [(p.messages, p.assistant_prefix) for p in prompts]
            return prompts, think.generate(self.backend, self.thinking, calls, answer_tokens)

        prompts, results = shrinking(self.max_passage_words, self.min_passage_words, attempt)
        judgements = []
        for block, prompt, result in zip(blocks, prompts, results, strict=True):
            n = len(block)
            # a thinking call writes its thought first: its answer prefix came after it
            prefix = "" if self.thinking.mode == "on" else prompt.assistant_prefix
            parsed = parse_permutation(
                prefix + result.text,
                n,
                identifiers=self.template.identifiers,
                echo=self.template.echo,
                mode=self.parse,
            )
            if result.error is not None or (result.cut_in_reasoning and not result.forced_answer):
                # no answer came: the block keeps its input order (reported as cut)
                order, filled = list(range(n)), frozenset(range(n))
                stats = parsed.stats
            else:
                order, filled, stats = parsed.order, parsed.filled, parsed.stats
            record = CallRecord(
                method=self.name,
                docids=tuple(c.docid for c in block),
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                output=result.text,
                latency_s=result.latency_s,
                repair=dataclasses.replace(
                    stats,
                    truncated=result.truncated,
                    cut_in_reasoning=result.cut_in_reasoning,
                    forced_answer=result.forced_answer,
                ),
                cached=result.cached,
                error=result.error,
                messages=prompt_messages(prompt.messages, prompt.assistant_prefix),
                reasoning_tokens=result.reasoning_tokens,
                calls=2 if result.cut_in_reasoning and result.forced_answer else 1,
            )
            judgements.append(Judgement(order=tuple(order), record=record, filled=filled))
        return judgements
