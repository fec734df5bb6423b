"""Plans before a run, and how a run compared with its plan.

``describe_plan`` formats a Plan for people (``listrank plan``); ``check_trace`` compares the
calls and depth a run recorded with what the plan promised; ``simulate`` runs a strategy
against a scripted judge, which adaptive strategies use to compute their worst case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from listrank.errors import ConfigError
from listrank.types import CallRecord, Candidate, Judgement, Plan, Trace

_PLAN_RECORD = CallRecord(
    method="plan", docids=(), prompt_tokens=0, completion_tokens=0, output="", latency_s=0.0
)


def scripted_judgement(order: Sequence[int]) -> Judgement:
    """A Judgement with no model behind it (for plans and tests)."""
    return Judgement(order=tuple(order), record=_PLAN_RECORD)


@dataclass
class Simulation:
    """Counts of a strategy run against a scripted judge."""

    calls: int = 0
    depth: int = 0
    block_sizes: tuple[int, ...] = ()


def simulate(
    rank: Callable[[Callable[[Sequence[Sequence[int]]], list[Judgement]]], object],
    local_order: Callable[[Sequence[int]], Sequence[int]],
) -> Simulation:
    """Run ``rank(judge)`` where ``judge`` orders each block by ``local_order(block)`` (local
    positions, best first) and count calls, stages and block sizes."""
    sim = Simulation()
    sizes: list[int] = []

    def judge(blocks: Sequence[Sequence[int]]) -> list[Judgement]:
        sim.depth += 1
        sim.calls += len(blocks)
        sizes.extend(len(b) for b in blocks)
        return [scripted_judgement(local_order(b)) for b in blocks]

    rank(judge)
    sim.block_sizes = tuple(sizes)
    return sim


def placeholder_candidates(n: int, words: int = 100) -> list[Candidate]:
    """n candidates of ``words`` neutral words each, for token estimates before any data
    exists (``listrank plan``); real passages give better estimates."""
    text = " ".join(["passage"] * words)
    return [Candidate(docid=f"p{i}", text=text) for i in range(n)]


def _blocks_summary(sizes: Sequence[int]) -> str:
    if not sizes:
        return "none"
    counts = sorted(Counter(sizes).items(), key=lambda kv: -kv[0])
    return ", ".join(f"{count} × {size}" for size, count in counts)


def chain_plans(first: Plan, then: Plan) -> Plan:
    """Two pipeline stages run one after the other (an LLM prefilter, then the listwise
    stage): calls, depths, blocks and tokens add up; exact only if both are."""
    tokens = (
        None
        if first.prompt_tokens is None or then.prompt_tokens is None
        else first.prompt_tokens + then.prompt_tokens
    )

    def expected(plan: Plan) -> tuple[float, float]:
        if plan.expected_calls is None or plan.expected_depth is None:
            return float(plan.calls), float(plan.depth)
        return plan.expected_calls, plan.expected_depth

    adaptive = any(p.expected_calls is not None for p in (first, then))
    (c1, d1), (c2, d2) = expected(first), expected(then)
    return Plan(
        f"{first.strategy} → {then.strategy}",
        first.n,
        calls=first.calls + then.calls,
        depth=first.depth + then.depth,
        block_sizes=first.block_sizes + then.block_sizes,
        prompt_tokens=tokens,
        exact=first.exact and then.exact,
        expected_calls=c1 + c2 if adaptive else None,
        expected_depth=d1 + d2 if adaptive else None,
        judge_model=then.judge_model or first.judge_model,
        parts=(first, then),
    )


def describe_plan(plan: Plan) -> str:
    """Human-readable plan: calls, depth, block sizes and estimated prompt tokens."""
    bound = "" if plan.exact else "at most "
    note = "exact" if plan.exact else "upper bound: the strategy adapts to the judgements"
    lines = [
        f"strategy       {plan.strategy}",
        f"candidates     {plan.n}",
        f"calls          {bound}{plan.calls}  ({note})",
        f"depth          {bound}{plan.depth} sequential stage{'s' if plan.depth != 1 else ''}",
        f"blocks         {_blocks_summary(plan.block_sizes)}  (count × size)",
    ]
    if plan.expected_calls is not None and plan.expected_depth is not None:
        lines.append(
            f"expected       {plan.expected_calls:.1f} calls, {plan.expected_depth:.1f} stages "
            f"(mean under a simulated judge: {plan.judge_model})"
        )
    for name, part in zip(("prefilter", "listwise"), plan.parts, strict=False):
        tokens = f", {part.prompt_tokens:,} prompt tokens" if part.prompt_tokens else ""
        lines.append(
            f"  {name:12s} {part.strategy} on {part.n}: {part.calls} "
            f"call{'s' if part.calls != 1 else ''}, depth "
            f"{part.depth}{tokens}"
        )
    if plan.prompt_tokens is not None:
        lines.append(
            f"prompt tokens  {bound}{plan.prompt_tokens:,}  (estimated with the model's tokenizer)"
        )
    if plan.reasoning_tokens is not None:
        lines.append(
            f"reasoning      at most {plan.reasoning_tokens:,} tokens  (every call thinking its "
            "whole reasoning_budget)"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class PlanCheck:
    """A run's real counts next to its plan."""

    planned_calls: int
    calls: int
    planned_depth: int
    depth: int
    exact: bool
    planned_prompt_tokens: int | None = None
    prompt_tokens: int | None = None

    @property
    def ok(self) -> bool:
        """Equal to an exact plan, within an upper-bound plan."""
        if self.exact:
            return self.calls == self.planned_calls and self.depth == self.planned_depth
        return self.calls <= self.planned_calls and self.depth <= self.planned_depth

    def __str__(self) -> str:
        rel = "=" if self.exact else "≤"
        verdict = "as planned" if self.ok else "DIFFERS FROM PLAN"
        text = (
            f"calls {self.calls} (plan {rel} {self.planned_calls}), "
            f"depth {self.depth} (plan {rel} {self.planned_depth})"
        )
        if self.prompt_tokens is not None and self.planned_prompt_tokens is not None:
            text += f", prompt tokens {self.prompt_tokens:,} (est. {self.planned_prompt_tokens:,})"
        return f"{text}: {verdict}"


