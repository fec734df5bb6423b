from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listrank import ConfigError
from listrank.strategies.window import SingleWindow, SlidingWindow
from listrank.types import CallRecord, Judgement


class Recorder:
    """A judge that orders each block by hidden grades and records what it saw."""

    def __init__(self, grades: Sequence[float]) -> None:
        self.grades = grades
        self.blocks: list[Sequence[int]] = []
        self.stages = 0

    def __call__(self, blocks: Sequence[Sequence[int]]) -> list[Judgement]:
        self.stages += 1
        out = []
        for b in blocks:
            self.blocks.append(b)  # type: ignore[arg-type]
            order = sorted(range(len(b)), key=lambda i: -self.grades[b[i]])
            out.append(Judgement(tuple(order), CallRecord("oracle", (), 0, 0, "", 0.0)))
        return out


def test_n_at_most_window_is_one_call() -> None:
    judge = Recorder(list(range(15)))
    result = SlidingWindow(window=20, step=10).rank(15, judge)
    assert len(judge.blocks) == 1 and judge.blocks[0] == list(range(15))
    assert result.order == list(range(14, -1, -1))


def test_unaligned_step_still_judges_the_top() -> None:
    w = SlidingWindow(window=20, step=15)
    assert w.starts(100) == [80, 65, 50, 35, 20, 5, 0]
    judge = Recorder([float(i % 7) for i in range(100)])
    w.rank(100, judge)
    assert len(judge.blocks) == w.plan(100).calls == 7
    assert [b.label for b in judge.blocks] == [  # type: ignore[attr-defined]
        f"positions {s}-{s + 19}" for s in (80, 65, 50, 35, 20, 5, 0)
    ]


def test_default_sliding_plan_matches_run() -> None:
    w = SlidingWindow()
    judge = Recorder([float(i) for i in range(100)])
    result = w.rank(100, judge)
    plan = w.plan(100)
    assert (plan.calls, plan.depth) == (9, 9) == (len(judge.blocks), judge.stages)
    assert result.order[0] == 99  # the best bubbles to the top from the very end
    assert list(plan.block_sizes) == [len(b) for b in judge.blocks]


def test_passes_repeat_the_sweep() -> None:
    judge = Recorder([float(i) for i in range(40)])
    result = SlidingWindow(window=10, step=5, passes=2).rank(40, judge)
    assert len(judge.blocks) == 2 * 7
    assert result.order[:2] == [39, 38]


def test_single_window() -> None:
    judge = Recorder([float(i) for i in range(30)])
    result = SingleWindow(window=10).rank(30, judge)
    assert judge.blocks == [list(range(10))]
    assert result.order[:10] == list(range(9, -1, -1)) and result.order[10:] == list(range(10, 30))
    assert SingleWindow().plan(30).block_sizes == (30,)


def test_degenerate_sizes() -> None:
    for n in (0, 1):
        judge = Recorder([0.0] * n)
        assert SlidingWindow().rank(n, judge).order == list(range(n))
        assert judge.blocks == [] and SlidingWindow().plan(n).calls == 0


@pytest.mark.parametrize("kwargs", [{"window": 1}, {"step": 0}, {"step": 30}, {"passes": 0}])
def test_bad_options(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        SlidingWindow(**kwargs)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 120), window=st.integers(2, 30), data=st.data())
def test_any_shape_is_a_permutation_that_judges_position_zero(
    n: int, window: int, data: st.DataObject
) -> None:
    step = data.draw(st.integers(1, window))
    grades = data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    judge = Recorder(grades)
    w = SlidingWindow(window=window, step=step)
    result = w.rank(n, judge)
    assert sorted(result.order) == list(range(n))
    assert len(judge.blocks) == w.plan(n).calls
    if n >= 2:
        last = judge.blocks[-1]
        assert len(last) == min(n, window)
        # the last window covers slots 0..w-1, i.e. the top position is judged
        assert result.order[0] in last
