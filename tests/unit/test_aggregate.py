"""Aggregators on hand-built comparison sets with known answers."""

from __future__ import annotations

import math
import random
from collections import Counter
from itertools import combinations

import numpy as np
import pytest

from listrank.errors import ConfigError
from listrank.strategies.aggregate import (
    AGGREGATORS,
    average_winrate,
    bradley_terry,
    comparisons_from_order,
    elo,
    pagerank,
    pagerank_counts,
    rank_items,
    winrate,
)

NAMES = sorted(AGGREGATORS)
# a total order 3 > 1 > 4 > 0 > 2, every pair compared once
TOTAL = [3, 1, 4, 0, 2]
TOTAL_CMP = [(a, b) for a, b in combinations(TOTAL, 2)]
CYCLE = [(0, 1), (1, 2), (2, 0)]


@pytest.mark.parametrize("name", NAMES)
def test_total_order_is_recovered(name: str) -> None:
    assert rank_items(5, TOTAL_CMP, name) == TOTAL


@pytest.mark.parametrize("name", NAMES)
def test_chain_without_direct_comparisons(name: str) -> None:
    # only neighbours compared: 2 > 0 > 1; transitivity must carry 2 above 1
    assert rank_items(3, [(2, 0), (0, 1)], name) == [2, 0, 1]


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"elo"}))
def test_cycle_is_a_tie_in_input_order(name: str) -> None:
    scores = AGGREGATORS[name](3, CYCLE)
    assert max(scores) - min(scores) < 1e-9
    assert rank_items(3, CYCLE, name) == [0, 1, 2]


def test_elo_cycle_is_nearly_flat() -> None:
    # Elo replays comparisons in order, so a cycle is not an exact tie, but far flatter
    # than a total order over the same items
    cycle, chain = elo(3, CYCLE), elo(3, [(0, 1), (1, 2), (0, 2)])
    assert max(cycle) - min(cycle) < 0.25 * (max(chain) - min(chain))


@pytest.mark.parametrize("name", NAMES)
def test_never_compared_items_go_last_in_input_order(name: str) -> None:
    comparisons = [(4, 0), (0, 2), (4, 2)]
    assert rank_items(6, comparisons, name) == [4, 0, 2, 1, 3, 5]


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"pagerank_counts"}))
def test_majority_wins_repeated_comparisons(name: str) -> None:
    # pagerank_counts cannot see a majority between two items: see test_pagerank_hand_values
    assert rank_items(2, [(1, 0), (1, 0), (0, 1)], name) == [1, 0]


@pytest.mark.parametrize("name", NAMES)
def test_no_comparisons_keeps_input_order(name: str) -> None:
    assert rank_items(4, [], name) == [0, 1, 2, 3]


def test_known_values() -> None:
    cmp = [(0, 1), (0, 1), (0, 1), (1, 0)]
    assert winrate(2, cmp) == [0.75, 0.25]
    strengths = bradley_terry(2, cmp, prior=0.0)
    assert strengths[0] - strengths[1] == pytest.approx(math.log(3), abs=1e-6)


def test_filled_positions_never_win() -> None:
    assert comparisons_from_order([3, 1, 2]) == [(3, 1), (3, 2), (1, 2)]
    assert comparisons_from_order([3, 1, 2], filled=[2]) == [(3, 1), (3, 2), (1, 2)]
    assert comparisons_from_order([3, 1, 2], filled=[1, 2]) == [(3, 1), (3, 2)]
    assert comparisons_from_order([3, 1, 2], filled=[3, 1, 2]) == []


def test_bad_input_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown aggregator"):
        rank_items(2, [(0, 1)], "borda")
    with pytest.raises(ConfigError, match="bad comparison"):
        winrate(2, [(0, 2)])
    with pytest.raises(ConfigError, match="bad comparison"):
        winrate(2, [(1, 1)])


def test_a_custom_aggregator_function_is_accepted() -> None:
    def by_index(n: int, comparisons: object) -> list[float]:
        return [float(i) for i in range(n)]

    assert rank_items(3, [(0, 1), (1, 2)], by_index) == [2, 1, 0]


# Repeated meetings: 0 beats 1 nine times and loses once; 2 beats 0 once; 1 beats 2 once.
REPEATED = [(0, 1)] * 9 + [(1, 0), (2, 0), (1, 2)]


def test_winrate_definitions_by_hand() -> None:
    # total: 0 won 9 of 11 games, 1 won 2 of 11, 2 won 1 of 2
    assert winrate(3, REPEATED) == pytest.approx([9 / 11, 2 / 11, 1 / 2])
    # per opponent, then averaged: 0 = (9/10 + 0/1) / 2, 1 = (1/10 + 1/1) / 2, 2 = (1 + 0) / 2
    assert average_winrate(3, REPEATED) == pytest.approx([0.45, 0.55, 0.5])
    assert rank_items(3, REPEATED, "winrate") == [0, 2, 1]
    assert rank_items(3, REPEATED, "average_winrate") == [1, 2, 0]


def test_average_winrate_ignores_opponents_never_met() -> None:
    # 0 met only 1 (won 1 of 2); 2 never played 0: its mean is over its one opponent
    assert average_winrate(4, [(0, 1), (1, 0), (2, 1)]) == pytest.approx([0.5, 0.25, 1.0, 0.0])