class MethodCost(Protocol):
    """What a method declares about its cost (``listrank.methods.base.Method``)."""

    @property
    def calls_per_block(self) -> int: ...

    @property
    def calls_per_candidate(self) -> bool: ...

    def prior_calls(self, block_sizes: Sequence[int]) -> int: ...


def method_plan(plan: Plan, method: MethodCost) -> Plan:
    """The strategy's plan in model calls: each block costs the method's ``calls_per_block``
    (permutation averaging: k), plus the priors still due (calibration). ``Reranker.plan``,
    ``listrank plan`` and ``check_trace`` all count with this."""
    sizes: Sequence[int] = plan.block_sizes
    if not plan.exact:  # an adaptive run may meet any smaller block: bound its priors too
        sizes = range(2, max(sizes, default=0) + 1)
    # a method that judges a block candidate by candidate (pointwise) costs a call per item
    judged = sum(plan.block_sizes) if method.calls_per_candidate else plan.calls
    calls = judged * method.calls_per_block + method.prior_calls(sizes)
    return replace(plan, calls=calls)


def check_trace(trace: Trace, plan: Plan | None = None) -> PlanCheck:
    """Compare a trace with ``plan`` (default: the plan the trace carries). A record counts the
    model calls it stands for (``CallRecord.calls``: a wrapper merges several into one, a
    prior's calls are charged to the record that needed it), as the plan does. Cached calls
    count: the plan is about the strategy's judgements, not about what the cache saved."""
    plan = plan if plan is not None else trace.plan
    if plan is None:
        raise ConfigError("the trace carries no plan; pass one")
    return PlanCheck(
        planned_calls=plan.calls,
        calls=sum(c.calls for c in trace.calls),
        planned_depth=plan.depth,
        depth=trace.depth,
        exact=plan.exact,
        planned_prompt_tokens=plan.prompt_tokens,
        prompt_tokens=trace.prompt_tokens if plan.prompt_tokens is not None else None,
    )
