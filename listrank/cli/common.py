"""Options shared by the commands that build a Reranker."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping
from typing import Any

from listrank.errors import ConfigError
from listrank.methods.calibration import CALIBRATIONS
from listrank.pipeline.config import LAYERS, PipelineConfig
from listrank.pipeline.reranker import (
    DEFAULT_BACKEND,
    DEFAULT_METHOD,
    DEFAULT_STRATEGY,
    EMBEDDED_METHOD,
)
from listrank.prompting.guard import GUARDS
from listrank.prompting.parsing import PARSE_MODES
from listrank.prompting.templates import BRACKET_RULES, CLEANERS, KEEP_LEAVES_OPEN
from listrank.registry import names

# CLI flag -> Reranker option; None values are left to the component defaults
_FLAG_OPTIONS = (
    "calibrate",
    "calibration_pool",
    "calibration_blocks",
    "permutations",
    "fusion",
    "fusion_weight",
    "template",
    "window",
    "step",
    "passes",
    "batch_size",
    "max_passage_words",
    "device",
    "parse",
    "brackets",
    "clean_text",
    "guard",
    "top_k_candidates",
    "base_url",
    "context_length",
    "tensor_parallel_size",
    "rank_start",
    "shuffle_candidates",
)
# rank_llm's flag names, accepted with a one-line note of listrank's name
RANK_LLM_NAMES = {
    "--window-size": "--window",
    "--stride": "--step",
    "--num-passes": "--passes",
    "--context-size": "--context-length",
    "--num-gpus": "--tensor-parallel-size",
}


class _RankLlmName(argparse._StoreAction):
    """Stores the value; when rank_llm's name was typed, says listrank's (on stderr)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if option_string in RANK_LLM_NAMES:
            print(
                f"listrank: note: {option_string} is rank_llm's name for "
                f"{RANK_LLM_NAMES[option_string]}",
                file=sys.stderr,
            )
        super().__call__(parser, namespace, values, option_string)


def add_component_options(p: argparse.ArgumentParser, *, pipeline_source: bool = True) -> None:
    """The component flags; ``pipeline_source=False`` leaves out --config and --preset (``ab``
    names its pipelines as arguments and applies these flags to each)."""
    g = p.add_argument_group("pipeline")
    if pipeline_source:
        g.add_argument("--config", help="pipeline TOML file; the flags below override it")
        g.add_argument(
            "--preset",
            help="a known checkpoint's or paper's setup (see `listrank presets list`); the "
            "flags below override it",
        )
    g.add_argument(
        "--parse",
        choices=PARSE_MODES,
        help="how answers are read: listrank (bracketed ids when present; default) or rankgpt "
        "(every digit run, as the reference code)",
    )
    g.add_argument(
        "--brackets",
        choices=BRACKET_RULES,
        help="'[' ']' in passages: neutralize (to '(' ')', default), numbers (only bracketed "
        "identifiers: '[12]' as rank_llm, and '[B]' for letter templates), keep (as the original "
        f"RankGPT: {KEEP_LEAVES_OPEN})",
    )
    g.add_argument(
        "--clean-text", choices=CLEANERS, help="repair mojibake with ftfy (as rank_llm) or not"
    )
    g.add_argument(
        "--guard",
        choices=GUARDS,
        help="delimit: wrap each passage in <passage>...</passage> and tell the model passages "
        "are data (changes every prompt; default none, the reference prompts)",
    )
    g.add_argument(
        "--top-k-candidates",
        type=int,
        metavar="K",
        help="rerank only the first K candidates; the rest follow below them in input order",
    )
    g.add_argument(
        "--rank-start",
        type=int,
        metavar="I",
        help="keep the first I candidates on top, unjudged (rank_llm's rank_start)",
    )
    g.add_argument(
        "--shuffle-candidates",
        type=int,
        metavar="SEED",
        help="shuffle the candidates to rerank with SEED before judging (rank_llm's "
        "--shuffle-candidates, seeded)",
    )
    g.add_argument(
        "--backend",
        default=None,
        help=f"model runner: {', '.join(cli_backends())} (default {DEFAULT_BACKEND})",
    )
    g.add_argument(
        "--model",
        default=None,
        help="model path or hub name (default: the embedded SmolLM2-135M-Instruct)",
    )
    g.add_argument(
        "--method",
        default=None,
        help=f"block judge: {', '.join(names('method'))} (default {EMBEDDED_METHOD} on the "
        f"embedded model, {DEFAULT_METHOD} on a named one)",
    )
    g.add_argument(
        "--strategy",
        default=None,
        help=f"block plan: {', '.join(names('strategy'))} (default {DEFAULT_STRATEGY})",
    )
    g.add_argument("--template", help="prompt template name (see `listrank prompts list`) or file")
    g.add_argument(
        "--window",
        "--window-size",
        type=int,
        action=_RankLlmName,
        help="block size (sliding/single window)",
    )
    g.add_argument("--step", "--stride", type=int, action=_RankLlmName, help="sliding window step")
    g.add_argument(
        "--passes", "--num-passes", type=int, action=_RankLlmName, help="sliding window passes"
    )
    g.add_argument(
        "--base-url",
        help="OpenAI-compatible server(s) for --backend openai, e.g. http://127.0.0.1:8000/v1 "
        "(comma-separated for several)",
    )
    g.add_argument(
        "--context-length",
        "--context-size",
        type=int,
        action=_RankLlmName,
        help="the model's context in tokens (hf, openai; vllm: max_model_len)",
    )
    g.add_argument(
        "--tensor-parallel-size",
        "--num-gpus",
        type=int,
        action=_RankLlmName,
        help="GPUs one vLLM engine spans (vllm backend)",
    )
    g.add_argument("--batch-size", type=int, help="blocks per forward batch (hf backend)")
    g.add_argument("--max-passage-words", type=int, help="truncate passages to this many words")
    g.add_argument(
        "--calibrate",
        nargs="?",
        const="content-free",
        choices=CALIBRATIONS,
        default=None,
        help="subtract a per-slot position prior (score methods: first, icr): measured on "
        "'N/A' passages (content-free, the default), or on random blocks of real passages "
        "(reference; drawn from --calibration-pool, by default the input file)",
    )
    g.add_argument(
        "--calibration-pool",
        metavar="FILE",
        help="JSONL requests whose queries and passages the reference prior is drawn from",
    )
    g.add_argument(
        "--calibration-blocks",
        type=int,
        help="random blocks the reference prior averages over (default 8)",
    )
    g.add_argument(
        "--permutations", type=int, help="judge K orderings of every block and average the ranks"
    )
    g.add_argument(
        "--fusion",
        choices=("rrf", "linear"),
        help="blend the LLM ranking with the first-stage order",
    )
    g.add_argument("--fusion-weight", type=float, help="weight of the LLM ranking (0.5)")
    g.add_argument("--device", help="hf backend device: auto, cpu, cuda, cuda:1 …")
    g.add_argument(
        "--option",
        "-O",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other component option; VALUE is parsed as JSON when it can be",
    )


