"""What a method is: it judges blocks of candidates for a query, many blocks per call."""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from listrank.errors import ConfigError, ContextLengthError
from listrank.options import Option
from listrank.prompting.budget import (
    DEFAULT_MAX_PASSAGE_WORDS,
    DEFAULT_MIN_PASSAGE_WORDS,
    fit_prompt,
    passage_text,
)
from listrank.prompting.guard import GUARDS
from listrank.prompting.templates import (
    BRACKET_RULES,
    CLEANERS,
    PromptTemplate,
    RenderedPrompt,
    load_template,
)
from listrank.types import Candidate, Judgement, Query


def template_option(default: str) -> Option:
    return Option(
        "template",
        str | PromptTemplate,
        default,
        "prompt template: a name or a TOML file",
        changes_answers=True,
        example=f"{default}-custom.toml",
    )


PASSAGE_WORDS = (
    Option(
        "max_passage_words",
        int,
        DEFAULT_MAX_PASSAGE_WORDS,
        "words kept per passage",
        changes_answers=True,
        ge=1,
    ),
    Option(
        "min_passage_words",
        int,
        DEFAULT_MIN_PASSAGE_WORDS,
        "fewest words per passage when the prompt is cut to fit",
        changes_answers=True,
        ge=1,
    ),
)
"""The passage budget every method declares."""

TEXT_RULES = (
    Option(
        "brackets",
        str | None,
        None,
        "'[' ']' inside passages (None: the template's rule)",
        changes_answers=True,
        choices=BRACKET_RULES,
    ),
    Option(
        "clean_text",
        str | None,
        None,
        "repair mojibake (None: the template's rule)",
        changes_answers=True,
        choices=CLEANERS,
    ),
    Option(
        "guard",
        str | None,
        None,
        "mark passages as data (None: the template's rule)",
        changes_answers=True,
        choices=GUARDS,
    ),
)
"""The template text-rule overrides (see ``template_for``)."""


def template_for(
    template: str | PromptTemplate,
    kind: str,
    purpose: str,
    *,
    brackets: str | None = None,
    clean_text: str | None = None,
    guard: str | None = None,
) -> PromptTemplate:
    """Load a template and check it is written for this kind of method; ``brackets``,
    ``clean_text`` and ``guard`` override the template's text rules (None keeps them)."""
    loaded = load_template(template).with_text_rules(brackets, clean_text, guard)
    if kind not in loaded.methods:
        raise ConfigError(
            f"template {loaded.name!r} ({loaded.source}) is written for "
            f"{list(loaded.methods)}, not for {purpose}"
        )
    return loaded


def passage_word_limits(max_words: int, min_words: int) -> tuple[int, int]:
    """Validated (max, min) passage word limits; min never exceeds max."""
    if max_words < 1 or min_words < 1:
        raise ConfigError("max_passage_words and min_passage_words must be >= 1")
    return max_words, min(min_words, max_words)


class Method(ABC):
    """Judges blocks. ``judge`` takes every independent block of a stage at once, so batched
    backends (vLLM, async APIs) run the whole stage together."""

    name: str = "method"
    produces_scores: bool = False
    """Declared: every judgement carries a score per slot (calibration needs it)."""
    scores_alone: bool = False
    """Declared: a single candidate's score means something by itself (pointwise)."""

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

    def with_backend(self, wrap: Callable[[Any], Any]) -> Method:
        """This method with its model calls made through ``wrap(backend)`` (a shallow copy;
        the original is left as it is). The Reranker routes any method, by name or object,
        through the call cache, the stage gate and the cancellation check this way. A method
        keeps its backend in ``self.backend``; a wrapper keeps its method in ``self.inner``
        (override this if yours keeps them elsewhere). A method with neither calls no model
        the reranker could route, and is used as it is."""
        inner = getattr(self, "inner", None)
        if isinstance(inner, Method):
            rewired = inner.with_backend(wrap)
            if rewired is inner:
                return self
            clone = copy.copy(self)
            clone.inner = rewired  # type: ignore[attr-defined]
            return clone
        if not hasattr(self, "backend"):
            return self
        clone = copy.copy(self)
        clone.backend = wrap(self.backend)
        return clone

    # -- declared cost: what the plan counts (``strategies.planning.method_plan``) --------
    @property
    def calls_per_block(self) -> int:
        """Model calls one judged block costs; its trace record's ``calls`` says the same."""
        return 1

    @property
    def calls_per_candidate(self) -> bool:
        """True when a block costs ``calls_per_block`` per candidate (pointwise scoring)."""
        return bool(getattr(type(self), "_per_candidate", False))

    def prior_calls(self, block_sizes: Sequence[int]) -> int:
        """Model calls still due for priors of these block sizes (calibration; else 0).
        They are charged to the records of the blocks that needed them."""
        return 0

    def prior_prompt_tokens(self, block_sizes: Sequence[int]) -> int:
        """Prompt tokens of those prior calls (estimated, nothing judged)."""
        return 0


class WrappingMethod(Method):
    """A method around another (permutation averaging, calibration): by default its limits
    and declared cost are the inner method's; a wrapper overrides what it changes."""

    inner: Method

    @property
    def max_block_size(self) -> int | None:
        return self.inner.max_block_size

    @property
    def calls_per_candidate(self) -> bool:
        return self.inner.calls_per_candidate

    @property
    def calls_per_block(self) -> int:
        return self.inner.calls_per_block

    def prior_calls(self, block_sizes: Sequence[int]) -> int:
        return self.inner.prior_calls(block_sizes)

    def prior_prompt_tokens(self, block_sizes: Sequence[int]) -> int:
        return self.inner.prior_prompt_tokens(block_sizes)

    def estimate_prompt_tokens(self, query: Query, block: Sequence[Candidate]) -> int:
        return self.inner.estimate_prompt_tokens(query, block)


T = TypeVar("T")


def shrinking(max_words: int, min_words: int, attempt: Callable[[int], T]) -> T:
    """``attempt(max_words)``, retried with the passages' words halved (down to ``min_words``)
    while it raises ContextLengthError: the server counts differently from our estimate."""
    while True:
        try:
            return attempt(max_words)
        except ContextLengthError:
            if max_words <= min_words:
                raise
            max_words = max(min_words, max_words // 2)


def order_from_scores(scores: Sequence[float]) -> tuple[int, ...]:
    """Best first; NaN last; ties keep input position (deterministic)."""

    def key(i: int) -> tuple[bool, float, int]:
        s = scores[i]
        return (math.isnan(s), -s if not math.isnan(s) else 0.0, i)

    return tuple(sorted(range(len(scores)), key=key))


def fit_block(
    template: PromptTemplate,
    backend: Any,
    query: Query,
    block: Sequence[Candidate],
    *,
    max_words: int,
    min_words: int,
    reserve_tokens: int,
    shrink: str = "listrank",
) -> tuple[RenderedPrompt, int]:
    """The block's prompt, its passages cut (down to ``min_words``) until it fits the
    backend's context with ``reserve_tokens`` left for the answer; and its token count."""
    scores = [c.score for c in block]
    fitted = fit_prompt(
        [passage_text(c, template.titled) for c in block],
        lambda texts: template.render(query.text, texts, scores),
        lambda r: backend.count_prompt_tokens(r.messages, r.assistant_prefix),
        context_length=backend.context_length,
        reserve_tokens=reserve_tokens,
        max_words=max_words,
        min_words=min_words,
        shrink=shrink,
    )
    return fitted.prompt, fitted.prompt_tokens
