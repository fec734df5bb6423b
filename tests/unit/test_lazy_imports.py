"""Commands that call no model load no model library: `plan` (with a backend that needs no
weights to count) and `config` import neither torch, transformers, openai nor scipy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "openai", "scipy")
REPO = Path(__file__).resolve().parents[2]

PROBE = """
import contextlib, io, json, sys
from listrank.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(json.loads(sys.argv[1]))
heavy = json.loads(sys.argv[2])
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def loaded_by(argv: list[str]) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(HEAVY)],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=True,
    )  # fmt: skip
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, proc.stderr
    return list(result["loaded"])


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--backend", "fake", "--n", "100", "--strategy", "jointrank"],
        ["plan", "--backend", "fake", "--n", "100", "--json"],
        ["config", "show", "--strategy", "jointrank"],
        ["config", "init"],
    ],
    ids=["plan-jointrank", "plan-json", "config-show", "config-init"],
)
def test_no_model_library_is_imported(argv: list[str]) -> None:
    assert loaded_by(argv) == []


def test_config_check_imports_none(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('[backend]\nname = "openai"\nmodel = "m"\n[strategy]\nname = "jointrank"\n')
    assert loaded_by(["config", "check", str(cfg)]) == []
