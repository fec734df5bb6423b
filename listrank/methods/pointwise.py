"""Pointwise yes/no relevance (Qwen3-Reranker style; rank_llm's pointwise reranker): one prompt
per (query, candidate) pair, one forward pass each, and the score

    P(yes) / (P(yes) + P(no)) = sigmoid(logprob(yes) − logprob(no))

from the next-token scores of the template's two labels (``labels = [positive, negative]``),
each checked to be one token for the backend's tokenizer at construction. The ratio needs only
the two labels' log-probabilities, so full-vocabulary logits (hf, vLLM) and an API's top-k
logprobs (with or without logit_bias, which shifts both labels alike) give the same score.

With ``reasoning_budget`` > 0 (the ``rank1`` preset) each pair is first reasoned about
(generation up to ``</think>``, at most that many tokens, batched), then the labels are read
right after the closed thought — Rank1's "<think>…</think> true|false", score P(true). A
thought cut at the budget is closed with ``</think>`` and scored all the same (counted as a
forced answer in the record's ``extra``), as Rank1 does; ``force_answer=False`` leaves it
unscored. Each candidate then costs two calls.

Blocks are normally single candidates (``strategy="pointwise"`` scores all of them in one
stage). A block of several is scored candidate by candidate (one model call each) and ordered
by score, so listwise strategies accept this method too. A candidate whose two label scores
did not both come back (truncated top-k, a NaN, a failed call) is unscored: NaN, ordered last
in input order, marked ``filled`` and named in the call record's ``extra``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from listrank.backends.base import (
    GenerationRequest,
    LogprobRequest,
    LogprobResult,
    SupportsGenerate,
    SupportsNextTokenLogprobs,
    require,
)
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
from listrank.methods.thinking import THINKING_OPTIONS, ThinkingSettings
from listrank.prompting.budget import DEFAULT_MAX_PASSAGE_WORDS, DEFAULT_MIN_PASSAGE_WORDS
from listrank.prompting.reasoning import THINK_CLOSE
from listrank.prompting.templates import PromptTemplate, RenderedPrompt
from listrank.types import CallRecord, Candidate, Judgement, Query, prompt_messages

_ANSWER_TOKENS = 1
"""Only the next token is read."""


def yes_probability(positive: float | None, negative: float | None) -> float:
    """P(positive) / (P(positive) + P(negative)) from two log-probabilities; NaN when either
    is missing or NaN. Computed as a logistic of the difference (stable for any magnitudes)."""
    if positive is None or negative is None or math.isnan(positive) or math.isnan(negative):
        return math.nan
    diff = positive - negative
    if diff >= 0:
        return 1.0 / (1.0 + math.exp(-diff))
    e = math.exp(diff)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Thought:
    """One pair's reasoning before its score (Rank1)."""

    text: str
    prefix: str
    """What the score is read after: the thought and ``</think>``."""
    cut: bool
    """The budget ran out inside the thought; it was closed for the model (forced)."""
    prompt_tokens: int
    completion_tokens: int
    error: str | None


