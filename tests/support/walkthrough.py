"""The docs' walk-through (docs/walkthrough.md), command by command as written there, on the
tiny random model: shared by its own test and by the tests of what it produces."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from pathlib import Path

import pytest

from listrank.cli import main
from tests.unit.hub_cache import offline_dl19

WALKTHROUGH = Path(__file__).resolve().parents[2] / "docs" / "walkthrough.md"


def walkthrough_commands() -> list[str]:
    text = WALKTHROUGH.read_text(encoding="utf-8")
    block = re.search(r"<!-- walkthrough -->\n```sh\n(.*?)```\n<!-- /walkthrough -->", text, re.S)
    assert block, "docs/walkthrough.md lost its walk-through block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def run_walkthrough(folder: Path, data_dir: Path, tiny_model_dir: Path) -> list[str]:
    """Run every command in ``folder``; returns what ran (command and first argument)."""
    commands = walkthrough_commands()
    assert commands[0] == "make demo"  # the environment the tests already run in
    ran = []
    old = Path.cwd()
    os.chdir(folder)
    try:
        # `datasets get` and --dataset find DL19's run and qrels in caches laid out as the hub's
        with pytest.MonkeyPatch.context() as patch:
            offline_dl19(folder / "caches", patch, data_dir)
            for command in commands[1:]:
                ran.append(_run(command, tiny_model_dir))
    finally:
        os.chdir(old)
    return [r for r in ran if r]


def _run(command: str, tiny_model_dir: Path) -> str:
    words = shlex.split(command)
    if words[0] == ".":  # activating the venv
        return ""
    assert words[0] == "listrank", command
    argv, target = words[1:], None
    if ">" in argv:
        argv, target = argv[: argv.index(">")], argv[argv.index(">") + 1]
    if argv[:2] == ["config", "show"]:
        argv += ["--model", str(tiny_model_dir)]  # the tiny model, not the embedded one
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*argv, "--no-progress"] if argv[0] == "ab" else argv)
    assert code == 0, command
    if target:
        Path(target).write_text(out.getvalue(), encoding="utf-8")
    return " ".join(argv[:2])
