"""A/B comparison of reranking pipelines on the same queries, with paired statistics.

Every system reranks the same judged queries (optionally with the candidate order shuffled by a
seed, over several seeds to expose position bias). Per metric and per system against the first
(the baseline): means, mean difference, paired t-test p-value, seeded bootstrap 95% CI of the
mean difference, and win/tie/loss counts over queries. Per system: model calls, tokens, latency
(mean, p95) and repaired outputs.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from listrank.errors import InputError
from listrank.evaluation.metrics import Qrels, mean, per_query, run_from_rankings
from listrank.evaluation.summary import RunSummary
from listrank.pipeline.reranker import Reranker
from listrank.pipeline.scheduler import Outcome
from listrank.runs.io import Request
from listrank.types import Candidate, Query, RankedCandidate, Ranking

TIE_EPS = 1e-9
BOOTSTRAP_RESAMPLES = 10_000

FIRST_STAGE = "first-stage"


class FirstStage:
    """The retriever's own order as a system: the input order, no model. Under shuffle seeds it
    still sees the unshuffled input (shuffling is a test of the rerankers, not of it)."""

    name = FIRST_STAGE

    def rerank(self, query: Query, candidates: Sequence[Candidate]) -> Ranking:
        n = len(candidates)
        ranked = tuple(RankedCandidate(c, float(n - i)) for i, c in enumerate(candidates))
        return Ranking(query=query, ranked=ranked)

    def rerank_stream(
        self, pairs: Iterable[tuple[Query, Sequence[Candidate]]], **_: Any
    ) -> Iterator[Outcome]:
        """The scheduler's interface, in input order (nothing to schedule: no model)."""
        for i, (query, candidates) in enumerate(pairs):
            yield Outcome(i, (query, candidates), self.rerank(query, candidates))


SystemSpec = Reranker | FirstStage | Callable[[], Reranker]
"""A ready Reranker, or a factory called once (so systems need not all sit in memory)."""


def shuffled(candidates: Sequence[Candidate], seed: int, qid: str) -> list[Candidate]:
    """The candidates in a random order fixed by (seed, qid): identical for every system."""
    out = list(candidates)
    random.Random(f"{seed}\x00{qid}").shuffle(out)
    return out


@dataclass(frozen=True)
class Comparison:
    metric: str
    baseline: str
    system: str
    queries: int
    mean_baseline: float
    mean_system: float
    mean_diff: float
    """system − baseline."""
    p_value: float | None
    """Paired t-test, two-sided; None when undefined (constant non-zero differences)."""
    ci_low: float
    ci_high: float
    wins: int
    ties: int
    losses: int
    diffs: dict[str, float] = field(default_factory=dict)


