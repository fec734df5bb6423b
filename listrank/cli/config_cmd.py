"""`listrank config init | show | check`: the pipeline TOML, written, resolved and validated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from listrank.cli.common import add_component_options, pipeline_config
from listrank.errors import ConfigError
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.schema import INIT_TEXT, check, effective, options_table, to_toml
from listrank.runs.io import atomic_writer
from listrank.runs.streams import display_name


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "config",
        help="write, show or check a pipeline TOML file",
        description="The pipeline TOML that rerank, batch, ab, serve and "
        "PipelineConfig.from_file read (docs/configuration.md).",
    )
    cmds = p.add_subparsers(dest="config_command", required=True)
    init = cmds.add_parser("init", help="print (or write) a commented starting file")
    init.add_argument("-o", "--output", help="write here instead of printing (never overwrites)")
    init.set_defaults(run=_init)
    show = cmds.add_parser(
        "show",
        help="print the effective configuration: --config and flags over every default",
    )
    show.add_argument(
        "-o", "--output", help="write here (atomically, nothing on an error) instead of printing"
    )
    add_component_options(show)
    show.set_defaults(run=_show)
    table = cmds.add_parser(
        "table", help="print every component's declared options as a Markdown table"
    )
    table.set_defaults(run=_table)
    chk = cmds.add_parser("check", help="validate a file without loading a model")
    chk.add_argument("file", help="pipeline TOML, or preset:NAME")
    chk.set_defaults(run=_check)


def _init(args: argparse.Namespace) -> int:
    if not args.output:
        sys.stdout.write(INIT_TEXT)
        return 0
    if Path(args.output).exists():
        raise ConfigError(f"{args.output} exists; remove it or pick another name")
    with atomic_writer(args.output) as fh:
        fh.write(INIT_TEXT)
    print(f"listrank: wrote {args.output}", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    cfg = pipeline_config(args, dry_run_ok=True)
    # the whole text is built before a byte is written: an error leaves no header-only file
    text = f"# effective configuration ({cfg.source} + command-line flags)\n"
    text += to_toml(effective(cfg))
    if not args.output:
        sys.stdout.write(text)
        return 0
    with atomic_writer(args.output) as fh:
        fh.write(text)
    print(f"listrank: wrote {display_name(args.output)}", file=sys.stderr)
    return 0


def _table(args: argparse.Namespace) -> int:
    sys.stdout.write(options_table() + "\n")
    return 0


def _check(args: argparse.Namespace) -> int:
    if args.file.startswith("preset:"):  # a preset by name, as `ab` takes it
        cfg = PipelineConfig.from_preset(args.file.removeprefix("preset:"))
    else:
        cfg = PipelineConfig.from_file(args.file)
    check(cfg)
    print(
        f"{args.file}: ok (backend {cfg.backend.name}, method {cfg.method.name}, "
        f"strategy {cfg.strategy.name})"
    )
    return 0
