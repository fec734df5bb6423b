"""The A/B figure reads at a glance: panels of one metric share their y-axis, each title has
the mean, CI, p-value and W/T/L, and the legend sits outside every panel."""

from __future__ import annotations

from listrank.evaluation.ab import ABReport, differences_figure, paired_comparison

QIDS = [f"q{i}" for i in range(8)]
BASE = {q: 0.5 for q in QIDS}


def report(**systems: dict[str, float]) -> ABReport:
    comparisons = [
        paired_comparison(
            m, ("first-stage", {q: b + 0.1 * (m == "RR@10") for q, b in BASE.items()}), (n, v)
        )
        for m in ("nDCG@10", "RR@10")
        for n, v in systems.items()
    ]
    return ABReport(
        systems=["first-stage", *systems],
        metrics=["nDCG@10", "RR@10"],
        seeds=[None],
        queries=len(QIDS),
        comparisons=comparisons,
        stats=[],
        seed_means={},
        rankings={},
    )


def test_panels_of_a_metric_share_the_y_axis_and_titles_carry_p_and_wtl() -> None:
    big = {q: 0.5 - 0.4 * (i % 2) for i, q in enumerate(QIDS)}
    small = {q: 0.5 - 0.02 * (i % 3) for i, q in enumerate(QIDS)}
    fig = differences_figure(report(icr=big, first=small))
    axes = fig.axes
    titles = [ax.get_title() for ax in axes]
    by_metric: dict[str, set[tuple[float, float]]] = {}
    for ax, c in zip(axes, report(icr=big, first=small).comparisons, strict=True):
        by_metric.setdefault(c.metric, set()).add(tuple(round(v, 9) for v in ax.get_ylim()))
        assert ax.get_ylim()[0] <= -0.4  # the largest drop of the metric fits in every panel
    assert all(len(limits) == 1 for limits in by_metric.values())  # one y-range per metric
    assert all("p = " in t and "W/T/L" in t for t in titles)
    assert titles[0].startswith("icr vs first-stage (nDCG@10)") and "W/T/L 0/4/4" in titles[0]
    assert all(ax.get_legend() is None for ax in axes) and len(fig.legends) == 1
    fig.canvas.draw()
    legend_box = fig.legends[0].get_window_extent()
    assert all(not legend_box.overlaps(ax.get_window_extent()) for ax in axes)