class PointwiseMethod(Method):
    """Score every candidate alone by P(yes) against P(no)."""

    name = "pointwise"
    OPTIONS = (template_option("pointwise"), *PASSAGE_WORDS, *TEXT_RULES, *THINKING_OPTIONS)
    produces_scores = True
    scores_alone = True
    """A single candidate's score means something by itself (calibration applies to blocks
    of one, unlike FIRST's, whose scores only compare slots)."""
    _per_candidate = True
    """A block costs one model call per candidate (plans count ``sum(block_sizes)``)."""

    def __init__(
        self,
        backend: object,
        *,
        template: str | PromptTemplate = "pointwise",
        max_passage_words: int = DEFAULT_MAX_PASSAGE_WORDS,
        min_passage_words: int = DEFAULT_MIN_PASSAGE_WORDS,
        brackets: str | None = None,
        clean_text: str | None = None,
        guard: str | None = None,
        thinking: str = "default",
        reasoning_budget: int | None = None,
        force_answer: bool = True,
    ) -> None:
        require(backend, SupportsNextTokenLogprobs, "next_token_logprobs", self.name)
        self.thinking = ThinkingSettings.of(thinking, reasoning_budget, force_answer)
        if self.reasons:
            require(backend, SupportsGenerate, "generate", f"{self.name} with reasoning")
        self.backend = cast(SupportsNextTokenLogprobs, backend)
        self.template = template_for(
            template,
            "pointwise",
            "pointwise yes/no scoring",
            brackets=brackets,
            clean_text=clean_text,
            guard=guard,
        )
        self.max_passage_words, self.min_passage_words = passage_word_limits(
            max_passage_words, min_passage_words
        )
        self.positive, self.negative = self.template.labels
        require_single_tokens(
            self.backend,
            self.template.labels,
            what=f"{self.template.source}: pointwise scoring needs both answer labels",
            fix="Write labels the tokenizer keeps whole (e.g. 'yes'/'no' without a leading "
            "space after a newline, ' yes'/' no' after a word)",
        )

    @property
    def reasons(self) -> bool:
        """Whether each pair is first reasoned about (Rank1), then scored after the thought."""
        return self.thinking.reasoning_budget > 0

    @property
    def calls_per_block(self) -> int:
        return 2 if self.reasons else 1  # the thought, then the labels' scores after it

    def _fitted(
        self, query: Query, candidate: Candidate, max_words: int
    ) -> tuple[RenderedPrompt, int]:
        return fit_block(
            self.template,
            self.backend,
            query,
            [candidate],
            max_words=max_words,
            min_words=self.min_passage_words,
            reserve_tokens=_ANSWER_TOKENS + self.thinking.reasoning_budget,
        )

    def estimate_prompt_tokens(self, query: Query, block: Sequence[Candidate]) -> int:
        return sum(self._fitted(query, c, self.max_passage_words)[1] for c in block)

    def judge(self, query: Query, blocks: Sequence[Sequence[Candidate]]) -> list[Judgement]:
        flat = [c for block in blocks for c in block]
        labels = (self.positive, self.negative)

        def attempt(
            max_words: int,
        ) -> tuple[list[RenderedPrompt], list[Thought | None], list[LogprobResult]]:
            prompts = [self._fitted(query, c, max_words)[0] for c in flat]
            thoughts: list[Thought | None] = (
                list(self._think(prompts)) if self.reasons else [None] * len(prompts)
            )
            requests = [
                LogprobRequest(p.messages, labels, p.assistant_prefix + (t.prefix if t else ""))
                for p, t in zip(prompts, thoughts, strict=True)
            ]
            # every pair in one call
            return prompts, thoughts, self.backend.next_token_logprobs(requests)

        prompts, thoughts, results = shrinking(
            self.max_passage_words, self.min_passage_words, attempt
        )
        judgements = []
        at = 0
        for block in blocks:
            n = len(block)
            mine, shown = results[at : at + n], prompts[at : at + n]
            reasoned = thoughts[at : at + n]
            at += n
            scores: list[float] = []
            missing: dict[str, list[str]] = {}
            for candidate, result in zip(block, mine, strict=True):
                pos, neg = (result.logprobs.get(label) for label in labels)
                score = math.nan if result.error is not None else yes_probability(pos, neg)
                thought = reasoned[len(scores)]
                dropped = thought is not None and thought.cut and not self.thinking.force_answer
                if dropped:
                    score = math.nan  # cut inside its reasoning, and no forced answer wanted
                if math.isnan(score):
                    absent = [lb for lb, v in zip(labels, (pos, neg), strict=True) if v is None]
                    why = "cut_in_reasoning" if dropped else "error" if result.error else "nan"
                    missing[candidate.docid] = absent if absent and not dropped else [why]
                scores.append(score)
            order = order_from_scores(scores)
            errors = [r.error for r in mine if r.error is not None]
            errors += [t.error for t in reasoned if t is not None and t.error is not None]
            gen = [t for t in reasoned if t is not None]
            record = CallRecord(
                method=self.name,
                docids=tuple(c.docid for c in block),
                prompt_tokens=sum(r.prompt_tokens for r in mine)
                + sum(t.prompt_tokens for t in gen),
                completion_tokens=sum(t.completion_tokens for t in gen),
                output=" ".join(f"{c.docid}={s:.4f}" for c, s in zip(block, scores, strict=True)),
                latency_s=sum(r.latency_s for r in mine),
                scores=tuple(scores),
                cached=bool(mine) and all(r.cached for r in mine),
                error="; ".join(errors) if errors else None,
                calls=n * self.calls_per_block,
                extra={
                    **(
                        {
                            "reasoning": [t.text for t in gen],
                            "forced_answers": sum(t.cut for t in gen),
                        }
                        if gen
                        else {}
                    ),
                    "labels": list(labels),
                    "logprobs": [[r.logprobs.get(lb) for lb in labels] for r in mine],
                    "unscored": missing,
                },
                messages=(
                    prompt_messages(shown[0].messages, shown[0].assistant_prefix) if n == 1 else ()
                ),
            )
            unscored = frozenset(i for i in range(n) if math.isnan(scores[i]))
            judgements.append(
                Judgement(order=order, record=record, scores=tuple(scores), filled=unscored)
            )
        return judgements

    def _think(self, prompts: Sequence[RenderedPrompt]) -> list[Thought]:
        """Rank1's first step: generate each pair's reasoning up to ``</think>`` (within the
        budget), one batched call. A thought cut at the budget is closed with ``</think>``
        all the same (a forced answer, counted) unless ``force_answer`` is off."""
        backend = cast(SupportsGenerate, self.backend)
        requests = [
            GenerationRequest(
                p.messages,
                self.thinking.reasoning_budget,
                p.assistant_prefix,
                stop=(THINK_CLOSE,),
                thinking=self.thinking.enable,
            )
            for p in prompts
        ]
        out = []
        for r in backend.generate(requests):
            cut = r.truncated and THINK_CLOSE not in r.text
            # the model's own text up to its </think>; a cut thought is closed after its text
            text = r.text.rstrip() if cut else r.text.split(THINK_CLOSE, 1)[0]
            out.append(
                Thought(
                    text=text,
                    prefix=f"{text}{THINK_CLOSE}",
                    cut=cut,
                    prompt_tokens=r.prompt_tokens,
                    completion_tokens=r.completion_tokens,
                    error=r.error,
                )
            )
        return out
