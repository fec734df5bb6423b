"""`listrank presets list | show NAME`."""

from __future__ import annotations

import argparse
from typing import Any

from listrank.prompting.presets import load_preset, preset_names


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "presets", help="setups of known checkpoints and papers (prompt, method, plan)"
    )
    ps = p.add_subparsers(dest="presets_command", required=True)
    ps.add_parser("list", help="preset names, checkpoints and descriptions").set_defaults(
        run=run_list
    )
    show = ps.add_parser("show", help="everything a preset sets, and where it comes from")
    show.add_argument("name")
    show.set_defaults(run=run_show)


def run_list(args: argparse.Namespace) -> int:
    for name in preset_names():
        p = load_preset(name)
        print(f"{name:12s} {p.description}\n{'':12s} checkpoints: {', '.join(p.checkpoints)}")
    return 0


def _options(section: Any) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in section.items() if k != "name")


def run_show(args: argparse.Namespace) -> int:
    p = load_preset(args.name)
    print(f"preset:      {p.name}\n{p.description}")
    print(f"checkpoints: {', '.join(p.checkpoints)}")
    print(f"method:      {p.method['name']} ({_options(p.method)})")
    print(f"strategy:    {p.strategy['name']} ({_options(p.strategy)})")
    print(f"decoding:    {p.decoding}")
    print(f"text:        {p.text}")
    print(f"source:      {p.source}")
    print(f"file:        {p.path}")
    return 0
