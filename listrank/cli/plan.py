"""`listrank plan --strategy S --n N`: calls, critical-path depth and prompt tokens, before
running anything."""

from __future__ import annotations

import argparse
import json
from typing import Any

from listrank.cli.common import add_component_options, pipeline_config
from listrank.runs.io import read_requests
from listrank.strategies.planning import describe_plan, placeholder_candidates
from listrank.types import Candidate

_SYNTHETIC_WORDS = 100


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "plan",
        help="print a strategy's model calls, depth and estimated prompt tokens",
        description="Token estimates use the backend's own tokenizer on the first query of "
        "--input, or on synthetic passages of 100 words when no input is given.",
    )
    p.add_argument("--n", type=int, required=True, help="number of candidates")
    p.add_argument("--input", help="JSONL requests to estimate tokens from (first query)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    add_component_options(p)
    p.set_defaults(run=run)


MAX_PLAN_CANDIDATES = 10_000
"""More candidates than any reranking depth in use: a plan beyond it would take minutes and
gigabytes to list (each block's prompt is estimated)."""
_MAX_REPEATS = 100
"""Bound on the options that multiply every block (passes, permutations, calibration blocks)."""


def _check_sizes(args: argparse.Namespace, options: dict[str, Any]) -> None:
    from listrank.errors import ConfigError

    if not 0 <= args.n <= MAX_PLAN_CANDIDATES:
        raise ConfigError(f"--n {args.n}: plan takes 0..{MAX_PLAN_CANDIDATES} candidates")
    for name in ("passes", "permutations", "calibration_blocks"):
        value = options.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > _MAX_REPEATS:
            raise ConfigError(f"{name}={value}: plan takes at most {_MAX_REPEATS}")


def run(args: argparse.Namespace) -> int:
    cfg = pipeline_config(args, dry_run_ok=True)  # plans call no model
    _check_sizes(args, cfg.options())
    if args.input:  # the pool a reference prior is drawn from, as `rerank` does
        cfg = cfg.with_calibration_pool(args.input)
    reranker = cfg.build(planning=True)  # the tokenizer only: no weights, no torch
    if args.input:
        req = read_requests(args.input)[0]
        query, cands = req.query.text, list(req.candidates)
        source = f"first query of {args.input}"
        while len(cands) < args.n:  # reuse passages when the file has fewer than n
            c = cands[len(cands) % len(req.candidates)]
            cands.append(Candidate(docid=f"{c.docid}#{len(cands)}", text=c.text))
    else:
        query = "what is the placeholder query used for token estimates"
        cands = placeholder_candidates(args.n, _SYNTHETIC_WORDS)
        source = f"placeholder passages of {_SYNTHETIC_WORDS} words"
    plan = reranker.plan(args.n, query, cands[: args.n])
    if args.json:
        print(
            json.dumps(
                {
                    "strategy": plan.strategy,
                    "n": plan.n,
                    "calls": plan.calls,
                    "depth": plan.depth,
                    "prompt_tokens": plan.prompt_tokens,
                    "reasoning_tokens": plan.reasoning_tokens,
                    "exact": plan.exact,
                    "block_sizes": list(plan.block_sizes),
                    "expected_calls": plan.expected_calls,
                    "expected_depth": plan.expected_depth,
                    "judge_model": plan.judge_model,
                    "parts": [
                        {"strategy": p.strategy, "n": p.n, "calls": p.calls, "depth": p.depth}
                        for p in plan.parts
                    ],
                }
            )
        )
        return 0
    print(f"method         {reranker.method.name}")
    print(describe_plan(plan))
    print(f"token source   {source}")
    return 0