def paired_comparison(
    metric: str,
    baseline: tuple[str, Mapping[str, float]],
    system: tuple[str, Mapping[str, float]],
    *,
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> Comparison:
    """Paired statistics over the queries both systems have values for."""
    import numpy as np  # here: the CLI imports this module for its parser
    from scipy import stats

    (a_name, a), (b_name, b) = baseline, system
    qids = sorted(set(a) & set(b))
    if not qids:
        raise InputError(f"{metric}: no query has values for both {a_name} and {b_name}")
    va = np.array([a[q] for q in qids], dtype=float)
    vb = np.array([b[q] for q in qids], dtype=float)
    d = vb - va
    if np.allclose(d, d[0], atol=TIE_EPS):  # the t statistic is 0/0: decide by hand
        p: float | None = 1.0 if abs(d[0]) <= TIE_EPS else None
    else:
        p = float(stats.ttest_rel(vb, va).pvalue)
    rng = np.random.default_rng(seed)
    boot = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return Comparison(
        metric=metric,
        baseline=a_name,
        system=b_name,
        queries=len(qids),
        mean_baseline=float(va.mean()),
        mean_system=float(vb.mean()),
        mean_diff=float(d.mean()),
        p_value=p,
        ci_low=float(low),
        ci_high=float(high),
        wins=int((d > TIE_EPS).sum()),
        ties=int((np.abs(d) <= TIE_EPS).sum()),
        losses=int((d < -TIE_EPS).sum()),
        diffs={q: float(x) for q, x in zip(qids, d, strict=True)},
    )


@dataclass(frozen=True)
class SystemStats:
    name: str
    queries: int
    model_calls: int
    cached_calls: int
    prompt_tokens: int
    completion_tokens: int
    latency_mean_s: float
    latency_p95_s: float
    repaired_outputs: int
    malformed_outputs: int
    wall_s: float = 0.0
    """Wall time of the system's queries (model loading left out); concurrent queries overlap,
    so this is less than queries x mean latency."""
    queries_per_s: float = 0.0
    warning: str | None = None
    """RunSummary.order_warning: most blocks kept their input order."""


def system_stats(name: str, summary: RunSummary, latencies_s: Sequence[float]) -> SystemStats:
    import numpy as np

    lat = np.array(latencies_s or [0.0])
    return SystemStats(
        name=name,
        queries=summary.queries,
        model_calls=summary.calls,
        cached_calls=summary.cached_calls,
        prompt_tokens=summary.prompt_tokens,
        completion_tokens=summary.completion_tokens,
        latency_mean_s=float(lat.mean()),
        latency_p95_s=float(np.percentile(lat, 95)),
        repaired_outputs=summary.repaired,
        malformed_outputs=summary.malformed,
        wall_s=summary.wall_s,
        queries_per_s=summary.queries / summary.wall_s if summary.wall_s > 0 else 0.0,
        warning=summary.order_warning(),
    )


@dataclass(frozen=True)
class Spread:
    """How a mean moves across shuffle seeds."""

    mean: float
    std: float
    min: float
    max: float


def spread(values: Sequence[float]) -> Spread:
    import numpy as np

    arr = np.array(values, dtype=float)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return Spread(float(arr.mean()), std, float(arr.min()), float(arr.max()))


@dataclass
class ABReport:
    systems: list[str]
    metrics: list[str]
    seeds: list[int | None]
    """Shuffle seed of each repetition; None = the input order."""
    queries: int
    comparisons: list[Comparison]
    stats: list[SystemStats]
    seed_means: dict[str, dict[str, list[float]]]
    """system -> metric -> mean per seed."""
    rankings: dict[str, list[list[Ranking]]] = field(default_factory=dict, repr=False)
    """system -> per seed -> rankings (kept for writing runs; not in the JSON)."""

    def spreads(self) -> dict[str, dict[str, Spread]]:
        return {
            s: {m: spread(v) for m, v in per_metric.items()}
            for s, per_metric in self.seed_means.items()
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "systems": self.systems,
            "baseline": self.systems[0],
            "metrics": self.metrics,
            "seeds": self.seeds,
            "queries": self.queries,
            "comparisons": [asdict(c) for c in self.comparisons],
            "systems_stats": [asdict(s) for s in self.stats],
            "seed_means": self.seed_means,
            "seed_spread": {
                s: {m: asdict(sp) for m, sp in per.items()} for s, per in self.spreads().items()
            },
        }


def run_ab(
    systems: Sequence[tuple[str, SystemSpec]],
    requests: Sequence[Request],
    qrels: Qrels,
    metrics: Sequence[str] = ("nDCG@10",),
    *,
    shuffle_seed: int | None = None,
    seeds: int = 1,
    bootstrap_seed: int = 0,
    progress: bool = True,
    max_in_flight: int | None = None,
) -> ABReport:
    """Run every system on the judged queries and compare each with the first (each system
    reranks ``max_in_flight`` queries at once; default: what suits its backend)."""
    import numpy as np
    from tqdm import tqdm

    if len(systems) < 2:
        raise InputError("an A/B comparison needs at least two systems")
    if seeds < 1:
        raise InputError(f"seeds must be >= 1; got {seeds}")
    names = [n for n, _ in systems]
    if len(set(names)) != len(names):
        raise InputError(f"system names must differ; got {names}")
    judged = [r for r in requests if r.query.qid in qrels]
    if not judged:
        raise InputError("no input query has qrels: nothing to compare")
    seed_list: list[int | None] = (
        [None]
        if shuffle_seed is None and seeds == 1
        else [(shuffle_seed or 0) + i for i in range(seeds)]
    )
    bar = tqdm(
        total=len(systems) * len(seed_list) * len(judged),
        desc="queries",
        unit="q",
        disable=not progress,
    )
    values: dict[str, dict[str, dict[str, float]]] = {}  # system -> metric -> qid -> seed-mean
    seed_means: dict[str, dict[str, list[float]]] = {}
    stats: list[SystemStats] = []
    all_rankings: dict[str, list[list[Ranking]]] = {}
    for name, spec in systems:
        bar.set_postfix_str(name)
        reranker = spec if isinstance(spec, Reranker | FirstStage) else spec()
        summary = RunSummary()
        started = time.perf_counter()
        latencies: list[float] = []  # the p95 needs each one; the summary keeps only sums
        per_seed: list[dict[str, dict[str, float]]] = []
        all_rankings[name] = []
        for seed in seed_list:
            pairs = (
                (
                    req.query,
                    req.candidates
                    if seed is None or isinstance(reranker, FirstStage)
                    else shuffled(req.candidates, seed, req.query.qid),
                )
                for req in judged
            )
            rankings: list[Ranking] = []
            for outcome in reranker.rerank_stream(pairs, max_in_flight=max_in_flight, ordered=True):
                if outcome.error is not None:
                    raise outcome.error
                assert outcome.ranking is not None
                summary.add(outcome.ranking)
                latencies.append(outcome.ranking.trace.latency_s)
                rankings.append(outcome.ranking)
                bar.update(1)
            all_rankings[name].append(rankings)
            per_seed.append(per_query(run_from_rankings(rankings), qrels, metrics))
        summary.wall_s = time.perf_counter() - started
        del reranker
        stats.append(system_stats(name, summary, latencies))
        metric_names = list(per_seed[0])
        seed_means[name] = {m: [mean(ps[m]) for ps in per_seed] for m in metric_names}
        values[name] = {
            m: {q: float(np.mean([ps[m][q] for ps in per_seed])) for q in per_seed[0][m]}
            for m in metric_names
        }
    bar.close()
    metric_names = list(values[names[0]])
    comparisons = [
        paired_comparison(
            m, (names[0], values[names[0]][m]), (n, values[n][m]), seed=bootstrap_seed
        )
        for m in metric_names
        for n in names[1:]
    ]
    return ABReport(
        systems=names,
        metrics=metric_names,
        seeds=seed_list,
        queries=len(judged),
        comparisons=comparisons,
        stats=stats,
        seed_means=seed_means,
        rankings=all_rankings,
    )


def _p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def format_report(report: ABReport) -> str:
    seeds = ", ".join("input order" if s is None else str(s) for s in report.seeds)
    lines = [
        f"{report.queries} judged queries; baseline: {report.systems[0]}; shuffle seeds: {seeds}",
    ]
    if FIRST_STAGE in report.systems:
        lines.append(f"{FIRST_STAGE}: the input order (built in; --no-first-stage leaves it out)")
    lines += [
        "",
        f"{'metric':<10} {'system':<20} {'baseline':>9} {'system':>9} {'diff':>8} "
        f"{'95% CI':>19} {'p':>8} {'W/T/L':>10}",
    ]
    for c in report.comparisons:
        ci = f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}]"
        lines.append(
            f"{c.metric:<10} {c.system[:20]:<20} {c.mean_baseline:>9.4f} {c.mean_system:>9.4f} "
            f"{c.mean_diff:>+8.4f} {ci:>19} {_p(c.p_value):>8} "
            f"{f'{c.wins}/{c.ties}/{c.losses}':>10}"
        )
    lines += [
        "",
        f"{'system':<20} {'calls':>6} {'cached':>6} {'prompt tok':>10} {'compl tok':>9} "
        f"{'wall s':>8} {'queries/s':>9} {'lat mean s':>10} {'lat p95 s':>9} {'repaired':>8}",
    ]
    for s in report.stats:
        lines.append(
            f"{s.name[:20]:<20} {s.model_calls:>6} {s.cached_calls:>6} {s.prompt_tokens:>10} "
            f"{s.completion_tokens:>9} {s.wall_s:>8.1f} {s.queries_per_s:>9.3g} "
            f"{s.latency_mean_s:>10.3f} {s.latency_p95_s:>9.3f} {s.repaired_outputs:>8}"
        )
    lines.append(
        "wall s: each system's queries end to end (model loading left out); lat: one query "
        "from its first call to its last (queries in flight together overlap)"
    )
    lines += [f"{s.name}: {s.warning}" for s in report.stats if s.warning]
    if len(report.seeds) > 1:
        lines += ["", "spread of the mean over shuffle seeds (mean ± std [min, max]):"]
        for system, per in report.spreads().items():
            for m, sp in per.items():
                lines.append(
                    f"  {system[:20]:<20} {m:<10} {sp.mean:.4f} ± {sp.std:.4f} "
                    f"[{sp.min:.4f}, {sp.max:.4f}]"
                )
    return "\n".join(lines)


