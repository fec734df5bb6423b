"""The `listrank` command. Each subcommand lives in its own module with add_parser/run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from listrank.errors import ListrankError

_COMMANDS = (
    "listrank.cli.rerank",
    "listrank.cli.prompts_cmd",
    "listrank.cli.presets_cmd",
    "listrank.cli.plan",
    "listrank.cli.serve",
    "listrank.cli.batch",
    "listrank.cli.eval",
    "listrank.cli.ab",
)


def build_parser() -> argparse.ArgumentParser:
    from importlib import import_module

    parser = argparse.ArgumentParser(
        prog="listrank", description="Rerank search candidates with large language models."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in _COMMANDS:
        import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except ListrankError as exc:
        print(f"listrank: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("listrank: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
