"""Plain data passed between the layers: queries, candidates, judgements, rankings, traces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, cast


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


def prompt_messages(
    messages: tuple[ChatMessage, ...] | list[ChatMessage], assistant_prefix: str = ""
) -> tuple[ChatMessage, ...]:
    """The messages a call sent, the assistant prefix (if any) as a last assistant message."""
    out = tuple(messages)
    if assistant_prefix:
        out += (cast(ChatMessage, {"role": "assistant", "content": assistant_prefix}),)
    return out


@dataclass(frozen=True)
class Query:
    text: str
    qid: str = "q0"


@dataclass(frozen=True)
class Candidate:
    docid: str
    text: str
    score: float | None = None
    """First-stage score, if the retriever gave one."""
    title: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RepairStats:
    """What permutation repair had to fix in one model answer."""

    missing: int = 0
    duplicates: int = 0
    out_of_range: int = 0
    malformed: bool = False
    """The answer named no usable identifier at all."""
    echo: bool = False
    """The answer repeated the prompt's own pattern (e.g. "Received passage [21].")."""
    truncated: bool = False
    """The answer was cut at the answer budget (finish_reason "length"), so repair filled in
    what the model might still have written."""
    cut_in_reasoning: bool = False
    """The call stopped inside its reasoning (a ``<think>`` never closed): no answer came."""
    forced_answer: bool = False
    """After such a cut the thought was closed and the answer asked for alone (a repair)."""

    @property
    def repaired(self) -> bool:
        return bool(
            self.missing
            or self.duplicates
            or self.out_of_range
            or self.malformed
            or self.forced_answer
        )

    def __add__(self, other: RepairStats) -> RepairStats:
        return RepairStats(
            missing=self.missing + other.missing,
            duplicates=self.duplicates + other.duplicates,
            out_of_range=self.out_of_range + other.out_of_range,
            malformed=self.malformed or other.malformed,
            echo=self.echo or other.echo,
            truncated=self.truncated or other.truncated,
            cut_in_reasoning=self.cut_in_reasoning or other.cut_in_reasoning,
            forced_answer=self.forced_answer or other.forced_answer,
        )


@dataclass(frozen=True)
class CallRecord:
    """One model call as the trace keeps it."""

    method: str
    docids: tuple[str, ...]
    """The block judged, in the order shown to the model."""
    prompt_tokens: int
    completion_tokens: int
    output: str
    latency_s: float
    repair: RepairStats = RepairStats()
    scores: tuple[float, ...] | None = None
    """Per-position scores (higher is better) when the method produces them."""
    stage: int = 0
    """Which sequential stage of the strategy issued the call (0-based)."""
    cached: bool = False
    error: str | None = None
    """Set when the call failed and the block kept its input order (declared degradation)."""
    order: tuple[int, ...] | None = None
    """The local order the call produced (positions in ``docids``), filled in by the Reranker."""
    calls: int = 1
    """Model calls this record stands for (a wrapper may merge several into one record)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    messages: tuple[ChatMessage, ...] = ()
    """The prompt as chat messages (an assistant prefix last), when the method sends them."""
    prompt: str | None = None
    """The prompt as text, for methods that send text rather than messages (ICR)."""
    reasoning_tokens: int = 0
    """Of ``completion_tokens``, those spent thinking (the rest are the answer's)."""


@dataclass(frozen=True)
class Judgement:
    """A method's verdict on one block.

    ``order`` lists local positions (0-based indices into the block), best first; it is always a
    permutation of ``range(len(block))``. ``filled`` holds local positions that repair appended
    (the model never ranked them); strategies must not count them as wins.
    """

    order: tuple[int, ...]
    record: CallRecord
    scores: tuple[float, ...] | None = None
    filled: frozenset[int] = frozenset()


@dataclass(frozen=True)
class RankedCandidate:
    candidate: Candidate
    score: float


@dataclass(frozen=True)
class Plan:
    """What a strategy will do for N candidates before it runs."""

    strategy: str
    n: int
    calls: int
    depth: int
    """Sequential stages on the critical path."""
    block_sizes: tuple[int, ...] = ()
    """Size of every block judged, for token estimates."""
    prompt_tokens: int | None = None
    reasoning_tokens: int | None = None
    """Worst case: every call thinks its whole reasoning budget (None: no reasoning budget)."""
    exact: bool = True
    """False when the strategy adapts to judgements and the numbers are upper bounds."""
    expected_calls: float | None = None
    """Mean calls under ``judge_model`` (adaptive strategies), beside the worst case."""
    expected_depth: float | None = None
    judge_model: str | None = None
    """The simulated judge the expected case assumes."""
    parts: tuple[Plan, ...] = ()
    """The pipeline stages this plan sums (an LLM prefilter's, then the listwise one's)."""


@dataclass(frozen=True)
class Trace:
    calls: tuple[CallRecord, ...] = ()
    plan: Plan | None = None
    stage_latency_s: Mapping[str, float] = field(default_factory=dict)

    @property
    def n_calls(self) -> int:
        return sum(c.calls for c in self.calls if not c.cached)

    @property
    def depth(self) -> int:
        return len({c.stage for c in self.calls})

    @property
    def prompt_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.calls)

    @property
    def reasoning_tokens(self) -> int:
        return sum(c.reasoning_tokens for c in self.calls)

    @property
    def forced_answers(self) -> int:
        return sum(1 for c in self.calls if c.repair.forced_answer)

    @property
    def repaired_calls(self) -> int:
        return sum(1 for c in self.calls if c.repair.repaired)

    @property
    def malformed_calls(self) -> int:
        return sum(1 for c in self.calls if c.repair.malformed)

    @property
    def latency_s(self) -> float:
        return sum(self.stage_latency_s.values())


@dataclass(frozen=True)
class Ranking:
    query: Query
    ranked: tuple[RankedCandidate, ...]
    trace: Trace = Trace()

    @property
    def docids(self) -> list[str]:
        return [r.candidate.docid for r in self.ranked]

    def model_scores(self) -> dict[str, float]:
        """docid -> the model's own score (FIRST logits, ICR attention, setwise likelihood) from
        the last block that judged it (later stages refine earlier ones); empty for methods
        that only produce an order (RankGPT permutations). NaN scores are left out."""
        out: dict[str, float] = {}
        for call in self.trace.calls:
            if call.scores is None or call.error is not None:
                continue
            for docid, score in zip(call.docids, call.scores, strict=False):
                if score == score:  # not NaN
                    out[docid] = float(score)
        return out

    def __len__(self) -> int:
        return len(self.ranked)
