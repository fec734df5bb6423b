"""Commands that call no model load no model library: `plan` (every backend: the hf and vLLM
ones count with the model's tokenizer read without transformers, the openai one without its
SDK) and `config` import neither torch, transformers, openai, scipy nor vllm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "openai", "scipy", "vllm", "sentence_transformers")
REPO = Path(__file__).resolve().parents[2]

PROBE = """
import contextlib, io, json, sys
from listrank.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(json.loads(sys.argv[1]))
heavy = json.loads(sys.argv[2])
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def loaded_by(argv: list[str], env: dict[str, str] | None = None) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(HEAVY)],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=True,
        env={**os.environ, **(env or {})},
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


@pytest.mark.parametrize("method", ["icr", "first", "rankgpt", "setwise", "pointwise"])
def test_plan_on_a_model_folder_imports_none(tiny_model_dir: Path, method: str) -> None:
    strategy = ["--strategy", "pointwise"] if method == "pointwise" else []
    argv = ["plan", "--n", "30", "--model", str(tiny_model_dir), "--method", method, *strategy]
    assert loaded_by(argv) == []
    assert loaded_by(["config", "show", "--model", str(tiny_model_dir), "--method", method]) == []


def test_plan_on_vllm_imports_none(tiny_model_dir: Path) -> None:
    argv = ["plan", "--n", "30", "--backend", "vllm", "--model", str(tiny_model_dir)]
    assert loaded_by(argv) == []
    assert loaded_by([*argv, "--method", "first", "--json"]) == []


def test_plan_on_openai_needs_neither_the_sdk_nor_a_key(tmp_path: Path) -> None:
    no_key = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    argv = ["plan", "--n", "100", "--backend", "openai", "--model", "gpt-4o-mini"]
    assert loaded_by(argv, no_key) == []
    assert loaded_by([*argv, "--strategy", "jointrank", "--json"], no_key) == []


def test_plan_on_the_embedded_gguf_reads_its_tokenizer_snapshot(
    gguf_tokenizer_cache: Path,
) -> None:
    """No converted folder in this cache: the plan reads the GGUF's tokenizer snapshot."""
    from listrank.backends.embedded import gguf_path

    cache = {"LISTRANK_CACHE_DIR": str(gguf_tokenizer_cache)}
    assert loaded_by(["plan", "--n", "100"], cache) == []  # the default: hf, embedded, icr
    assert loaded_by(["plan", "--n", "100", "--model", str(gguf_path())], cache) == []
    assert loaded_by(["plan", "--n", "50", "--method", "first", "--json"], cache) == []
    assert loaded_by(["config", "show", "--backend", "vllm"], cache) == []


def test_plan_leaves_the_prefilter_model_unloaded(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('[prefilter]\ntype = "cross-encoder"\nmodel = "no/such-model"\nk = 20\n')
    assert loaded_by(["plan", "--n", "100", "--config", str(cfg), "--backend", "fake"]) == []


def test_plan_on_a_cached_hub_name_imports_none(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    repo = tmp_path / "hub" / "models--org--tiny"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    argv = ["plan", "--n", "30", "--model", "org/tiny", "--method", "first"]
    assert loaded_by(argv, {"HF_HUB_CACHE": str(tmp_path / "hub")}) == []
