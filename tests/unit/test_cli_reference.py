"""The command reference (docs/cli-reference.md) is generated from the argparse parser: a test
fails when the committed page and the parser disagree, and every command and flag is on it."""

from __future__ import annotations

import argparse
from pathlib import Path

from listrank.cli import build_parser
from listrank.cli.reference import markdown, reference, subcommands

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli-reference.md"


def test_the_committed_reference_is_the_parser() -> None:
    assert PAGE.read_text(encoding="utf-8") == reference(), (
        "regenerate it: python -m listrank.cli.reference > docs/cli-reference.md"
    )


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    return [parser, *subcommands(parser)]


def test_every_command_and_flag_is_on_the_page() -> None:
    page = reference()
    for parser in _parsers(build_parser()):
        assert f"# {parser.prog}\n" in page
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}`" in page, (parser.prog, flag)


def test_a_flag_appears_with_its_value_default_choices_and_help() -> None:
    parser = argparse.ArgumentParser(prog="tool")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="do it", description="Runs it.")
    run.add_argument("path", help="where")
    run.add_argument("--mode", choices=("fast", "slow"), default="fast", help="how | when")
    run.add_argument(
        "--count", type=int, metavar="N", default=3, help="times (default %(default)s)"
    )
    run.add_argument("--dry-run", action="store_true", help="only say")
    run.add_argument("--hidden", help=argparse.SUPPRESS)
    page = markdown(parser)
    assert "## tool run\n\nDo it.\n" in page and "\nRuns it.\n" in page
    assert "tool run path [--mode {fast,slow}] [--count N] [--dry-run]\n" in page
    assert "| `path` |  |  | where |" in page
    assert "| `--mode` | `{fast,slow}` | `fast` | how \\| when |" in page  # a | stays in its cell
    assert "| `--count` | `N` | `3` | times (default 3) |" in page
    assert "| `--dry-run` |  |  | only say |" in page
    assert "--hidden" not in page
    assert "| [`run`](#tool-run) | do it |" in page
