"""Strategies against a noisy oracle: top-10 recall, nDCG@10 vs the truth, calls and depth.

No model: each query is N=100 items with hidden grades; the judge orders any block by the
grades with seeded noise (Gaussian noise on the grades, and random swaps of adjacent items).
Run: ``python benchmarks/strategies.py [--queries 30] [--n 100]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import ir_measures
from ir_measures import Qrel, ScoredDoc, nDCG

from listrank import registry
from listrank.strategies.base import Strategy
from listrank.strategies.oracle import OracleJudge

CONFIGS: list[tuple[str, str, dict[str, object]]] = [
    ("sliding w20 s10", "sliding", {}),
    ("tournament m5 r2", "tournament", {}),
    ("tourrank R1", "tourrank", {"tournaments": 1}),
    ("tourrank R2", "tourrank", {"tournaments": 2}),
    ("tourrank R2 tiebreak input", "tourrank", {"tournaments": 2, "tiebreak": "input"}),
    ("jointrank k20 r4 pagerank", "jointrank", {}),
    ("jointrank k20 r4 pagerank_counts", "jointrank", {"aggregator": "pagerank_counts"}),
    ("jointrank k20 r4 winrate", "jointrank", {"aggregator": "winrate"}),
    ("jointrank k20 r4 average_winrate", "jointrank", {"aggregator": "average_winrate"}),
    ("jointrank k20 r4 bradley_terry", "jointrank", {"aggregator": "bradley_terry"}),
    ("jointrank k20 r4 elo", "jointrank", {"aggregator": "elo"}),
    ("jointrank k20 r4 rank_centrality", "jointrank", {"aggregator": "rank_centrality"}),
    ("jointrank k10 latin-square", "jointrank", {"block_size": 10, "design": "latin-square"}),
    ("jointrank k20 r4 random", "jointrank", {"design": "random"}),
    ("setwise c3", "setwise", {}),
    ("setwise c3 sequential", "setwise", {"parallel": False}),
    ("tdpart w20 p10", "tdpart", {}),
    ("tdpart w20 p10 budget 20", "tdpart", {"budget": 20}),
    ("adaptive w20 k10 3 stages", "adaptive", {}),
    ("adaptive w20 k10 budget 6", "adaptive", {"budget": 6}),
    ("adaptive w20 k10 4 stages", "adaptive", {"stages": 4}),
    ("adaptive w20 k10 final=posterior", "adaptive", {"final": "posterior"}),
    ("adaptive w20 k10 2 blocks/stage", "adaptive", {"max_blocks_per_stage": 2}),
]
NOISE: list[tuple[str, dict[str, float]]] = [
    ("exact", {}),
    ("swap 0.1", {"swap_prob": 0.1}),
    ("grade σ 0.05", {"grade_noise": 0.05}),
    ("grade σ 0.15", {"grade_noise": 0.15}),
    # grades are uniform on [0, 1]: σ 0.2 here is σ 0.6 on a 0–3 grade scale
    ("grade σ 0.2", {"grade_noise": 0.2}),
]


@dataclass
class Row:
    label: str
    noise: str
    recall: float
    ndcg: float
    calls: float
    depth: float
    max_depth: int


def relevance(rank: int) -> int:
    """Graded qrels from the true rank: 3 for the top 10, 2 for the next 10, 1 to 40."""
    return 3 if rank < 10 else 2 if rank < 20 else 1 if rank < 40 else 0


def run(
    label: str, strategy: Strategy, noise_label: str, noise: dict[str, float], n: int, queries: int
) -> Row:
    recalls, calls, depths = [], [], []
    qrels, run_docs = [], []
    for q in range(queries):
        rng = random.Random(q)
        grades = [rng.random() for _ in range(n)]
        truth = sorted(range(n), key=lambda i: -grades[i])
        # the first stage is a noisy version of the truth, as a retriever's ranking would be
        first_stage = sorted(range(n), key=lambda i: -(grades[i] + rng.gauss(0, 0.3)))
        judge = OracleJudge(
            [grades[i] for i in first_stage],
            swap_prob=noise.get("swap_prob", 0.0),
            grade_noise=noise.get("grade_noise", 0.0),
            seed=q,
        )
        order = [first_stage[i] for i in strategy.rank(n, judge).order]
        recalls.append(len(set(order[:10]) & set(truth[:10])) / 10)
        calls.append(judge.calls)
        depths.append(judge.depth)
        qid = str(q)
        qrels += [Qrel(qid, str(d), relevance(r)) for r, d in enumerate(truth)]
        run_docs += [ScoredDoc(qid, str(d), float(n - r)) for r, d in enumerate(order)]
    ndcg = ir_measures.calc_aggregate([nDCG @ 10], qrels, run_docs)[nDCG @ 10]
    return Row(
        label,
        noise_label,
        statistics.mean(recalls),
        float(ndcg),
        statistics.mean(calls),
        statistics.mean(depths),
        max(depths),
    )


def table(rows: Sequence[Row]) -> str:
    head = (
        f"{'strategy':34s} {'noise':13s} {'R@10':>6s} {'nDCG@10':>8s} "
        f"{'calls':>7s} {'depth':>6s} {'max':>4s}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.label:34s} {r.noise:13s} {r.recall:6.3f} {r.ndcg:8.3f} "
            f"{r.calls:7.1f} {r.depth:6.1f} {r.max_depth:4d}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--only", nargs="*", default=(), help="strategy names to run")
    args = parser.parse_args(argv)
    configs = [c for c in CONFIGS if not args.only or c[1] in args.only]
    rows = []
    for noise_label, noise in NOISE:
        for label, name, options in configs:
            strategy = registry.get("strategy", name).load()(**options)
            rows.append(run(label, strategy, noise_label, noise, args.n, args.queries))
        print(table(rows[-len(configs) :]), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
