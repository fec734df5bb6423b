"""A lone UTF-16 surrogate in an upstream answer (a valid JSON escape, but not text) is repaired
or escaped wherever it would be written, so the run, its trace and its resume all finish."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from listrank.backends.base import GenerationRequest
from listrank.backends.openai import OpenAIBackend
from listrank.cli import main
from listrank.runs.journal import Journal
from tests.support import scripted
from tests.support.hostile_server import HostileServer, chat
from tests.unit.test_resume import _entry


@pytest.fixture(autouse=True)
def _scripted_backend() -> Iterator[None]:
    with scripted.registered():
        yield


def _input(path: Path) -> Path:
    lines = []
    for q in range(3):
        cands = [{"docid": f"d{q}{i}", "text": f"passage {i}"} for i in range(3)]
        lines.append(json.dumps({"qid": f"q{q}", "query": f"query {q}", "candidates": cands}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_openai_backend_repairs_a_lone_surrogate() -> None:
    with HostileServer(lambda _: chat("\ud800[2] > [1] \udfff")) as server:
        backend = OpenAIBackend("m", base_url=server.url, max_attempts=1, timeout=5)
        try:
            (result,) = backend.generate(
                [GenerationRequest([{"role": "user", "content": "x"}], 5)]  # type: ignore[list-item]
            )
        finally:
            backend.close()
    assert result.text == "\ufffd[2] > [1] \ufffd"
    result.text.encode("utf-8")


def test_a_run_with_a_surrogate_answer_finishes_traces_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inp, out, trace = _input(tmp_path / "in.jsonl"), tmp_path / "out.jsonl", tmp_path / "t.jsonl"
    with HostileServer(lambda _: chat("[3] > [1] > [2] \udc80")) as server:
        args = ["rerank", str(inp), "-o", str(out), "--trace", str(trace), "--backend",
                "openai", "--model", "m", "--strategy", "single", "--no-progress",
                "-O", f"base_url={server.url}", "-O", "max_attempts=1"]  # fmt: skip
        with monkeypatch.context() as m:  # killed after journaling every query
            m.setattr(Journal, "remove", Journal.close)
            assert main(args) == 0
        first = out.read_bytes()
        assert main(args) == 0  # the resume reads the journal back
    assert out.read_bytes() == first
    docids = [c["docid"] for c in json.loads(first.splitlines()[0])["candidates"]]
    assert docids == ["d02", "d00", "d01"]
    assert len(trace.read_text(encoding="utf-8").splitlines()) == 3


def test_any_backend_s_surrogate_answer_is_journaled_and_traced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not every backend repairs its text: the journal and the trace escape it themselves."""
    monkeypatch.setattr(scripted, "answer", lambda r: "[2] > [1] > [3] \ud83d")
    inp, out, trace = _input(tmp_path / "in.jsonl"), tmp_path / "out.jsonl", tmp_path / "t.jsonl"
    args = ["rerank", str(inp), "-o", str(out), "--trace", str(trace), "--backend", "scripted"]
    args += ["--strategy", "single", "--no-progress"]
    with monkeypatch.context() as m:
        m.setattr(Journal, "remove", Journal.close)
        assert main(args) == 0
    first = out.read_bytes()
    assert main(args) == 0
    assert out.read_bytes() == first
    assert "\\ud83d" in trace.read_text(encoding="utf-8")


def test_journal_round_trips_a_surrogate(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", "fp")
    entry = _entry("q\udc00")
    journal.append(entry)
    journal.close()
    again = Journal(tmp_path / "j", "fp")
    assert set(again.done) == {"q\udc00"}
    again.close()
