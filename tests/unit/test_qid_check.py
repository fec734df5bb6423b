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
