"""Thinking models for generating methods: the reasoning budget, and forced answers when a call
stops inside its reasoning.

The answer budget of a call becomes ``reasoning_budget`` + the answer's own budget. When the
model is still thinking at the budget (its ``<think>`` never closed), the call has no answer;
with ``force_answer`` on, the method closes the thought (the text so far + ``</think>``) and asks
for the answer alone with the answer's budget, as Rank1 and rank_llm do, and counts that call
as a repair (``forced_answer``). With it off, the cut call is reported as cut
(``cut_in_reasoning``) and repair keeps the block's input order.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from listrank.backends.base import GenerationRequest, GenerationResult, SupportsGenerate
from listrank.errors import ConfigError
from listrank.options import Option
from listrank.prompting.reasoning import THINKING_MODES, closing_prefix, split_reasoning

DEFAULT_REASONING_BUDGET = 10_000
"""rank_llm's reasoning-token budget for ``--is-thinking`` (used for ``thinking="on"``)."""


@dataclass(frozen=True)
class ThinkingSettings:
    mode: str = "default"
    reasoning_budget: int = 0
    force_answer: bool = True

    @classmethod
    def of(
        cls, thinking: str, reasoning_budget: int | None, force_answer: bool
    ) -> ThinkingSettings:
        if thinking not in THINKING_MODES:
            raise ConfigError(f"thinking={thinking!r}: use one of {', '.join(THINKING_MODES)}")
        if reasoning_budget is None:
            reasoning_budget = DEFAULT_REASONING_BUDGET if thinking == "on" else 0
        if reasoning_budget < 0:
            raise ConfigError("reasoning_budget must be >= 0 tokens")
        if thinking == "off" and reasoning_budget:
            raise ConfigError("reasoning_budget needs thinking='on' or 'default', not 'off'")
        return cls(thinking, int(reasoning_budget), bool(force_answer))

    @property
    def enable(self) -> bool | None:
        """``enable_thinking`` for the chat template (None: leave the template's default)."""
        return {"on": True, "off": False}.get(self.mode)

    def request(
        self, messages: Any, answer_tokens: int, assistant_prefix: str = ""
    ) -> GenerationRequest:
        """The first call: answer + reasoning budget. A model told to think writes its thought
        first, so the answer prefix waits for the forced answer (or is left to the model)."""
        return GenerationRequest(
            messages=messages,
            max_new_tokens=answer_tokens + self.reasoning_budget,
            assistant_prefix="" if self.mode == "on" else assistant_prefix,
            thinking=self.enable,
        )


@dataclass(frozen=True)
class Outcome:
    """One call's answer after any forced answer, as the method records it."""

    text: str
    """The model's whole output (thought, closing tag, answer) for parsing and the trace."""
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    latency_s: float
    truncated: bool
    cut_in_reasoning: bool
    forced_answer: bool
    cached: bool
    error: str | None


