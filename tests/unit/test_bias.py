from __future__ import annotations

import random

from listrank.evaluation.bias import bias_report, spearman_identity
from listrank.types import CallRecord, RepairStats


def call(order: list[int], malformed: bool = False) -> CallRecord:
    n = len(order)
    return CallRecord(
        "m",
        tuple(str(i) for i in range(n)),
        1,
        1,
        "",
        0.0,
        repair=RepairStats(malformed=malformed),
        order=tuple(order),
    )


def test_spearman_of_identity_and_reverse() -> None:
    assert spearman_identity((0, 1, 2, 3)) == 1.0
    assert spearman_identity((3, 2, 1, 0)) == -1.0


def test_always_first_slot_is_flagged() -> None:
    rng = random.Random(0)
    calls = []
    for _ in range(20):
        rest = list(range(1, 10))
        rng.shuffle(rest)
        calls.append(call([0, *rest]))
    report = bias_report(calls)
    assert report.position_driven and report.top_first_share == 1.0
    assert "slot 1 was the top pick in 100%" in report.format()


def test_unanswered_blocks_are_flagged() -> None:
    calls = [call(list(range(10)), malformed=True) for _ in range(10)]
    report = bias_report(calls)
    assert report.position_driven and report.answered == 0
    assert "no block was answered" in report.format()


def test_content_driven_judge_is_not_flagged() -> None:
    rng = random.Random(1)
    calls = []
    for _ in range(200):
        order = list(range(10))
        rng.shuffle(order)
        calls.append(call(order))
    report = bias_report(calls)
    assert not report.position_driven, report.format()
    assert abs(report.mean_spearman) < 0.2 and report.max_slot_share < 0.25


def test_few_blocks_give_numbers_but_no_verdict() -> None:
    report = bias_report([call([0, 1, 2])] * 3)
    assert not report.position_driven and report.top_first_share == 1.0
