"""JointRank block designs: reproducible per seed, with the properties they claim."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listrank.errors import ConfigError
from listrank.strategies.designs import DESIGNS, build_design


def pair_counts(blocks: tuple[tuple[int, ...], ...]) -> Counter[frozenset[int]]:
    return Counter(frozenset(p) for b in blocks for p in combinations(b, 2))


@pytest.mark.parametrize(
    ("name", "v", "k"),
    [
        ("equi-replicate", 100, 20),
        ("replicate", 37, 10),
        ("random", 100, 20),
        ("latin-square", 100, 10),
        ("triangular", 15, 5),
    ],
)
def test_reproducible_per_seed(name: str, v: int, k: int) -> None:
    a = build_design(name, v, k, 4, seed=7)
    assert a == build_design(name, v, k, 4, seed=7)
    assert a.blocks != build_design(name, v, k, 4, seed=8).blocks


def test_equi_replicate_exact_replication() -> None:
    d = build_design("equi-replicate", 100, 20, 4, seed=0)
    assert d.name == "equi-replicate" and len(d.blocks) == 20
    assert all(len(b) == len(set(b)) == 20 for b in d.blocks)
    assert set(d.replication().values()) == {4} and len(d.replication()) == 100


def test_equi_replicate_falls_back_to_replicate() -> None:
    d = build_design("equi-replicate", 30, 20, 1, seed=0)  # 30 is not a multiple of 20
    assert d.name == "replicate" and len(d.blocks) == 2
    assert not d.uncovered()


@settings(max_examples=80, deadline=None)
@given(
    v=st.integers(min_value=2, max_value=150),
    k=st.integers(min_value=2, max_value=25),
    r=st.integers(min_value=1, max_value=5),
    seed=st.integers(min_value=0, max_value=99),
)
def test_replicate_covers_every_item_r_times(v: int, k: int, r: int, seed: int) -> None:
    d = build_design("replicate", v, k, r, seed=seed)
    assert all(len(b) == len(set(b)) == min(k, v) for b in d.blocks)
    assert all(0 <= i < v for b in d.blocks for i in b)
    assert min(d.replication()[i] for i in range(v)) >= r
    assert len(d.blocks) == (r if v <= k else -(-r * v // k))


def test_random_design_shape() -> None:
    d = build_design("random", 100, 20, 3, seed=1)
    assert len(d.blocks) == 15
    assert all(len(b) == len(set(b)) == 20 for b in d.blocks)


@pytest.mark.parametrize(
    ("v", "k", "r", "seeds"),
    [
        (
            100,
            20,
            4,
            range(1000),
        ),  # JointRank's default shape; plain draws miss items 68 % of the time
        (100, 20, 1, range(300)),  # every slot is needed: exactly one block per item
        (37, 10, 3, range(300)),  # r·v not a multiple of k: a few items get r + 1
        (23, 5, 2, range(300)),
    ],
)
def test_random_design_covers_every_item_r_times_for_every_seed(
    v: int, k: int, r: int, seeds: range
) -> None:
    for seed in seeds:
        d = build_design("random", v, k, r, seed=seed)
        assert len(d.blocks) == -(-r * v // k)
        assert all(len(b) == len(set(b)) == k for b in d.blocks)
        assert not d.uncovered(), seed
        assert min(d.replication().values()) >= r, seed


def test_random_design_stays_random() -> None:
    # the repair only swaps what coverage needs: blocks differ from the pass-based designs
    # and pairs meet irregularly (some twice or more, others never)
    d = build_design("random", 100, 20, 4, seed=0)
    meets = pair_counts(d.blocks)
    assert max(meets.values()) >= 3
    assert len(meets) < 100 * 99 // 2
    assert d.blocks != build_design("replicate", 100, 20, 4, seed=0).blocks


def test_latin_square_rows_and_columns() -> None:
    d = build_design("latin-square", 100, 10, seed=3)
    assert len(d.blocks) == 20 and all(len(b) == 10 for b in d.blocks)
    assert set(d.replication().values()) == {2} and len(d.replication()) == 100
    pairs = pair_counts(d.blocks)
    assert max(pairs.values()) == 1  # two items share at most one block
    assert len(pairs) == 20 * 45  # every block's pairs are new
    rows, cols = d.blocks[:10], d.blocks[10:]
    assert all(len(set(a) & set(b)) == 1 for a in rows for b in cols)
    assert all(not set(a) & set(b) for a, b in combinations(rows, 2))


def test_triangular_blocks_meet_in_one_item() -> None:
    d = build_design("triangular", 15, 5, seed=0)
    assert len(d.blocks) == 6 and all(len(b) == 5 for b in d.blocks)
    assert set(d.replication().values()) == {2} and len(d.replication()) == 15
    assert all(len(set(a) & set(b)) == 1 for a, b in combinations(d.blocks, 2))


@pytest.mark.parametrize("name", ["equi-replicate", "replicate", "random"])
def test_small_v_is_r_shuffled_copies(name: str) -> None:
    d = build_design(name, 7, 20, 3, seed=0)
    assert len(d.blocks) == 3 and all(sorted(b) == list(range(7)) for b in d.blocks)


@pytest.mark.parametrize("name", DESIGNS)
@pytest.mark.parametrize("v", [0, 1])
def test_nothing_to_compare(name: str, v: int) -> None:
    assert build_design(name, v, 10).blocks == ()


def test_errors() -> None:
    with pytest.raises(ConfigError, match="v = k²"):
        build_design("latin-square", 99, 10)
    with pytest.raises(ConfigError, match="k\\(k\\+1\\)/2"):
        build_design("triangular", 16, 5)
    with pytest.raises(ConfigError, match="unknown design"):
        build_design("bibd", 10, 2)
    with pytest.raises(ConfigError):
        build_design("replicate", 10, 1)
