"""What a newcomer reads: trec_eval metric names, the bias line with no answers, plan token
counts for reference calibration, and the A/B figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listrank.cli import main
from listrank.evaluation.ab import ABReport, differences_figure, paired_comparison
from listrank.evaluation.bias import bias_report
from listrank.evaluation.metrics import measure_name, per_query
from listrank.types import CallRecord, RepairStats

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("trec_eval", "ir_measures"),
    [
        ("ndcg_cut_10", "nDCG@10"),
        ("map", "AP"),
        ("recip_rank", "RR"),
        ("P_10", "P@10"),
        ("recall_100", "R@100"),
        ("map_cut_100", "AP@100"),
        ("success_1", "Success@1"),
        ("ndcg", "nDCG"),
        ("nDCG@10", "nDCG@10"),
    ],
)
def test_trec_eval_names_are_aliases(trec_eval: str, ir_measures: str) -> None:
    assert measure_name(trec_eval) == ir_measures


def test_eval_command_accepts_trec_eval_names_with_the_same_values(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    run = data_dir / "trec-dl-rank_llm-runs" / "BM25" / "trec_results_dl19.txt"
    qrels = data_dir / "trec-dl19-passage" / "qrels.dl19-passage.txt"
    base = ["eval", str(run), "--qrels", str(qrels), "--json", "--metrics"]
    assert main([*base, "ndcg_cut_10", "map", "recip_rank", "P_10", "recall_100"]) == 0
    aliased = json.loads(capsys.readouterr().out)["means"]
    assert main([*base, "nDCG@10", "AP", "RR", "P@10", "R@100"]) == 0
    native = json.loads(capsys.readouterr().out)["means"]
    assert aliased == native and 0.4 < native["nDCG@10"] < 0.6  # BM25 on DL19: 0.506
    assert main([*base, "ndcg_cutt_10"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric 'ndcg_cutt_10'" in err and "ndcg_cut_10" in err


def test_unknown_metric_names_both_vocabularies() -> None:
    from listrank.errors import ConfigError

    with pytest.raises(ConfigError, match="trec_eval ones"):
        per_query({}, {}, ["nDCG@@1"])


def test_bias_line_without_answers_does_not_print_zero_shares() -> None:
    calls = [
        CallRecord(
            "m",
            ("a", "b", "c", "d"),
            1,
            1,
            "",
            0.0,
            repair=RepairStats(malformed=True),
            order=(0, 1, 2, 3),
        )
        for _ in range(6)
    ]
    text = bias_report(calls).format()
    assert "0/6 blocks answered: no top picks to measure" in text
    assert "chance 0%" not in text and "first slot 0%" not in text
    assert "WARNING" in text  # still flagged: every block kept its input order


def test_plan_counts_reference_calibration_tokens_from_the_input_pool(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def plan(*flags: str) -> dict[str, int]:
        argv = ["plan", "--n", "10", "--model", str(tiny_model_dir), "--method", "first"]
        argv += ["--strategy", "single", "--input", str(REPO / "examples" / "demo.jsonl")]
        assert main([*argv, "--json", *flags]) == 0
        out: dict[str, int] = json.loads(capsys.readouterr().out)
        return out

    plain = plan()
    content_free = plan("--calibrate")
    reference = plan("--calibrate", "reference", "--calibration-blocks", "3")
    assert (plain["calls"], content_free["calls"], reference["calls"]) == (1, 2, 4)
    # each prior call costs prompt tokens: N/A blocks are short, real passages are not
    assert plain["prompt_tokens"] < content_free["prompt_tokens"] < reference["prompt_tokens"]
    assert reference["prompt_tokens"] > 2.5 * plain["prompt_tokens"]


def _report(n: int) -> ABReport:
    base = {f"q{i}": 0.5 for i in range(n)}
    system = {
        f"q{i}": 0.5 + (0.1 if i % 3 == 0 else -0.05 if i % 3 == 1 else 0.0) for i in range(n)
    }
    comparison = paired_comparison("nDCG@10", ("first-stage", base), ("icr", system), resamples=500)
    return ABReport(
        systems=["first-stage", "icr"],
        metrics=["nDCG@10"],
        seeds=[None],
        queries=n,
        comparisons=[comparison],
        stats=[],
        seed_means={},
    )


def test_figure_labels_bars_with_query_ids_and_marks_mean_ci_and_wtl() -> None:
    import matplotlib.pyplot as plt

    report = _report(9)
    fig = differences_figure(report)
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_xticklabels()]
    c = report.comparisons[0]
    assert labels == sorted(c.diffs, key=lambda q: (-c.diffs[q], q))  # sorted by difference
    assert list(ax.get_xticks()) == list(range(9))  # integer positions, one per query
    heights = [round(p.get_height(), 6) for p in ax.patches if p.get_width() == 0.8]
    assert heights == sorted(heights, reverse=True) and len(heights) == 9
    title = ax.get_title()
    assert (
        "W/T/L 3/3/3" in title
        and title.startswith("icr vs first-stage")
        and f"{c.mean_diff:+.3f}" in title
    )
    # one figure-level legend names what the marks mean (the mean itself is in the title)
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert "mean Δ" in texts and "bootstrap 95% CI" in texts
    plt.close(fig)
    many = differences_figure(_report(80))
    assert all(t.get_text() == "" for t in many.axes[0].get_xticklabels())  # too many to read
    plt.close(many)


def test_ab_help_prints_a_single_percent(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["ab", "--help"])
    out = capsys.readouterr().out
    assert "95% CI" in out and "%%" not in out and "first-stage" in out
