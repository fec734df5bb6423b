"""The `listrank` command. Each subcommand lives in its own module with add_parser/run."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import typing
from collections.abc import Sequence
from typing import Any

from listrank.cli.arenas import limit_malloc_arenas
from listrank.errors import InputError, ListrankError, did_you_mean

_COMMANDS = (
    "listrank.cli.rerank",
    "listrank.cli.prompts_cmd",
    "listrank.cli.presets_cmd",
    "listrank.cli.plan",
    "listrank.cli.serve",
    "listrank.cli.mcp_cmd",
    "listrank.cli.batch",
    "listrank.cli.eval",
    "listrank.cli.ab",
    "listrank.cli.view",
    "listrank.cli.config_cmd",
    "listrank.cli.datasets_cmd",
)


class _Parser(argparse.ArgumentParser):
    """argparse with "did you mean" for a mistyped subcommand or choice."""

    def error(self, message: str) -> typing.NoReturn:
        if "invalid choice: '" in message:
            bad = message.split("invalid choice: '", 1)[1].split("'", 1)[0]
            choices = message.split("(choose from", 1)[-1]
            names = [c.strip(" '\")") for c in choices.split(",")]
            message += did_you_mean(bad, names)
        # the error (and its suggestion) first; the usage after it, for context
        self.exit(2, f"{self.prog}: error: {message}\n{self.format_usage()}")


def _version() -> str:
    """The installed distribution's version (as ``listrank.__version__``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("listrank")
    except PackageNotFoundError:
        return "0+unknown"


def _unrecognized(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    flags = [s for a in parser._actions for s in a.option_strings]
    hints = [f"{x}{did_you_mean(x.split('=')[0], flags)}" for x in extras]
    return f"unrecognized arguments: {' '.join(hints)}"


def build_parser() -> argparse.ArgumentParser:
    from importlib import import_module

    parser = _Parser(
        prog="listrank", description="Rerank search candidates with large language models."
    )
    parser.add_argument("--version", action="version", version=f"listrank {_version()}")
    parser.add_argument(
        "--verbose", action="store_true", help="show the model libraries' loading bars and logs"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in _COMMANDS:
        import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        command_parser = subparsers.choices[args.command]
        # only the error and its suggestion: a 25-line usage dump would bury "did you mean"
        print(
            f"{command_parser.prog}: error: {_unrecognized(command_parser, extras)}\n"
            f"(`{command_parser.prog} --help` lists every option)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    limit_malloc_arenas()  # before any thread: see arenas.py
    if args.verbose:
        os.environ["LISTRANK_VERBOSE"] = "1"  # listrank.backends.quiet: show the bars
    else:
        quiet_model_libraries()
    previous = _install_interrupt_handler()
    try:
        from listrank.cli import datasets_cmd

        datasets_cmd.resolve(args)  # --dataset NAME: the cached run and qrels
        _spool_inputs(args)
        code: int = args.run(args)
    except ListrankError as exc:
        print(f"listrank: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("listrank: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return code


# arguments that name a file of requests, a run, qrels, a corpus or topics
_INPUT_ARGS = ("input", "run_file", "qrels", "corpus", "topics", "calibration_pool")


def _spool_inputs(args: argparse.Namespace) -> None:
    """``-`` (stdin) and read-once inputs (a FIFO, ``<(zcat …)``) become temporary copies, since
    a command reads its input more than once (checked first, reranked after)."""
    from listrank.runs import streams

    given = [name for name in _INPUT_ARGS if getattr(args, name, None) == streams.STDIO]
    if len(given) > 1:
        flags = ", ".join(f"--{n.replace('_', '-')}" for n in given)
        raise InputError(f"only one input can be '-' (stdin); {flags} all are")
    for name in _INPUT_ARGS:
        value = getattr(args, name, None)
        if isinstance(value, str):
            setattr(args, name, streams.local_input(value))


def _cancel_calls() -> None:
    from listrank.backends.aio import cancel_all

    cancel_all()


def _install_interrupt_handler() -> Any:
    """Ctrl-C stops the command (KeyboardInterrupt: in-flight calls are cancelled, finished
    work is kept); a second Ctrl-C while it winds down exits at once. Returns the handler it
    replaced (None off the main thread, where signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def second(signum: int, frame: Any) -> None:
        os.write(2, b"listrank: interrupted again: exiting now\n")
        os._exit(130)

    def first(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, second)
        # API calls in flight stop now, wherever the interrupt lands (from another thread: the
        # handler may run while this one holds a backend's lock)
        threading.Thread(target=_cancel_calls, name="listrank-cancel", daemon=True).start()
        raise KeyboardInterrupt

    return signal.signal(signal.SIGINT, first)


def quiet_model_libraries() -> None:
    """transformers' "Loading weights" bar and advisory logs stay hidden unless --verbose."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if "transformers" in sys.modules:  # already imported: its flag was read at import time
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    sys.exit(main())