def test_pagerank_hand_values() -> None:
    d = 0.85
    # two items, 0 won 2 of 3. Net: one edge 1 -> 0 of weight 1; 0 has no out-edge, so it
    # links to both: p0 = (1-d)/2 + d (p0/2 + p1) with p1 = 1 - p0  =>  p0 = (1+d) / (2+d)
    p0 = (1 + d) / (2 + d)
    assert pagerank(2, [(0, 1), (0, 1), (1, 0)]) == pytest.approx([p0, 1 - p0], abs=1e-12)
    assert p0 == pytest.approx(0.6491228070175439)
    # raw counts: 1 -> 0 (weight 2) and 0 -> 1 (weight 1) are each node's only out-edge, so
    # both walk to the other with probability 1: a tie whatever the counts
    assert pagerank_counts(2, [(0, 1), (0, 1), (1, 0)]) == pytest.approx([0.5, 0.5], abs=1e-12)
    assert rank_items(2, [(1, 0), (1, 0), (0, 1)], "pagerank_counts") == [0, 1]


def test_pagerank_three_items_meeting_more_than_once() -> None:
    cmp = [(0, 1), (0, 1), (1, 0), (0, 2), (2, 1)]
    # raw counts, walk P (row = from): 0 -> 1 (1/1); 1 -> 0 (2/3), 1 -> 2 (1/3); 2 -> 0 (1/1).
    # p = (1-d)/3 + d Pᵀp solved in fractions by hand: (1063, 1029, 417) / 2509
    assert pagerank_counts(3, cmp) == pytest.approx([1063 / 2509, 1029 / 2509, 417 / 2509])
    # net: 1 -> 0 (margin 1), 2 -> 0, 1 -> 2; 0 has no out-edge and links to all three:
    # P = [[1/3, 1/3, 1/3], [1/2, 0, 1/2], [1, 0, 0]]  =>  (2109, 800, 1140) / 4049
    assert pagerank(3, cmp) == pytest.approx([2109 / 4049, 800 / 4049, 1140 / 4049])
    # 2 beat 1 head to head; only raw counts let 1's single win over 0 lift it above 2
    assert rank_items(3, cmp, "pagerank") == [0, 2, 1]
    assert rank_items(3, cmp, "pagerank_counts") == [0, 1, 2]


def _power_iteration(n: int, cmp: list[tuple[int, int]], net: bool, tol: float) -> list[float]:
    """PageRank by plain power iteration from the uniform vector, stopped when the L1 change
    is below ``tol`` (networkx stops at n·1e-6 by default)."""
    nodes = sorted({i for c in cmp for i in c})
    at = {v: i for i, v in enumerate(nodes)}
    edges = np.zeros((len(nodes), len(nodes)))
    for w, lo in cmp:
        edges[at[lo], at[w]] += 1
    if net:
        edges = np.clip(edges - edges.T, 0, None)
    out = edges.sum(axis=1, keepdims=True)
    walk = np.where(out > 0, edges / np.where(out > 0, out, 1), 1 / len(nodes))
    google = 0.85 * walk + 0.15 / len(nodes)
    x = np.full(len(nodes), 1 / len(nodes))
    for _ in range(100_000):
        new = google.T @ x
        new /= new.sum()
        done = np.abs(new - x).sum() < tol
        x = new
        if done:
            break
    scores = [0.0] * n
    for v, value in zip(nodes, x, strict=True):
        scores[v] = float(value)
    return scores


def _noisy_blocks(seed: int, n: int = 40, k: int = 10, blocks: int = 16) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    grade = [rng.random() for _ in range(n)]
    cmp: list[tuple[int, int]] = []
    for _ in range(blocks):
        block = rng.sample(range(n), k)
        noisy = {i: grade[i] + rng.gauss(0, 0.3) for i in block}
        cmp += comparisons_from_order(sorted(block, key=lambda i: -noisy[i]))
    return cmp


def _order(scores: list[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


@pytest.mark.parametrize(
    ("name", "net", "seed"), [("pagerank", True, 406), ("pagerank_counts", False, 446)]
)
def test_pagerank_near_tie_does_not_swap(name: str, net: bool, seed: int) -> None:
    n = 40
    cmp = _noisy_blocks(seed, n)
    exact = _power_iteration(n, cmp, net, tol=1e-15)
    gaps = np.diff(sorted(exact))
    assert 1e-9 < gaps[gaps > 0].min() < 1e-6  # a near-tie, but not a tie at 9 digits
    scores = AGGREGATORS[name](n, cmp)
    assert max(abs(a - b) for a, b in zip(scores, exact, strict=True)) < 1e-12
    assert rank_items(n, cmp, name) == _order(exact)
    # the case is one a loose stopping rule gets wrong (the pair swaps)
    assert _order(_power_iteration(n, cmp, net, tol=n * 1e-6)) != _order(exact)


@pytest.mark.parametrize(("name", "net"), [("pagerank", True), ("pagerank_counts", False)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pagerank_equals_networkx_run_to_convergence(name: str, net: bool, seed: int) -> None:
    """The exact solve is networkx's PageRank (same graph, damping, dangling rule), converged."""
    nx = pytest.importorskip("networkx")
    n = 40
    cmp = _noisy_blocks(seed, n)
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted({i for c in cmp for i in c}))
    counts = Counter(cmp)
    for (w, lo), count in counts.items():
        weight = count - counts[(lo, w)] if net else count
        if weight > 0:
            graph.add_edge(lo, w, weight=float(weight))
    ref = nx.pagerank(graph, alpha=0.85, weight="weight", tol=1e-15, max_iter=10_000)
    scores = AGGREGATORS[name](n, cmp)
    assert max(abs(scores[v] - ref[v]) for v in graph) < 1e-12