def component_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name in _FLAG_OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    for item in args.option:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option {item!r}: expected KEY=VALUE")
        try:
            options[key.replace("-", "_")] = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON (or absurd JSON): the plain string
            options[key.replace("-", "_")] = raw
    return options


def cli_backends() -> list[str]:
    """Backends the CLI offers: the fake one only scripts answers from Python."""
    return [n for n in names("backend") if n != "fake"]


def check_runnable(cfg: PipelineConfig) -> PipelineConfig:
    """Commands that call a model refuse the fake backend with the fix, before any work."""
    if cfg.backend.name == "fake":
        raise ConfigError(
            "the fake backend only answers what Python code scripts into it "
            "(listrank.backends.fake.FakeBackend); from the command line use "
            f"{', '.join(cli_backends())} (--backend hf with no --model runs the embedded model)"
        )
    return cfg


def pipeline_config(args: argparse.Namespace, *, dry_run_ok: bool = False) -> PipelineConfig:
    """The pipeline from --config (or defaults), with command-line flags winning.
    ``dry_run_ok``: the command calls no model (plan, config show), so the fake backend may
    stand in for counting."""
    preset = getattr(args, "preset", None)
    if preset and args.config:
        raise ConfigError("--preset and --config both set the pipeline; use one of them")
    if preset:
        base = PipelineConfig.from_preset(preset)
    else:
        base = PipelineConfig.from_file(args.config) if args.config else PipelineConfig()
    if getattr(args, "brackets", None) == "keep":
        print(f"listrank: --brackets keep: {KEEP_LEAVES_OPEN}", file=sys.stderr)
    cfg = base.with_overrides(
        backend=args.backend,
        model=args.model,
        method=args.method,
        strategy=args.strategy,
        options=component_options(args),
    )
    cfg = _backend_names(cfg)
    return cfg if dry_run_ok else check_runnable(cfg)


def _backend_names(cfg: PipelineConfig) -> PipelineConfig:
    """--context-length is vLLM's max_model_len."""
    loose = dict(cfg.extra.get("_loose", {}))
    if cfg.backend.name != "vllm" or "context_length" not in loose:
        return cfg
    loose["max_model_len"] = loose.pop("context_length")
    return dataclasses.replace(cfg, extra={**cfg.extra, "_loose": loose})


def flags_under(data: Mapping[str, Any], source: str, args: argparse.Namespace) -> PipelineConfig:
    """``ab``: the component flags apply to every system, and what a system's own file (or
    preset) sets wins over them, key by key."""
    merged: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}
    for layer in LAYERS:
        section = dict(merged.get(layer) or {})
        flag = getattr(args, layer, None)
        if flag is not None and "name" not in section:
            section["name"] = flag
        if layer == "backend" and args.model is not None and "model" not in section:
            section["model"] = args.model
        if section:
            merged[layer] = section
    cfg = PipelineConfig.from_dict(merged, source)
    in_file = {key for layer in LAYERS for key in (data.get(layer) or {})}
    loose = {k: v for k, v in component_options(args).items() if k not in in_file}
    return check_runnable(_backend_names(cfg.with_overrides(options=loose)))


def add_trace_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trace",
        metavar="FILE.jsonl",
        help="write one JSON line per model call: qid, stage, block, prompt messages, raw "
        "answer, parsed order, repairs, tokens, latency, cached",
    )
