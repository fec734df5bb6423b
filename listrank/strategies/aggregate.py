"""Turn pairwise comparisons into one ranking (JointRank's aggregation step).

A comparison is ``(winner, loser)`` over items ``0..n-1``. Each aggregator is a small pure
function ``(n, comparisons) -> scores`` (higher is better; only compared items' scores mean
anything). ``rank_items`` orders by score and puts never-compared items last, in input order;
ties keep input order too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from listrank.errors import ConfigError

Comparison = tuple[int, int]
"""(winner, loser)"""
Aggregator = Callable[[int, Sequence[Comparison]], list[float]]

_TIE_DIGITS = 9
"""Scores equal to this many digits are ties (iterative solvers differ in the last bits)."""


def comparisons_from_order(order: Sequence[int], filled: Iterable[int] = ()) -> list[Comparison]:
    """Every pair of an ordered block: earlier beats later. Items only placed by repair
    (``filled``) never win: the model did not rank them."""
    skip = set(filled)
    return [(a, b) for i, a in enumerate(order) if a not in skip for b in order[i + 1 :]]


def _check(n: int, comparisons: Sequence[Comparison]) -> None:
    for w, lo in comparisons:
        if not (0 <= w < n and 0 <= lo < n) or w == lo:
            raise ConfigError(f"bad comparison {(w, lo)} for {n} items")


def winrate(n: int, comparisons: Sequence[Comparison]) -> list[float]:
    """Total wins / total comparisons: every comparison weighs the same."""
    _check(n, comparisons)
    wins, seen = Counter[int](), Counter[int]()
    for w, lo in comparisons:
        wins[w] += 1
        seen[w] += 1
        seen[lo] += 1
    return [wins[i] / seen[i] if seen[i] else 0.0 for i in range(n)]


def average_winrate(n: int, comparisons: Sequence[Comparison]) -> list[float]:
    """The mean over an item's opponents of its win rate against each (evalica's
    ``average_win_rate``, the reference's "wr"): one game against one opponent weighs as much
    as ten against another."""
    _check(n, comparisons)
    counts = Counter(comparisons)
    rates: dict[int, list[float]] = {}
    for a, b in sorted({(min(p), max(p)) for p in counts}):
        games = counts[a, b] + counts[b, a]
        rates.setdefault(a, []).append(counts[a, b] / games)
        rates.setdefault(b, []).append(counts[b, a] / games)
    return [sum(rates[i]) / len(rates[i]) if i in rates else 0.0 for i in range(n)]


def _pagerank(
    n: int, comparisons: Sequence[Comparison], damping: float, *, net: bool
) -> list[float]:
    """PageRank of the graph loser → winner, solved exactly.

    A node without out-edges links to every node (networkx's and evalica's convention). Then
    π = d·(Pᵀπ + D/m) + (1 − d)/m with P the walk on out-edges and D the dangling nodes' mass,
    so (I − d·Pᵀ)·π is a constant vector: π is (I − d·Pᵀ)⁻¹·1, normalised. Solving that sparse
    system leaves errors near machine precision instead of the ~1e-7 that iterative
    tolerances leave, which is enough to swap near-ties."""
    _check(n, comparisons)
    nodes = sorted({i for c in comparisons for i in c})
    if not nodes:
        return [0.0] * n
    at = {v: i for i, v in enumerate(nodes)}
    counts = Counter(comparisons)
    src, dst, weight = [], [], []
    for (w, lo), count in counts.items():
        value = count - counts.get((lo, w), 0) if net else count
        if value > 0:
            src.append(at[lo])
            dst.append(at[w])
            weight.append(float(value))
    m = len(nodes)
    # imported here: scipy costs ~0.4 s of start-up, and only an aggregation needs it
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    edges = sparse.csr_matrix((weight, (src, dst)), shape=(m, m))
    out = np.asarray(edges.sum(axis=1)).ravel()
    walk = sparse.diags(np.divide(1.0, out, out=np.zeros(m), where=out > 0)) @ edges
    x = spsolve(sparse.csc_matrix(sparse.identity(m) - damping * walk.T), np.ones(m))
    pi = np.atleast_1d(x) / np.sum(x)
    scores = [0.0] * n
    for node, value in zip(nodes, pi, strict=True):
        scores[node] = float(value)
    return scores


def pagerank(n: int, comparisons: Sequence[Comparison], *, damping: float = 0.85) -> list[float]:
    """PageRank on the graph loser → winner, one edge per pair weighted by the net wins
    (listrank's default; ``pagerank_counts`` is the reference's definition).

    Net, not raw counts: PageRank normalises each node's out-edges, so with raw counts an item
    that lost 2 of 3 games to its only opponent would send all its mass to it either way."""
    return _pagerank(n, comparisons, damping, net=True)


def pagerank_counts(
    n: int, comparisons: Sequence[Comparison], *, damping: float = 0.85
) -> list[float]:
    """PageRank on raw win counts in both directions: an edge loser → winner weighted by how
    often the winner won (evalica's ``pagerank``, which the JointRank reference uses; there it
    is iterated to a tolerance of 1e-6, here it is solved exactly)."""
    return _pagerank(n, comparisons, damping, net=False)


def bradley_terry(
    n: int,
    comparisons: Sequence[Comparison],
    *,
    prior: float = 0.1,
    iterations: int = 500,
    tol: float = 1e-10,
) -> list[float]:
    """Log-strengths by Hunter's MM iterations. ``prior`` adds that many virtual wins and losses
    against a fixed item of strength 1, so unbeaten or winless items stay finite."""
    _check(n, comparisons)
    wins = np.zeros(n)
    games = np.zeros((n, n))
    for w, lo in comparisons:
        wins[w] += 1
        games[w, lo] += 1
        games[lo, w] += 1
    p = np.ones(n)
    for _ in range(iterations):
        denom = (games / (p[:, None] + p[None, :])).sum(axis=1) + 2 * prior / (p + 1.0)
        new = (wins + prior) / denom
        if np.max(np.abs(new - p)) < tol:
            p = new
            break
        p = new
    return [float(x) for x in np.log(p)]


def elo(
    n: int, comparisons: Sequence[Comparison], *, k: float = 32.0, passes: int = 5
) -> list[float]:
    """Elo ratings from 1000, comparisons replayed ``passes`` times in the given order with K
    shrinking each pass (so the last blocks do not dominate)."""
    _check(n, comparisons)
    rating = [1000.0] * n
    for p in range(passes):
        step = k / (p + 1)
        for w, lo in comparisons:
            expected = 1.0 / (1.0 + 10 ** ((rating[lo] - rating[w]) / 400))
            rating[w] += step * (1 - expected)
            rating[lo] -= step * (1 - expected)
    return rating


def rank_centrality(
    n: int, comparisons: Sequence[Comparison], *, reg: float = 1.0, iterations: int = 10_000
) -> list[float]:
    """Stationary distribution of the random walk that moves from i to j in proportion to how
    often j beat i (Negahban, Oh & Shah); ``reg`` pseudo-wins each way keep it irreducible."""
    _check(n, comparisons)
    beat = np.zeros((n, n))  # beat[i, j] = times j beat i
    for w, lo in comparisons:
        beat[lo, w] += 1
    games = beat + beat.T
    played = games > 0
    if not played.any():
        return [0.0] * n
    frac = np.where(played, (beat + reg) / np.where(played, games + 2 * reg, 1.0), 0.0)
    d_max = int(played.sum(axis=1).max())
    walk = frac / (d_max + 1)  # +1 keeps a self-loop: aperiodic
    walk[np.diag_indices(n)] = 1.0 - walk.sum(axis=1)
    pi = np.full(n, 1.0 / n)
    for _ in range(iterations):
        new = pi @ walk
        if np.abs(new - pi).sum() < 1e-13:
            pi = new
            break
        pi = new
    return [float(x) for x in pi]


AGGREGATORS: dict[str, Aggregator] = {
    "winrate": winrate,
    "average_winrate": average_winrate,
    "pagerank": pagerank,
    "pagerank_counts": pagerank_counts,
    "bradley_terry": bradley_terry,
    "elo": elo,
    "rank_centrality": rank_centrality,
}


def get_aggregator(name: str) -> Aggregator:
    if name not in AGGREGATORS:
        raise ConfigError(f"unknown aggregator {name!r}; choose one of: {', '.join(AGGREGATORS)}")
    return AGGREGATORS[name]


def rank_items(
    n: int, comparisons: Sequence[Comparison], aggregator: str | Aggregator = "pagerank"
) -> list[int]:
    """All items best first: compared ones by score (ties in input order), then the
    never-compared ones in input order."""
    score_fn = get_aggregator(aggregator) if isinstance(aggregator, str) else aggregator
    scores = score_fn(n, comparisons)
    compared = {i for c in comparisons for i in c}
    ranked = sorted(compared, key=lambda i: (-round(scores[i], _TIE_DIGITS), i))
    return ranked + [i for i in range(n) if i not in compared]
