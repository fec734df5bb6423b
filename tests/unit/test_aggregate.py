"""Aggregators on hand-built comparison sets with known answers."""

from __future__ import annotations

import math
from itertools import combinations

import pytest

from listrank.errors import ConfigError
from listrank.strategies.aggregate import (
    AGGREGATORS,
    bradley_terry,
    comparisons_from_order,
    elo,
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


@pytest.mark.parametrize("name", NAMES)
def test_majority_wins_repeated_comparisons(name: str) -> None:
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
