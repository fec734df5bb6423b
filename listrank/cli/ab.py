"""`listrank ab CONFIG_A CONFIG_B [...] --input IN.jsonl --qrels QRELS`: paired comparison of
pipelines (TOML pipeline configs) on the same queries."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from listrank.cli.common import add_component_options, add_trace_option, check_runnable, flags_under
from listrank.cli.datasets_cmd import add_dataset_option
from listrank.cli.rerank import add_max_in_flight
from listrank.errors import did_you_mean
from listrank.evaluation.ab import (
    FIRST_STAGE,
    FirstStage,
    SystemSpec,
    format_report,
    plot_differences,
    run_ab,
)
from listrank.evaluation.metrics import per_query, read_qrels
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.schema import check
from listrank.prompting.presets import load_preset
from listrank.runs.io import atomic_writer, read_requests, trec_lines
from listrank.runs.output_checks import check_output_dir, check_output_file
from listrank.runs.trace import trace_text


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "ab",
        help="compare pipelines on the same queries with paired statistics",
        description="Run each pipeline config on the same judged queries and compare each with "
        "the baseline (the first stage, i.e. the input order, unless --no-first-stage or "
        "--baseline): means, mean difference, paired t-test p-value, bootstrap 95% CI, "
        "win/tie/loss; calls, tokens, latency and repairs per system. Writes report.json, "
        "differences.png and the runs to --out.",
    )
    p.add_argument(
        "configs",
        nargs="+",
        metavar="CONFIG",
        help="pipeline TOML files or preset:NAME (with --no-first-stage, 2 or more)",
    )
    p.add_argument(
        "--no-first-stage",
        action="store_true",
        help=f"leave out the built-in '{FIRST_STAGE}' system (the input order, no model)",
    )
    p.add_argument(
        "--baseline",
        metavar="NAME",
        help=f"the system the others are compared with: '{FIRST_STAGE}' (the default) or a "
        "config's name (its file stem); without the first stage, the first config",
    )
    p.add_argument("--input", help="input JSONL (queries and candidates); or --dataset NAME")
    p.add_argument("--qrels", help="TREC qrels; or --dataset NAME")
    add_dataset_option(p)
    p.add_argument("--metrics", nargs="+", default=["nDCG@10"], metavar="METRIC")
    p.add_argument("--out", default="ab-results", help="output folder (default %(default)s)")
    p.add_argument(
        "--shuffle-seed",
        type=int,
        default=None,
        help="shuffle every query's candidates with this seed (same order for all systems)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="repeat with this many shuffle seeds (from --shuffle-seed, default 0) and report "
        "the spread",
    )
    p.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap CI")
    p.add_argument("--cache", help="persistent model-call cache (SQLite) shared by all systems")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_trace_option(p)
    add_max_in_flight(p)
    # applied to every system; a system's own file (or preset) overrides them key by key
    add_component_options(p, pipeline_source=False)
    p.set_defaults(run=run)


def _names(paths: list[str]) -> list[str]:
    stems = [Path(p).stem for p in paths]
    return stems if len(set(stems)) == len(stems) else [str(Path(p)) for p in paths]


def _baseline_first(
    systems: list[tuple[str, SystemSpec]], baseline: str | None
) -> list[tuple[str, SystemSpec]]:
    if baseline is None:
        return systems
    names = [n for n, _ in systems]
    if baseline not in names:
        from listrank.errors import InputError

        raise InputError(
            f"--baseline {baseline!r}{did_you_mean(baseline, names)}: systems are "
            f"{', '.join(names)}"
        )
    i = names.index(baseline)
    return [systems[i], *systems[:i], *systems[i + 1 :]]


def _pipeline_data(name: str) -> tuple[dict[str, Any], str]:
    """A system's sections as written (a TOML file or preset:NAME) and where they came from."""
    if name.startswith("preset:"):
        preset = load_preset(name.removeprefix("preset:"))
        return preset.pipeline(), f"preset {preset.name}"
    PipelineConfig.from_file(name)  # the file's own errors (unreadable, not TOML, sections)
    return tomllib.loads(Path(name).read_text(encoding="utf-8")), name


def run(args: argparse.Namespace) -> int:
    from listrank.errors import InputError

    if not (args.input and args.qrels):
        raise InputError("name --input and --qrels, or --dataset NAME for what is not named")
    if len(args.configs) + (0 if args.no_first_stage else 1) < 2:
        raise InputError("give at least two pipeline configs (or leave the first stage on)")
    # everything that can be wrong is checked before any model loads
    # a reference-calibrated pipeline draws its prior from the queries under test by default
    # the component flags apply to every system; what a system's file sets wins
    configs = [
        flags_under(*_pipeline_data(p), args).with_calibration_pool(args.input)
        for p in args.configs
    ]
    if args.cache:
        configs = [
            dataclasses.replace(c, extra={**c.extra, "cache": {"path": args.cache}})
            for c in configs
        ]
    requests = read_requests(args.input)
    qrels = read_qrels(args.qrels)
    # where results go is checked before any model call, not after all of them
    check_output_dir(args.out, [args.input, args.qrels])
    for name in ("report.json", "differences.png"):
        check_output_file(Path(args.out) / name, [args.input, args.qrels])
    if args.trace:
        check_output_file(args.trace, [args.input, args.qrels])
    per_query({}, {}, args.metrics)  # raises ConfigError on an unknown metric
    for c in configs:  # names, options, types, model paths
        check(check_runnable(c))
    names = _names(args.configs)
    systems: list[tuple[str, SystemSpec]] = [
        (n, c.build) for n, c in zip(names, configs, strict=True)
    ]
    if not args.no_first_stage:
        if FIRST_STAGE in names:
            raise InputError(f"a config may not be named {FIRST_STAGE!r}: rename the file")
        systems.insert(0, (FIRST_STAGE, FirstStage()))
    systems = _baseline_first(systems, args.baseline)
    report = run_ab(
        systems,
        requests,
        qrels,
        args.metrics,
        shuffle_seed=args.shuffle_seed,
        seeds=args.seeds,
        bootstrap_seed=args.bootstrap_seed,
        progress=not args.no_progress,
        max_in_flight=args.max_in_flight,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = report.as_dict()
    data["configs"] = dict(zip(names, args.configs, strict=True))
    data["first_stage"] = (
        None if args.no_first_stage else "built in: the input order of every query, no model"
    )
    # what `listrank view` needs to join the runs with their judgements and texts
    data["input"], data["qrels"], data["trace"] = (
        None if p in (None, "-") else str(Path(p).resolve())  # stdin/stdout: nothing to find
        for p in (args.input, args.qrels, args.trace)
    )
    with atomic_writer(out / "report.json") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    plot_differences(report, out / "differences.png")
    for name, per_seed in report.rankings.items():
        for seed, rankings in zip(report.seeds, per_seed, strict=True):
            suffix = "" if seed is None else f".seed{seed}"
            safe = name.replace("/", "_")
            with atomic_writer(out / "runs" / f"{safe}{suffix}.trec") as fh:
                for r in rankings:
                    fh.writelines(trec_lines(r, tag=safe))
    if args.trace:
        with atomic_writer(args.trace) as fh:
            for name, per_seed in report.rankings.items():
                for seed, rankings in zip(report.seeds, per_seed, strict=True):
                    for r in rankings:
                        fh.write(trace_text(r, system=name, seed=seed))
        print(f"listrank: wrote {args.trace}", file=sys.stderr)
    print(format_report(report))
    print(f"listrank: wrote {out / 'report.json'}, {out / 'differences.png'}", file=sys.stderr)
    return 0
