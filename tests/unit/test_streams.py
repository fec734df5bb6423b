"""Outputs that are symlinks, FIFOs, devices or our own descriptors are written through, never
replaced; ``-`` is stdin/stdout; gzip inputs are read. Each test checks that nothing but the
target changed."""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from listrank.cli import main
from listrank.runs.io import atomic_writer, iter_lines
from listrank.runs.streams import is_stream, local_input, own_descriptor


def snapshot(folder: Path) -> dict[str, tuple[str, str]]:
    """Every entry of a folder: its kind and its link target or content."""
    out = {}
    for p in sorted(folder.iterdir()):
        if p.is_symlink():
            out[p.name] = ("link", os.readlink(p))
        elif stat.S_ISFIFO(p.lstat().st_mode):
            out[p.name] = ("fifo", "")
        elif p.is_dir():
            out[p.name] = ("dir", "")
        else:
            out[p.name] = ("file", p.read_text())
    return out


def test_symlink_output_replaces_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "results.jsonl").write_text("old\n")
    (data / "other.txt").write_text("untouched\n")
    link = tmp_path / "out.jsonl"
    link.symlink_to("data/results.jsonl")  # relative, as `ln -s` makes them
    link_inode = link.lstat().st_ino
    with atomic_writer(link) as fh:
        fh.write("new\n")
    assert link.is_symlink() and os.readlink(link) == "data/results.jsonl"
    assert link.lstat().st_ino == link_inode
    assert snapshot(data) == {
        "other.txt": ("file", "untouched\n"),
        "results.jsonl": ("file", "new\n"),
    }


def test_a_failed_write_through_a_symlink_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("old\n")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    before = snapshot(tmp_path)
    with pytest.raises(RuntimeError), atomic_writer(tmp_path / "link") as fh:
        fh.write("half")
        raise RuntimeError("the run failed")
    assert snapshot(tmp_path) == before  # no temporary file left either


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("made.jsonl")
    with atomic_writer(tmp_path / "link") as fh:
        fh.write("x\n")
    assert snapshot(tmp_path) == {"link": ("link", "made.jsonl"), "made.jsonl": ("file", "x\n")}


def test_fifo_output_is_streamed_to(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    assert is_stream(fifo)
    with atomic_writer(fifo) as fh:
        fh.write("line 1\nline 2\n")
    reader.join(timeout=10)
    assert received == ["line 1\nline 2\n"]
    assert snapshot(tmp_path) == {"pipe": ("fifo", "")}


def test_a_link_to_a_device_writes_the_device(tmp_path: Path) -> None:
    (tmp_path / "null").symlink_to("/dev/null")
    with atomic_writer(tmp_path / "null") as fh:
        fh.write("discarded\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert snapshot(tmp_path) == {"null": ("link", "/dev/null")}


def test_a_link_to_our_own_descriptor_shares_it(tmp_path: Path) -> None:
    """Like /dev/stdout → /proc/self/fd/1: the output goes down the descriptor, at its offset
    (a shell's `>>` keeps what was there), and no path is replaced."""
    log = tmp_path / "log.txt"
    log.write_text("earlier\n")
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    read_end, write_end = os.pipe()
    try:
        (tmp_path / "stdout-like").symlink_to(f"/proc/self/fd/{fd}")
        (tmp_path / "pipe-like").symlink_to(f"/dev/fd/{write_end}")
        assert own_descriptor(tmp_path / "stdout-like") == fd
        before = snapshot(tmp_path)
        with atomic_writer(tmp_path / "stdout-like") as fh:
            fh.write("appended\n")
        with atomic_writer(tmp_path / "pipe-like") as fh:
            fh.write("through the pipe\n")
        os.close(write_end)
        write_end = -1
        assert os.read(read_end, 1000) == b"through the pipe\n"
        after = snapshot(tmp_path)
        assert after.pop("log.txt") == ("file", "earlier\nappended\n")
        before.pop("log.txt")
        assert after == before
    finally:
        os.close(fd)
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


def test_gzip_inputs_are_read_whatever_their_name(tmp_path: Path) -> None:
    for name in ("in.jsonl.gz", "in.jsonl"):
        (tmp_path / name).write_bytes(gzip.compress(b'{"a": 1}\n\n{"b": 2}\n'))
        assert [n for n, _ in iter_lines(tmp_path / name)] == [1, 3]


def test_a_fifo_input_is_copied_once_so_it_can_be_read_twice(tmp_path: Path) -> None:
    fifo = tmp_path / "in"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text("one\ntwo\n"))
    writer.start()
    copy = local_input(str(fifo))
    writer.join(timeout=10)
    assert copy != str(fifo)
    first, second = ([t for _, t in iter_lines(copy)] for _ in range(2))
    assert first == second == ["one\n", "two\n"]


def _request(qid: str, n: int) -> str:
    cands = [{"docid": f"{qid}-{i}", "text": f"passage {i}", "score": 9.0 - i} for i in range(n)]
    return json.dumps({"qid": qid, "query": f"query {qid}", "candidates": cands})


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_rerank_reads_gzip_stdin_and_writes_through_a_symlink(
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "latest.jsonl").symlink_to("runs/today.jsonl")
    _stdin(monkeypatch, gzip.compress(f"{_request('1', 5)}\n{_request('2', 3)}\n".encode()))
    args = ["rerank", "-", "-o", "latest.jsonl", "--model", str(tiny_model_dir), "--no-progress"]
    assert main(args) == 0
    rows = [json.loads(x) for x in (tmp_path / "runs" / "today.jsonl").read_text().splitlines()]
    assert [r["qid"] for r in rows] == ["1", "2"]
    assert sorted(c["docid"] for c in rows[0]["candidates"]) == [f"1-{i}" for i in range(5)]
    assert snapshot(tmp_path)["latest.jsonl"] == ("link", "runs/today.jsonl")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["latest.jsonl", "runs", "today.jsonl"]
    assert capsys.readouterr().out == ""  # the summary went to stderr


def test_rerank_to_stdout_with_dash(
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text(_request("q", 4) + "\n")
    args = ["rerank", "in.jsonl", "-o", "-", "--model", str(tiny_model_dir), "--no-progress"]
    assert main(args) == 0
    captured = capsys.readouterr()
    (row,) = [json.loads(x) for x in captured.out.splitlines()]
    assert row["qid"] == "q" and len(row["candidates"]) == 4
    assert "wrote <stdout>" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no file named '-'


def test_eval_reads_the_run_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    qrels = tmp_path / "qrels.gz"
    qrels.write_bytes(gzip.compress(b"1 0 a 1\n1 0 b 0\n"))
    _stdin(monkeypatch, b"1 Q0 b 1 2.0 t\n1 Q0 a 2 1.0 t\n")
    assert main(["eval", "-", "--qrels", str(qrels), "--metrics", "RR@10", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["means"]["RR@10"] == pytest.approx(0.5)


def test_only_one_input_may_be_stdin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "-", "--qrels", "-"]) == 2
    assert "only one input can be '-'" in capsys.readouterr().err


def test_config_show_with_an_error_prints_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "icr.toml"
    assert main(["config", "show", "--method", "rankgtp", "-o", str(target)]) == 2
    assert main(["config", "show", "--method", "rankgtp"]) == 2  # as `> icr.toml` would see it
    assert not target.exists() and capsys.readouterr().out == ""
    assert main(["config", "show", "--method", "icr", "-o", str(target)]) == 0
    assert 'name = "icr"' in target.read_text()
