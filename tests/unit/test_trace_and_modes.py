"""`--trace FILE.jsonl` on rerank and batch (its schema), and the modes of created files."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from listrank.cli import main
from listrank.runs.io import atomic_writer
from listrank.runs.trace import TRACE_KEYS

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.jsonl"


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rerank_trace_has_one_line_per_model_call_with_its_schema(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], umask_022: None
) -> None:
    out, trace = tmp_path / "out.jsonl", tmp_path / "calls.jsonl"
    argv = ["rerank", str(DEMO), "-o", str(out), "--model", str(tiny_model_dir), "--no-progress"]
    argv += ["--strategy", "single", "--window", "4", "-O", "max_new_tokens=6"]
    argv += ["--trace", str(trace)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    calls = int(err.split(" model calls")[0].rsplit(" ", 1)[1])
    assert len(lines) == calls > 0
    for line in lines:
        assert set(TRACE_KEYS) <= set(line)
        assert [m["role"] for m in line["messages"]][:2] == ["system", "user"]
        assert line["prompt"] is None
        assert sorted(line["ranked_docids"]) == sorted(line["docids"])
        assert sorted(line["order"]) == list(range(len(line["docids"])))
        assert isinstance(line["raw_answer"], str) and line["method"] == "rankgpt"
        assert set(line["repairs"]) == {
            "missing",
            "duplicates",
            "out_of_range",
            "malformed",
            "echo",
            "truncated",
            "cut_in_reasoning",
            "forced_answer",
        }
        assert line["prompt_tokens"] > 0 and line["latency_s"] >= 0 and line["cached"] is False
        assert line["block"].startswith("positions ")
    qids = [json.loads(x)["qid"] for x in DEMO.read_text().splitlines()]
    assert [q for q in dict.fromkeys(x["qid"] for x in lines)] == qids  # input order
    # the query's passages are in the prompt the model saw
    first_doc = json.loads(DEMO.read_text().splitlines()[0])["candidates"][0]
    assert any(first_doc["text"][:40] in m["content"] for x in lines for m in x["messages"])
    # outputs follow the umask (0644 here), not mkstemp's 0600
    assert mode(out) == 0o644 and mode(trace) == 0o644
    assert not (tmp_path / "out.jsonl.journal").exists()


def test_icr_trace_keeps_the_prompt_text(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "t.jsonl"
    argv = ["rerank", str(DEMO), "-o", str(tmp_path / "o.jsonl"), "--model", str(tiny_model_dir)]
    argv += ["--method", "icr", "--strategy", "single", "--no-progress", "--trace", str(trace)]
    assert main(argv) == 0
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    assert len(lines) == 3 and all(x["messages"] == [] and x["prompt"] for x in lines)
    assert all(len(x["scores"]) == len(x["docids"]) for x in lines)


def test_batch_trace_joins_shards_in_input_order(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], umask_022: None
) -> None:
    trace = tmp_path / "calls.jsonl"
    out = tmp_path / "out"
    argv = ["batch", str(DEMO), "-o", str(out), "--model", str(tiny_model_dir), "--no-progress"]
    argv += ["--method", "icr", "--strategy", "single", "--shard-size", "2"]
    assert main([*argv, "--trace", str(trace)]) == 0
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    qids = [json.loads(x)["qid"] for x in DEMO.read_text().splitlines()]
    assert [x["qid"] for x in lines] == qids
    assert sorted(p.name for p in (out / "trace").iterdir()) == [
        "shard-00000.jsonl",
        "shard-00001.jsonl",
    ]
    for path in (trace, out / "shard-00000.jsonl", out / "manifest.json", out / "summary.json"):
        assert mode(path) == 0o644, path


def test_atomic_writer_follows_a_stricter_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        with atomic_writer(tmp_path / "f.txt") as fh:
            fh.write("x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "f.txt") == 0o640
