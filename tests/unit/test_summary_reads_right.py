"""A run summary names its timings (wall time, queries/s, mean per-query latency) and ends with a
WARNING when most blocks kept their input order, saying what to try."""

from __future__ import annotations

from pathlib import Path

import pytest

from listrank.cli import main
from listrank.evaluation.summary import RunSummary
from listrank.types import CallRecord, Query, Ranking, Trace


def ranking(orders: list[tuple[int, ...]], scored: bool = False, latency: float = 2.0) -> Ranking:
    calls = tuple(
        CallRecord(
            method="first" if scored else "rankgpt",
            docids=tuple(str(i) for i in range(len(order))),
            prompt_tokens=10,
            completion_tokens=0 if scored else 5,
            output="" if scored else "[1] > [2]",
            latency_s=latency,
            scores=tuple(float(-i) for i in range(len(order))) if scored else None,
            order=order,
        )
        for order in orders
    )
    return Ranking(Query("q"), (), Trace(calls=calls, stage_latency_s={"llm": latency}))


def test_most_blocks_in_input_order_warn_and_name_the_score_methods() -> None:
    s = RunSummary()
    s.add(ranking([(0, 1, 2), (0, 1, 2), (2, 0, 1)]))
    warning = s.order_warning()
    assert warning is not None and warning.startswith("WARNING: 2 of 3 blocks kept")
    assert "--method icr" in warning and "--trace" in warning


def test_a_score_method_that_kept_the_order_gets_other_advice() -> None:
    s = RunSummary()
    s.add(ranking([(0, 1, 2, 3)], scored=True))
    warning = s.order_warning()
    assert warning is not None and "--calibrate reference" in warning


def test_no_warning_when_most_blocks_were_reordered_or_nothing_was_judged() -> None:
    s = RunSummary()
    assert s.order_warning() is None
    s.add(ranking([(1, 0, 2), (0, 1, 2), (2, 1, 0)]))
    assert s.order_warning() is None


def test_timings_are_named_and_do_not_sum_overlapping_latencies() -> None:
    s = RunSummary()
    for _ in range(4):  # four queries of 2 s each that ran at once: 2.5 s of wall time
        s.add(ranking([(1, 0)], latency=2.0))
    assert s.timing() == "mean per-query latency 2.00 s"  # not timed: only what is known
    s.wall_s = 2.5
    assert s.timing() == "wall time 2.5 s, 1.6 queries/s, mean per-query latency 2.00 s"
    assert "s/query" not in s.format()


def test_merged_parts_keep_the_order_counts() -> None:
    a, b = RunSummary(), RunSummary()
    a.add(ranking([(0, 1)]))
    b.add(ranking([(0, 1), (1, 0)]))
    a.merge(b)
    assert (a.blocks_judged, a.blocks_kept_order) == (3, 2)


def test_rerank_ends_with_the_warning_when_the_model_kept_the_order(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tiny random model cannot answer RankGPT's prompt: repair keeps the input order."""
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"qid": "1", "query": "q", "candidates": ['
        + ", ".join(f'{{"docid": "d{i}", "text": "passage {i}"}}' for i in range(4))
        + "]}\n"
    )
    args = ["rerank", str(src), "-o", str(tmp_path / "out.jsonl"), "--no-progress"]
    assert main([*args, "--model", str(tiny_model_dir)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert "wall time" in "\n".join(err) and "queries/s" in "\n".join(err)
    assert err[-1].startswith("listrank: WARNING: 1 of 1 blocks kept their input order")
