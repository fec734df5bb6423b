"""`listrank config init | show | check`, and `serve` taking the same component flags."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from listrank.cli import build_parser, main
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.schema import INIT_TEXT, effective


def test_init_is_a_valid_commented_file_that_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "init"]) == 0
    text = capsys.readouterr().out
    assert text == INIT_TEXT
    data = tomllib.loads(text)
    assert data == {
        "backend": {"name": "hf"},
        "method": {},  # unset: it follows the model (icr on the embedded one)
        "strategy": {"name": "sliding", "window": 20},
    }
    for section in ("[fusion]", "[prefilter]", "[cache]"):
        assert f"# {section}" in text  # documented, commented out
    target = tmp_path / "p.toml"
    assert main(["config", "init", "-o", str(target)]) == 0
    assert target.read_text() == INIT_TEXT
    assert main(["config", "check", str(target)]) == 0
    assert "ok (backend hf, method icr, strategy sliding)" in capsys.readouterr().out
    assert main(["config", "init", "-o", str(target)]) == 2  # never overwrites
    assert "exists" in capsys.readouterr().err


def test_show_prints_file_flags_and_defaults_as_loadable_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "p.toml"
    config.write_text('[method]\nname = "first"\n[strategy]\nname = "sliding"\nstep = 5\n')
    assert main(["config", "show", "--config", str(config), "--window", "8"]) == 0
    text = capsys.readouterr().out
    data = tomllib.loads(text)
    assert data["method"]["name"] == "first" and data["method"]["template"] == "first_alpha"
    assert data["strategy"] == {
        "name": "sliding",
        "window": 8,
        "step": 5,
        "passes": 1,
        "last_window": "full",
    }
    assert data["backend"]["batch_size"] == 8 and "# model = (unset)" in text
    assert data["method"]["permutations"] == 1  # the Reranker's own options, with defaults
    # what it prints is a complete pipeline: loading it gives the same effective config
    saved = tmp_path / "show.toml"
    saved.write_text(text)
    again = effective(PipelineConfig.from_file(saved))
    assert again["strategy"] == data["strategy"] and again["method"]["name"] == "first"
    assert main(["config", "check", str(saved)]) == 0


def test_check_reports_the_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[strategy]\nname = "sliding"\npivot = 3\n')
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: option 'pivot' belongs to strategy tdpart" in err
    bad.write_text('[backend]\nmodel = "/nowhere/model"\n')
    assert main(["config", "check", str(bad)]) == 2
    assert "model path '/nowhere/model' does not exist" in capsys.readouterr().err
    bad.write_text("[fusion]\nmethod = 'rff'\n")
    assert main(["config", "check", str(bad)]) == 2
    assert "unknown fusion 'rff'; choose rrf, linear" in capsys.readouterr().err


def test_serve_takes_the_rerank_component_flags(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["serve", "--method", "first", "--strategy", "tdpart", "--window", "5", "-O", "pivot=2"]
    )
    assert (args.method, args.strategy, args.window, args.option) == (
        "first",
        "tdpart",
        5,
        ["pivot=2"],
    )
    # and checks them before loading a model
    assert main(["serve", "--strategy", "sliding", "-O", "pivot=2"]) == 2
    assert "belongs to strategy tdpart" in capsys.readouterr().err


def test_loading_bar_hidden_unless_verbose(tiny_model_dir: Path, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    env.pop("TRANSFORMERS_VERBOSITY", None)
    request = {"qid": "1", "query": "q", "candidates": [{"docid": "a", "text": "x"}]}
    (tmp_path / "in.jsonl").write_text(json.dumps(request) + "\n")
    # `rerank` loads the weights (`plan` no longer does: it reads the tokenizer alone)
    rerank = ["rerank", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl")]
    rerank += ["--model", str(tiny_model_dir), "--method", "first", "--device", "cpu"]

    def stderr(*pre: str) -> str:
        (tmp_path / "out.jsonl").unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "listrank", *pre, *rerank]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        return done.stderr

    assert "Loading weights" not in stderr()
    assert "Loading weights" in stderr("--verbose")
