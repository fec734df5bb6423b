"""The docs' walk-through (docs/walkthrough.md: from `make demo` to an A/B against the first
stage), command by command as written there, on the tiny random model and 10 DL19 queries."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from listrank.cli import main

WALKTHROUGH = Path(__file__).resolve().parents[2] / "docs" / "walkthrough.md"


def walkthrough_commands() -> list[str]:
    text = WALKTHROUGH.read_text(encoding="utf-8")
    block = re.search(r"<!-- walkthrough -->\n```sh\n(.*?)```\n<!-- /walkthrough -->", text, re.S)
    assert block, "docs/walkthrough.md lost its walk-through block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_docs_walkthrough_runs_on_the_tiny_model(
    tmp_path: Path,
    data_dir: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dl19 = data_dir / "trec-dl19-passage"
    files = {
        "dl19.bm25.top100.jsonl": str(dl19 / "dl19.bm25.top100.normalized.jsonl"),
        "qrels.dl19-passage.txt": str(dl19 / "qrels.dl19-passage.txt"),
    }
    monkeypatch.chdir(tmp_path)
    commands = walkthrough_commands()
    assert commands[0] == "make demo"  # the environment this test already runs in
    ran = []
    for command in commands[1:]:
        words = [files.get(w, w) for w in shlex.split(command)]
        if words[0] == ".":  # activating the venv
            continue
        if words[0] == "head":  # head -n 10 SRC > DST
            n, src, dst = int(words[2]), words[3], words[5]
            with open(src, encoding="utf-8") as fh:
                Path(dst).write_text("".join(fh.readline() for _ in range(n)), encoding="utf-8")
            ran.append("head")
            continue
        assert words[0] == "listrank", command
        argv, target = words[1:], None
        if ">" in argv:
            argv, target = argv[: argv.index(">")], argv[argv.index(">") + 1]
        if argv[:2] == ["config", "show"]:
            argv += ["--model", str(tiny_model_dir)]  # the tiny model instead of the embedded one
        assert main([*argv, "--no-progress"] if argv[0] == "ab" else argv) == 0, command
        out = capsys.readouterr().out
        if target:
            Path(target).write_text(out, encoding="utf-8")
        ran.append(" ".join(argv[:2]))
    assert ran == [
        "head",
        "config show",
        "config show",
        "config check",
        "config check",
        "ab icr.toml",
    ]
    report = json.loads(Path("ab/report.json").read_text())
    assert report["systems"] == ["first-stage", "icr", "first"]
    assert report["baseline"] == "first-stage" and report["queries"] == 10
    assert {(c["metric"], c["system"]) for c in report["comparisons"]} == {
        ("nDCG@10", "icr"),
        ("nDCG@10", "first"),
    }
    assert all(len(c["diffs"]) == 10 for c in report["comparisons"])
    first_stage = report["seed_means"]["first-stage"]["nDCG@10"][0]
    assert 0.3 < first_stage < 0.8  # BM25's own order on these 10 queries
    assert Path("ab/differences.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    calls = [json.loads(x) for x in Path("ab/calls.jsonl").read_text().splitlines()]
    assert len(calls) == 20 and {c["system"] for c in calls} == {"icr", "first"}
    assert sorted(p.name for p in Path("ab/runs").iterdir()) == [
        "first-stage.trec",
        "first.trec",
        "icr.trec",
    ]
