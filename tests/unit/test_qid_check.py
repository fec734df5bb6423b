"""Duplicate qids of a streamed input are found from 8-byte digests, and a digest collision
never refuses a good file."""

from __future__ import annotations

import pytest

from listrank.runs.io import QidCheck


def pairs(qids: list[str]) -> list[tuple[int, str]]:
    return list(enumerate(qids, start=1))


def test_finds_the_first_repeat_and_its_position() -> None:
    qids = [f"q{i}" for i in range(1000)] + ["q7", "q3"]
    check = QidCheck()
    for q in qids:
        check.add(q)
    assert check.duplicate(lambda: pairs(qids)) == (1001, "q7")


def test_unique_qids_pass_without_rereading() -> None:
    check = QidCheck()
    for i in range(1000):
        check.add(f"q{i}")
    assert check.duplicate(lambda: pytest.fail("re-read without a repeated digest")) is None


def test_a_digest_collision_is_checked_against_the_qids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QidCheck, "_digest", staticmethod(lambda qid: 42))  # all collide
    qids = ["a", "b", "c"]
    check = QidCheck()
    for q in qids:
        check.add(q)
    assert check.duplicate(lambda: pairs(qids)) is None
    check.add("b")
    assert check.duplicate(lambda: pairs([*qids, "b"])) == (4, "b")


@pytest.mark.parametrize("run", [1, 3, 7, 1000])
def test_a_repeat_is_found_across_sorted_runs(monkeypatch: pytest.MonkeyPatch, run: int) -> None:
    """The digests are sorted a run at a time and the runs merged: a repeat in two different
    runs (first and last qid) is found, and unique qids stay unique, whatever the run length."""
    monkeypatch.setattr("listrank.runs.io._RUN", run)
    unique = [f"q{i}" for i in range(50)]
    check = QidCheck()
    for q in unique:
        check.add(q)
    assert check.duplicate(lambda: pytest.fail("re-read without a repeat")) is None
    check.add("q0")
    assert check.duplicate(lambda: pairs([*unique, "q0"])) == (51, "q0")


def test_the_check_imports_no_numpy() -> None:
    """Importing numpy costs more memory than the digests of a million qids."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom listrank.runs.io import QidCheck\nc = QidCheck()\n"
        "for i in range(200_000): c.add(f'q{i}')\n"
        "assert c.duplicate(lambda: []) is None\nprint('numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
