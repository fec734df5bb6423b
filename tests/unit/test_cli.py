from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from listrank.cli import main


def write(path: Path, lines: list[str] | bytes) -> Path:
    if isinstance(lines, bytes):
        path.write_bytes(lines)
    else:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def flat(qid: str, query: str, n: int) -> str:
    cands = [
        {"docid": f"{qid}-{i}", "text": f"passage {i} [3] > [1]", "score": 10.0 - i}
        for i in range(n)
    ]
    return json.dumps({"qid": qid, "query": query, "candidates": cands})


def rank_llm(qid: str, query: str, n: int) -> str:
    cands = [
        {"docid": f"{qid}-{i}", "score": 1.0, "doc": {"contents": f"text {i}"}} for i in range(n)
    ]
    return json.dumps({"query": {"qid": qid, "text": query}, "candidates": cands})


GOOD = flat("1", "a query", 3)
BAD_INPUTS = {
    "not-json": ([GOOD, "{not json"], "line 2", "not valid JSON"),
    "missing-candidates": ([json.dumps({"qid": "1", "query": "q"})], "'candidates'", "missing"),
    "empty-query": ([json.dumps({"qid": "1", "query": " ", "candidates": []})], "'query'", "empty"),
    "zero-candidates": (
        [json.dumps({"qid": "1", "query": "q", "candidates": []})],
        "'candidates'",
        "no candidates",
    ),
    "duplicate-docid": (
        [
            json.dumps(
                {
                    "qid": "1",
                    "query": "q",
                    "candidates": [{"docid": "a", "text": "x"}, {"docid": "a", "text": "y"}],
                }
            )
        ],
        "candidates[1]",
        "duplicate docid",
    ),
    "missing-text": (
        [json.dumps({"qid": "1", "query": "q", "candidates": [{"docid": "a"}]})],
        "candidates[0]",
        "no text",
    ),
    "bad-score": (
        [
            json.dumps(
                {
                    "qid": "1",
                    "query": "q",
                    "candidates": [{"docid": "a", "text": "x", "score": "high"}],
                }
            )
        ],
        "candidates[0].score",
        "number",
    ),
    "rank-llm-no-text": (
        [json.dumps({"query": {"qid": "1"}, "candidates": []})],
        "'query.text'",
        "missing",
    ),
    "duplicate-qid": ([GOOD, GOOD], "line 2", "duplicate qid"),
    "empty-file": ([""], "", "no requests"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_one_line_error_and_no_output(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines, where, what = BAD_INPUTS[case]
    src = write(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"
    code = main(["rerank", str(src), "-o", str(out), "--backend", "fake", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("listrank: error:")
    assert where in err and what in err
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_invalid_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "in.jsonl", GOOD.encode() + b"\n" + b'{"qid": "\xff\xfe"}\n')
    out = tmp_path / "out.jsonl"
    assert main(["rerank", str(src), "-o", str(out), "--no-progress"]) == 2
    assert "line 2: invalid UTF-8" in capsys.readouterr().err
    assert not out.exists()


def test_missing_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rerank", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_rerank_both_formats_on_tiny_model(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write(tmp_path / "in.jsonl", [flat("1", "first query", 7), rank_llm("2", "second", 4)])
    out = tmp_path / "out.jsonl"
    args = [
        "rerank",
        str(src),
        "-o",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--window",
        "4",
        "--no-progress",
    ]
    assert main(args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["qid"] == "1" and rows[1]["query"]["qid"] == "2"  # each keeps its form
    assert sorted(c["docid"] for c in rows[0]["candidates"]) == [f"1-{i}" for i in range(7)]
    assert "doc" in rows[1]["candidates"][0]
    scores = [c["score"] for c in rows[0]["candidates"]]
    assert scores == sorted(scores, reverse=True)
    err = capsys.readouterr().err
    assert "11 queries" not in err and "2 queries" in err and "model calls" in err
    assert "repaired outputs" in err
    trec = tmp_path / "run.trec"
    assert main([*args[:3], str(trec), *args[4:], "--format", "trec"]) == 0
    lines = trec.read_text().splitlines()
    assert len(lines) == 11 and lines[0].split()[:2] == ["1", "Q0"]


def test_unknown_option_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write(tmp_path / "in.jsonl", [GOOD])
    code = main(["rerank", str(src), "-o", str(tmp_path / "o"), "-O", "colour=3"])
    assert code == 2 and "unknown option 'colour'" in capsys.readouterr().err
    assert not list(tmp_path.glob("o*"))  # checked before any output or journal exists


def test_prompts_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prompts", "list"]) == 0
    assert "rankgpt" in capsys.readouterr().out
    assert main(["prompts", "show", "rankgpt"]) == 0
    assert "Received passage [{id}]." in capsys.readouterr().out
    src = write(tmp_path / "in.jsonl", [flat("1", "my query", 3)])
    assert main(["prompts", "render", "rankgpt_single", "--input", str(src)]) == 0
    out = capsys.readouterr().out
    assert "my query" in out and "[3] passage 2 (3) > (1)" in out
    assert main(["prompts", "show", "nope"]) == 2


def test_plan_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--backend", "fake", "--n", "100", "--step", "15", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["calls"] == 7 and plan["depth"] == 7 and plan["prompt_tokens"] > 0


def test_console_script_runs() -> None:
    exe = Path(sys.executable).parent / "listrank"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "rerank" in proc.stdout


def test_config_file_and_flag_overrides(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "pipe.toml"
    cfg.write_text(
        f'[backend]\nname = "hf"\nmodel = "{tiny_model_dir}"\n'
        '[strategy]\nname = "sliding"\nwindow = 4\nstep = 2\n'
    )
    src = write(tmp_path / "in.jsonl", [flat("1", "q", 7)])
    out = tmp_path / "o.jsonl"
    assert main(["rerank", str(src), "-o", str(out), "--config", str(cfg), "--no-progress"]) == 0
    assert " 3 model calls" in capsys.readouterr().err
    assert (
        main(
            [
                "rerank",
                str(src),
                "-o",
                str(out),
                "--config",
                str(cfg),
                "--no-progress",
                "--window",
                "3",
                "--step",
                "1",
            ]
        )
        == 0
    )
    assert " 5 model calls" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[strategy]\nwindw = 3\n")
    assert main(["rerank", str(src), "-o", str(out), "--config", str(bad)]) == 2
    assert "bad.toml" in capsys.readouterr().err


def test_reference_calibration_draws_its_prior_from_the_input_file(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write(tmp_path / "in.jsonl", [flat("1", "first query", 4), flat("2", "second", 4)])
    base = ["rerank", str(src), "--model", str(tiny_model_dir), "--method", "first"]
    base += ["--strategy", "single", "--no-progress"]
    assert main([*base, "-o", str(tmp_path / "plain.jsonl")]) == 0
    plain = capsys.readouterr().err
    out = tmp_path / "calibrated.jsonl"
    assert (
        main([*base, "-o", str(out), "--calibrate", "reference", "--calibration-blocks", "3"]) == 0
    )
    calibrated = capsys.readouterr().err
    assert "2 model calls" in plain and "5 model calls" in calibrated  # + 3 prior blocks
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [sorted(c["docid"] for c in r["candidates"]) for r in rows] == [
        [f"{q}-{i}" for i in range(4)] for q in "12"
    ]
    # the default method only returns an order: calibrating it is a clean error
    code = main([*base[:4], "--no-progress", "-o", str(tmp_path / "x"), "--calibrate"])
    assert code == 2 and "scores each position" in capsys.readouterr().err
