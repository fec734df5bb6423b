"""Per-run totals over many rankings: calls, tokens, repairs, latency.

Everything is a running sum (the bias report's too), so a summary's size does not grow with
the number of queries; summaries of parts of a run merge into the summary of the whole."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from listrank.evaluation.bias import BiasReport, BiasTally
from listrank.strategies.planning import check_trace
from listrank.types import Ranking


@dataclass
class RunSummary:
    queries: int = 0
    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    repaired: int = 0
    malformed: int = 0
    echoes: int = 0
    truncated: int = 0
    """Answers cut at the answer budget (their tail was filled in by repair)."""
    reasoning_tokens: int = 0
    """Of the completion tokens, those spent thinking."""
    cut_in_reasoning: int = 0
    """Calls that stopped inside their reasoning (no answer of their own)."""
    forced_answers: int = 0
    """Of those, calls whose answer was asked for after closing the thought."""
    missing_ids: int = 0
    duplicate_ids: int = 0
    out_of_range_ids: int = 0
    failed_calls: int = 0
    latency_s_total: float = 0.0
    bias_tally: BiasTally = field(default_factory=BiasTally)
    """What the (stage-0) bias report needs of every call, as running sums."""
    off_plan: int = 0
    """Queries whose calls or depth differ from the strategy's plan."""
    blocks_judged: int = 0
    """Calls that produced a local order (failed ones excluded)."""
    blocks_kept_order: int = 0
    """Of those, the blocks whose order came out as it went in."""
    generated_kept_order: int = 0
    """Of those, the ones judged from generated text (no per-slot scores)."""
    wall_s: float = 0.0
    """Wall-clock time of the run, set by the caller that timed it (0: not timed). Per-query
    latencies overlap when queries run concurrently, so their sum is not the run's time."""

    def add(self, ranking: Ranking) -> None:
        self.queries += 1
        self.latency_s_total += ranking.trace.latency_s
        if ranking.trace.plan is not None and not check_trace(ranking.trace).ok:
            self.off_plan += 1
        for c in ranking.trace.calls:
            # one record may stand for several calls (permutations, calibration priors)
            if c.cached:
                self.cached_calls += c.calls
            else:
                self.calls += c.calls
            self.prompt_tokens += c.prompt_tokens
            self.completion_tokens += c.completion_tokens
            self.repaired += int(c.repair.repaired)
            self.malformed += int(c.repair.malformed)
            self.echoes += int(c.repair.echo)
            self.truncated += int(c.repair.truncated)
            self.reasoning_tokens += c.reasoning_tokens
            self.cut_in_reasoning += int(c.repair.cut_in_reasoning)
            self.forced_answers += int(c.repair.forced_answer)
            self.missing_ids += c.repair.missing
            self.duplicate_ids += c.repair.duplicates
            self.out_of_range_ids += c.repair.out_of_range
            self.failed_calls += int(c.error is not None)
            self.bias_tally.add(c)
            if c.order is not None and c.error is None and len(c.order) > 1:
                self.blocks_judged += 1
                if tuple(c.order) == tuple(range(len(c.order))):
                    self.blocks_kept_order += 1
                    self.generated_kept_order += int(c.scores is None)

    def merge(self, other: RunSummary) -> None:
        """Add another part of the run (every field is a count or a sum)."""
        for f in fields(self):
            if f.name == "bias_tally":
                self.bias_tally.merge(other.bias_tally)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, float | int]:
        total = self.latency_s_total
        return {
            "queries": self.queries,
            "calls": self.calls,
            "cached_calls": self.cached_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "repaired_outputs": self.repaired,
            "malformed_outputs": self.malformed,
            "echoed_prompt": self.echoes,
            "truncated_outputs": self.truncated,
            "reasoning_tokens": self.reasoning_tokens,
            "cut_in_reasoning": self.cut_in_reasoning,
            "forced_answers": self.forced_answers,
            "missing_ids": self.missing_ids,
            "duplicate_ids": self.duplicate_ids,
            "out_of_range_ids": self.out_of_range_ids,
            "failed_calls": self.failed_calls,
            "queries_off_plan": self.off_plan,
            "latency_s_total": round(total, 3),
            "latency_s_per_query": round(total / self.queries, 3) if self.queries else 0.0,
            "wall_s": round(self.wall_s, 3),
            "queries_per_s": round(self.queries / self.wall_s, 3) if self.wall_s > 0 else 0.0,
            "blocks_judged": self.blocks_judged,
            "blocks_kept_order": self.blocks_kept_order,
        }

    def timing(self) -> str:
        """Wall time, throughput and mean per-query latency, each named (they differ when
        queries run concurrently)."""
        mean = self.latency_s_total / self.queries if self.queries else 0.0
        latency = f"mean per-query latency {mean:.2f} s"
        if self.wall_s <= 0:
            return latency
        rate = self.queries / self.wall_s
        return f"wall time {self.wall_s:.1f} s, {rate:.3g} queries/s, {latency}"

    def order_warning(self) -> str | None:
        """A WARNING line when most blocks kept their input order: the output is then mostly
        the first stage's, whatever the summary's other numbers say."""
        judged, kept = self.blocks_judged, self.blocks_kept_order
        if judged == 0 or kept * 2 <= judged:
            return None
        if self.generated_kept_order * 2 > kept:
            tips = (
                "--method icr or --method first (they read attention or logits, not generated "
                "text), or a model that follows the ranking prompt (--model)"
            )
        else:
            tips = "a larger model (--model), --calibrate reference, or another --method"
        return (
            f"WARNING: {kept} of {judged} blocks kept their input order, so the output is "
            f"mostly the first stage's order; try {tips}. --trace FILE shows every answer."
        )

    def bias(self) -> BiasReport:
        return self.bias_tally.report()

    def format(self) -> str:
        d = self.as_dict()
        return (
            f"{d['queries']} queries, {d['calls']} model calls ({d['cached_calls']} cached), "
            f"{d['prompt_tokens']} prompt + {d['completion_tokens']} completion tokens; "
            f"repaired outputs: {d['repaired_outputs']} of {d['calls'] + d['cached_calls']} "
            f"(malformed {d['malformed_outputs']}, prompt echoes {d['echoed_prompt']}, "
            f"cut at the answer budget {d['truncated_outputs']}, "
            f"missing ids {d['missing_ids']}, duplicates {d['duplicate_ids']}, "
            f"out of range {d['out_of_range_ids']}); failed calls: {d['failed_calls']}; "
            f"{self.timing()}; queries off plan: {d['queries_off_plan']}\n"
            f"{self._reasoning_line()}{self.bias().format()}"
        )

    def _reasoning_line(self) -> str:
        """Reasoning tokens and forced answers, and a warning when most calls were cut inside
        their reasoning without one (a reasoning_budget too small for the model)."""
        if not (self.reasoning_tokens or self.cut_in_reasoning):
            return ""
        answer = self.completion_tokens - self.reasoning_tokens
        line = (
            f"reasoning: {self.reasoning_tokens} reasoning + {answer} answer tokens; "
            f"forced answers: {self.forced_answers}; "
            f"cut inside reasoning: {self.cut_in_reasoning}\n"
        )
        unanswered = self.cut_in_reasoning - self.forced_answers
        total = self.calls + self.cached_calls
        if total and unanswered * 2 > total:
            line += (
                f"warning: {unanswered} of {total} calls stopped inside their reasoning and "
                "kept their input order; raise -O reasoning_budget=N (or leave force_answer on)\n"
            )
        return line