MAX_LABELLED_QUERIES = 60
"""Beyond this many queries the bars stay but the query-id labels would overlap: dropped."""


def plot_differences(report: ABReport, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    fig = differences_figure(report)
    fig.savefig(str(path), dpi=110)
    plt.close(fig)


def _shared_limits(panels: Sequence[Comparison]) -> dict[str, tuple[float, float]]:
    """One y-range per metric, over all its panels (bars, CI and zero), so a panel whose bars
    look tall really differs more than one whose bars look short."""
    limits: dict[str, tuple[float, float]] = {}
    for c in panels:
        values = [*c.diffs.values(), c.ci_low, c.ci_high, 0.0]
        lo, hi = limits.get(c.metric, (0.0, 0.0))
        limits[c.metric] = (min(lo, *values), max(hi, *values))
    out = {}
    for metric, (lo, hi) in limits.items():
        pad = 0.08 * ((hi - lo) or 1.0)
        out[metric] = (lo - pad, hi + pad)
    return out


def differences_figure(report: ABReport) -> Any:
    """One panel per metric and system: per-query differences to the baseline as bars sorted
    by size and labelled with query ids, the mean difference and its bootstrap 95% CI marked;
    each title gives the mean, CI, paired t-test p and wins/ties/losses. Panels of one metric
    share their y-axis; one legend sits above the panels, clear of every bar."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    panels = list(report.comparisons)
    limits = _shared_limits(panels)
    n_max = max((len(c.diffs) for c in panels), default=1)
    width = min(16.0, max(7.0, 0.32 * n_max + 2.5))
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(width, 3.3 * len(panels) + 0.7), squeeze=False
    )
    for ax, c in zip(axes[:, 0], panels, strict=True):
        items = sorted(c.diffs.items(), key=lambda kv: (-kv[1], kv[0]))
        qids = [q for q, _ in items]
        values = [v for _, v in items]
        colours = [
            "tab:green" if v > TIE_EPS else "tab:red" if v < -TIE_EPS else "tab:grey"
            for v in values
        ]
        x = list(range(len(values)))
        ax.bar(x, values, color=colours, width=0.8, zorder=2)
        ties = [i for i, v in enumerate(values) if abs(v) <= TIE_EPS]
        # a tie is a bar of height 0: a marker keeps it visible
        ax.plot(ties, [0.0] * len(ties), "o", color="tab:grey", ms=4, zorder=3)
        ax.axhline(0.0, color="black", lw=0.8, zorder=1)
        ax.axhspan(c.ci_low, c.ci_high, color="tab:blue", alpha=0.15, zorder=0)
        ax.axhline(c.mean_diff, color="tab:blue", lw=1.5, zorder=4)
        if len(qids) <= MAX_LABELLED_QUERIES:
            ax.set_xticks(x)  # one integer position per query: no fractional ticks
            ax.set_xticklabels(qids, rotation=60, ha="right", fontsize="small")
            ax.set_xlabel("query id (sorted by difference)", fontsize="small")
        else:  # no tick per query: a thousand unlabelled ticks cost half a minute to draw
            ax.set_xticks([])
            ax.set_xlabel(f"{len(qids)} queries (sorted by difference)", fontsize="small")
        ax.set_xlim(-0.6, len(values) - 0.4)
        ax.set_ylim(*limits[c.metric])
        ax.set_ylabel(f"Δ {c.metric}")
        ax.grid(axis="y", color="0.9", zorder=0)
        ax.set_title(
            f"{c.system} vs {c.baseline} ({c.metric}): mean Δ {c.mean_diff:+.3f} "
            f"[{c.ci_low:+.3f}, {c.ci_high:+.3f}], p = {_p(c.p_value)}, "
            f"W/T/L {c.wins}/{c.ties}/{c.losses}",
            fontsize="medium",
        )
    handles = [
        Patch(color="tab:green", label="query better than baseline"),
        Patch(color="tab:red", label="worse"),
        Line2D([], [], marker="o", ls="", color="tab:grey", label="tie"),
        Line2D([], [], color="tab:blue", lw=1.5, label="mean Δ"),
        Patch(color="tab:blue", alpha=0.15, label="bootstrap 95% CI"),
    ]
    top = 1.0 - 0.45 / fig.get_figheight()
    fig.legend(
        handles=handles,
        loc="upper center",
        ncol=5,
        fontsize="small",
        frameon=False,
        bbox_to_anchor=(0.5, 1.0),
    )
    fig.tight_layout(rect=(0.0, 0.0, 1.0, top))
    return fig