def generate(
    backend: SupportsGenerate,
    settings: ThinkingSettings,
    prompts: Sequence[tuple[Any, str]],
    answer_tokens: Sequence[int],
) -> list[Outcome]:
    """Run one call per (messages, answer prefix); force the answers of calls cut inside their
    reasoning (one more batch of calls, each ``answer_tokens[i]`` long, the answer prefix after
    the closed thought)."""
    requests = [
        settings.request(m, t, prefix)
        for (m, prefix), t in zip(prompts, answer_tokens, strict=True)
    ]
    results = backend.generate(requests)
    splits = [
        split_reasoning(_shown(r), opened=_opens_thought(backend, q))
        for q, r in zip(requests, results, strict=True)
    ]
    cut = [s.open_thought and r.error is None for s, r in zip(splits, results, strict=True)]
    forced: dict[int, GenerationResult] = {}
    if settings.force_answer and any(cut):
        todo = [i for i, c in enumerate(cut) if c]
        follow = [
            GenerationRequest(
                messages=requests[i].messages,
                max_new_tokens=answer_tokens[i],
                assistant_prefix=requests[i].assistant_prefix
                + closing_prefix(results[i].text, results[i].reasoning)
                + _late_prefix(settings, prompts[i][1]),
                stop=requests[i].stop,
                thinking=requests[i].thinking,
                prefill=True,
            )
            for i in todo
        ]
        forced = dict(zip(todo, backend.generate(follow), strict=True))
    out = []
    for i, (result, split) in enumerate(zip(results, splits, strict=True)):
        thought = _reasoning_tokens(backend, result, split.reasoning)
        extra = forced.get(i)
        if extra is None:
            out.append(
                Outcome(
                    _shown(result),
                    result.prompt_tokens,
                    result.completion_tokens,
                    thought,
                    result.latency_s,
                    result.truncated,
                    cut[i],
                    False,
                    result.cached,
                    result.error,
                )
            )
            continue
        text = closing_prefix(_shown(result)) + _late_prefix(settings, prompts[i][1]) + extra.text
        out.append(
            Outcome(
                text,
                result.prompt_tokens + extra.prompt_tokens,
                result.completion_tokens + extra.completion_tokens,
                thought,
                result.latency_s + extra.latency_s,
                extra.truncated,
                True,
                extra.error is None,
                result.cached and extra.cached,
                extra.error,
            )
        )
    return out


def _late_prefix(settings: ThinkingSettings, prefix: str) -> str:
    """The answer prefix held back from a thinking call, due after its thought."""
    return prefix if settings.mode == "on" else ""


def _shown(result: GenerationResult) -> str:
    """The output with separately reported reasoning put back in front as a closed-or-open
    thought, so parsing and the trace see one text."""
    if not result.reasoning:
        return result.text
    closed = "" if not result.text and result.truncated else "\n</think>\n\n"
    return f"<think>\n{result.reasoning.strip()}{closed}{result.text}"


def _reasoning_tokens(backend: SupportsGenerate, result: GenerationResult, thought: str) -> int:
    if result.reasoning_tokens is not None:
        return result.reasoning_tokens
    return backend.count_tokens(thought) if thought else 0


def _opens_thought(backend: object, request: GenerationRequest) -> bool:
    """Whether the prompt itself ends inside ``<think>`` (the model's text starts in its
    thought): the answer prefix says so, or the local chat template's generation prompt does
    (read once per backend and setting, through any wrapping backends)."""
    if request.assistant_prefix.rstrip().endswith("<think>"):
        return True
    if request.thinking is False:
        return False
    inner = backend
    while hasattr(inner, "inner"):  # the model's own backend, under any wrappers
        inner = inner.inner
    render = getattr(inner, "prompt_text", None)
    if render is None:
        return False
    try:
        known = _OPENS.setdefault(inner, {})
    except TypeError:  # not weak-referenceable: ask every time
        known = {}
    if request.thinking not in known:
        probe: Any = [{"role": "user", "content": "x"}]
        try:
            text = str(render(probe, "", thinking=request.thinking))
        except TypeError:  # a backend whose prompt_text takes no thinking setting
            text = ""
        known[request.thinking] = text.rstrip().endswith("<think>")
    return known[request.thinking]


_OPENS: weakref.WeakKeyDictionary[Any, dict[bool | None, bool]] = weakref.WeakKeyDictionary()
"""Per backend and thinking setting: does its generation prompt open a thought?"""

THINKING_OPTIONS = (
    Option(
        "thinking",
        str,
        "default",
        "enable_thinking for the chat template: on, off, or the model's default",
        changes_answers=True,
        choices=THINKING_MODES,
    ),
    Option(
        "reasoning_budget",
        int | None,
        None,
        "tokens a call may think, added to the answer budget (default: 10000 with thinking=on)",
        changes_answers=True,
        ge=0,
        example=2048,
    ),
    Option(
        "force_answer",
        bool,
        True,
        "when a call stops inside its reasoning, close the thought and ask for the answer",
        changes_answers=True,
    ),
)
