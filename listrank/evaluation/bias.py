"""How strongly a judge's output follows input position, measured from the trace.

Small models often ignore the passages: they keep the input order, always pick the first slot
(FIRST's "A"), or the last one (ICR, nearest the query). A reranker that quietly returns a
position-driven order is worse than none, so every run reports this.

Only blocks whose input order carries no earlier judgement are measured: stage 0 of each query
(under a sliding window, its first window; elsewhere, the first round of blocks). Later blocks
are built from what the judge already said (a back-to-front sliding window puts the previous
window's winner in slot 11; a tournament seeds winners first), so a perfect judge would seem to
"prefer" those slots. ``scope="all"`` measures every block.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from listrank.types import CallRecord

MIN_BLOCKS = 5
"""Below this many judged blocks the report gives numbers but no verdict."""
CONCENTRATION_LIMIT = 0.6
"""A single slot winning this share of blocks (chance is 1/block size) is position-driven."""
CORRELATION_LIMIT = 0.8
"""Mean Spearman ρ between input and output position above this keeps the input order."""
UNANSWERED_LIMIT = 0.5
"""More than this share of blocks with no usable answer means the order is the input order."""
SCOPES = ("first-stage", "all")


def spearman_identity(order: tuple[int, ...]) -> float:
    """Spearman ρ between input slots and output positions for a permutation (no ties)."""
    n = len(order)
    if n < 2:
        return 1.0
    d2 = sum((pos - slot) ** 2 for pos, slot in enumerate(order))
    return 1.0 - 6.0 * d2 / (n * (n * n - 1))


@dataclass(frozen=True)
class BiasReport:
    blocks: int
    """Blocks of 2 or more judged (failed calls excluded)."""
    answered: int
    """Blocks where the model itself named at least one candidate (not malformed)."""
    top_slot_counts: dict[int, int] = field(default_factory=dict)
    """Input slot (0 = first shown) of the top pick, over answered blocks."""
    top_first_share: float = 0.0
    top_last_share: float = 0.0
    chance_top_share: float = 0.0
    """The share one slot would get if picks ignored position (mean 1/block size)."""
    max_slot_share: float = 0.0
    mean_spearman: float = 0.0
    """Mean ρ(input slot, output position) over answered blocks; 1.0 = input order kept."""
    reasons: tuple[str, ...] = ()
    scope: str = "first-stage"
    """Which blocks were measured: "first-stage" (stage 0 of each query) or "all"."""
    skipped: int = 0
    """Blocks left out because their input order came from earlier judgements."""

    @property
    def position_driven(self) -> bool:
        return bool(self.reasons)

    def format(self) -> str:
        where = (
            f"stage-0 blocks only, {self.skipped} later blocks left out"
            if self.scope == "first-stage"
            else "all blocks"
        )
        if not self.blocks:
            return f"bias: no blocks judged ({where})"
        top = sorted(self.top_slot_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        slots = ", ".join(f"slot {s + 1}: {c}" for s, c in top) or "none"
        if not self.answered:  # shares of zero picks would read as 0%, as if measured
            text = (
                f"bias: 0/{self.blocks} blocks answered: no top picks to measure (every block "
                "kept its input order)"
            )
            if self.reasons:
                text += "\nWARNING: the judge looks position-driven: " + "; ".join(self.reasons)
            return text
        text = (
            f"bias ({where}): {self.answered}/{self.blocks} blocks answered; top pick first slot "
            f"{self.top_first_share:.0%}, last slot {self.top_last_share:.0%} (chance "
            f"{self.chance_top_share:.0%}); most common top slots: {slots}; "
            f"ρ(input, output) {self.mean_spearman:.2f}"
        )
        if self.reasons:
            text += "\nWARNING: the judge looks position-driven: " + "; ".join(self.reasons)
        return text


@dataclass
class BiasTally:
    """Running sums of the bias report over the blocks seen so far: what the report needs and
    nothing per call, so a long run's memory does not grow with its queries. Tallies merge
    (workers summarise their own queries) and travel as JSON."""

    scope: str = "first-stage"
    blocks: int = 0
    answered: int = 0
    skipped: int = 0
    first: int = 0
    """Answered blocks whose top pick was the first slot."""
    last: int = 0
    chance: float = 0.0
    """Sum of 1/block size over answered blocks."""
    rho: float = 0.0
    """Sum of ρ(input slot, output position) over answered blocks."""
    counts: Counter[int] = field(default_factory=Counter)
    """Input slot of the top pick -> answered blocks (bounded by the largest block size)."""

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}; got {self.scope!r}")

    def add(self, call: CallRecord) -> None:
        n = len(call.docids)
        if n < 2 or call.order is None or call.error is not None:
            return
        if self.scope == "first-stage" and call.stage != 0:
            self.skipped += 1
            return
        self.blocks += 1
        if call.repair.malformed:
            return
        self.answered += 1
        top = call.order[0]
        self.counts[top] += 1
        self.first += top == 0
        self.last += top == n - 1
        self.chance += 1.0 / n
        self.rho += spearman_identity(call.order)

    def merge(self, other: BiasTally) -> None:
        if other.scope != self.scope:
            raise ValueError(f"cannot merge a {other.scope!r} tally into a {self.scope!r} one")
        self.blocks += other.blocks
        self.answered += other.answered
        self.skipped += other.skipped
        self.first += other.first
        self.last += other.last
        self.chance += other.chance
        self.rho += other.rho
        self.counts.update(other.counts)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        # JSON keys are text; first-seen order is kept (most_common breaks ties by it)
        out["counts"] = {str(k): v for k, v in self.counts.items()}
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BiasTally:
        fields = {f.name for f in dataclasses.fields(cls)} - {"counts"}
        tally = cls(**{k: v for k, v in data.items() if k in fields})
        tally.counts = Counter({int(k): int(v) for k, v in data.get("counts", {}).items()})
        return tally

    def report(self) -> BiasReport:
        blocks, answered, counts, scope = self.blocks, self.answered, self.counts, self.scope
        if not answered:
            verdict = blocks >= MIN_BLOCKS
            none = ("no block was answered: every order is the input order",) if verdict else ()
            return BiasReport(blocks, 0, reasons=none, scope=scope, skipped=self.skipped)
        max_share = max(counts.values()) / answered
        report = BiasReport(
            blocks=blocks,
            answered=answered,
            top_slot_counts=dict(counts),
            top_first_share=self.first / answered,
            top_last_share=self.last / answered,
            chance_top_share=self.chance / answered,
            max_slot_share=max_share,
            mean_spearman=self.rho / answered,
            scope=scope,
            skipped=self.skipped,
        )
        reasons: list[str] = []
        if blocks >= MIN_BLOCKS:
            if 1 - answered / blocks > UNANSWERED_LIMIT:
                reasons.append(
                    f"{blocks - answered} of {blocks} blocks had no usable answer "
                    "(kept input order)"
                )
            if answered >= MIN_BLOCKS and max_share >= CONCENTRATION_LIMIT:
                slot = counts.most_common(1)[0][0]
                reasons.append(
                    f"slot {slot + 1} was the top pick in {max_share:.0%} of answered blocks "
                    f"(chance {report.chance_top_share:.0%})"
                )
            if answered >= MIN_BLOCKS and report.mean_spearman >= CORRELATION_LIMIT:
                reasons.append(f"output order follows input order (ρ = {report.mean_spearman:.2f})")
        return dataclasses.replace(report, reasons=tuple(reasons))


def bias_report(calls: Iterable[CallRecord], *, scope: str = "first-stage") -> BiasReport:
    """Position preference over judged blocks; ``scope`` says which (module docstring)."""
    tally = BiasTally(scope)
    for call in calls:
        tally.add(call)
    return tally.report()
