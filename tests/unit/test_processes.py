"""`listrank rerank --processes N` shards queries over worker processes: the output is the
one a single process writes, and a journal resumes whatever the process count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listrank.cli import main
from tests.support.fake_openai import FakeOpenAIServer


def write_input(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for q in range(n):
            words = 40 if q == 3 else 3  # query 3 is long: a small server limit refuses it
            cands = [
                {"docid": f"{q}-{d}", "text": f"passage {d} of query {q} " + "word " * words}
                for d in range(6)
            ]
            fh.write(json.dumps({"qid": f"q{q}", "query": f"query {q}", "candidates": cands}))
            fh.write("\n")
    return path


def rerank(src: Path, out: Path, url: str, *extra: str) -> int:
    return main(
        ["rerank", str(src), "-o", str(out), "--backend", "openai", "--model", "m",
         "-O", f"base_url={url}", "--window", "3", "--step", "2", "--no-progress", *extra]
    )  # fmt: skip


def test_two_processes_write_what_one_writes_and_resume_its_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_input(tmp_path / "in.jsonl", 8)
    with FakeOpenAIServer() as server:
        assert rerank(src, tmp_path / "one.jsonl", server.url) == 0
        assert rerank(src, tmp_path / "two.jsonl", server.url, "--processes", "2") == 0
        one = (tmp_path / "one.jsonl").read_bytes()
        assert (tmp_path / "two.jsonl").read_bytes() == one
        assert len(one.splitlines()) == 8
        # one query refused: the others are kept in the journal; two processes resume it
        server.max_prompt_chars = 820  # the others are 800
        out = tmp_path / "resumed.jsonl"
        assert rerank(src, out, server.url, "--processes", "2") == 2
        assert "q3" in capsys.readouterr().err and not out.exists()
        server.max_prompt_chars = None
        assert rerank(src, out, server.url) == 0
        assert "resuming: 7 of 8" in capsys.readouterr().err
        assert out.read_bytes() == one


def test_processes_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_input(tmp_path / "in.jsonl", 1)
    assert rerank(src, tmp_path / "o.jsonl", "http://127.0.0.1:9", "--processes", "0") == 2
    assert "--processes must be >= 1" in capsys.readouterr().err
