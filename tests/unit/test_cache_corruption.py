"""A damaged, foreign or tampered call cache is never trusted: every corruption is a miss (the
uncached answer comes back) or a moved-aside file, never a traceback or a wrong answer."""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from listrank.backends.base import AttentionRequest, AttentionResult, GenerationRequest
from listrank.backends.cache import SCHEMA, CachedBackend, CallCache, checksum
from listrank.backends.fake import FakeBackend
from listrank.options import Option
from listrank.pipeline.reranker import Reranker
from tests.unit.test_cache import CountingBackend


class InProcess(CountingBackend):
    OPTIONS = (
        *FakeBackend.OPTIONS,
        Option("device", str, "cpu", "where it runs", changes_answers=True),
        Option("dtype", str, "float32", "weights precision", changes_answers=True),
    )


PROMPTS = [f"prompt number {i} " + "x" * i for i in range(16)]


def _reqs() -> list[GenerationRequest]:
    return [GenerationRequest([{"role": "user", "content": p}], 10) for p in PROMPTS]


def _fill(path: Path) -> list[str]:
    """Cache the answers to PROMPTS; return the uncached answers."""
    inner = CountingBackend()
    texts = [r.text for r in CachedBackend(inner, path).generate(_reqs())]
    assert inner.served == len(PROMPTS)
    return texts


def _answers(path: Path) -> tuple[list[str], CountingBackend, CachedBackend]:
    inner = CountingBackend()
    backend = CachedBackend(inner, path)
    return [r.text for r in backend.generate(_reqs())], inner, backend


def _sql(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path)
    for s in statements:
        db.execute(s)
    db.commit()
    db.close()


def _garbage_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    rng = random.Random(0)
    for page in range(1, len(data) // 4096):
        start = page * 4096 + 200
        data[start : start + 300] = rng.randbytes(300)
    path.write_bytes(bytes(data))


def _garbage_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:100] = b"\x00garbage" * 12 + b"abcd"
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2 + 17)


def _random_file(path: Path) -> None:
    path.write_bytes(random.Random(1).randbytes(20000))


def _edit_values(path: Path) -> None:
    _sql(path, "UPDATE calls SET value = replace(value, '[', '(')")


def _wrong_checksums(path: Path) -> None:
    _sql(path, "UPDATE calls SET checksum = 'x'")


def _forged_wrong_shapes(path: Path) -> None:
    """Values of the wrong shape that carry a valid checksum (someone computed it)."""
    db = sqlite3.connect(path)
    shapes = [
        [],
        "text",
        {"text": 5, "prompt_tokens": 1, "completion_tokens": 1, "latency_s": 0},
        {"text": "[1] > [2]"},
        {"text": "x", "prompt_tokens": "1", "completion_tokens": 1, "latency_s": 0},
        {"text": "x", "prompt_tokens": 1, "completion_tokens": 1, "latency_s": 0, "evil": 1},
        None,
    ]
    keys = [k for (k,) in db.execute("SELECT key FROM calls")]
    for i, key in enumerate(keys):
        value = json.dumps(shapes[i % len(shapes)])
        db.execute(
            "UPDATE calls SET value = ?, checksum = ? WHERE key = ?",
            (value, checksum(key, value), key),
        )
    db.commit()
    db.close()


def _forged_not_json(path: Path) -> None:
    db = sqlite3.connect(path)
    for (key,) in list(db.execute("SELECT key FROM calls")):
        db.execute(
            "UPDATE calls SET value = ?, checksum = ? WHERE key = ?",
            ("{not json", checksum(key, "{not json"), key),
        )
    db.commit()
    db.close()


def _swap_values(path: Path) -> None:
    """Every row gets another row's value and checksum: each looks intact on its own."""
    db = sqlite3.connect(path)
    rows = list(db.execute("SELECT key, value, checksum FROM calls ORDER BY key"))
    for (key, _, _), (_, value, check) in zip(rows, rows[1:] + rows[:1], strict=True):
        db.execute("UPDATE calls SET value = ?, checksum = ? WHERE key = ?", (value, check, key))
    db.commit()
    db.close()


def _another_schema(path: Path) -> None:
    path.unlink()
    _sql(path, "CREATE TABLE calls (key TEXT, other INTEGER)", "INSERT INTO calls VALUES ('k', 1)")


def _old_listrank_schema(path: Path) -> None:
    path.unlink()
    _sql(path, "CREATE TABLE calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _foreign_meta(path: Path) -> None:
    _sql(path, "UPDATE meta SET value = 'someone-else/1'")


def _empty_file(path: Path) -> None:
    path.write_bytes(b"")


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "garbage-pages": _garbage_pages,
    "garbage-header": _garbage_header,
    "truncated": _truncate,
    "random-bytes": _random_file,
    "edited-values": _edit_values,
    "wrong-checksums": _wrong_checksums,
    "forged-wrong-shapes": _forged_wrong_shapes,
    "forged-not-json": _forged_not_json,
    "values-swapped-between-keys": _swap_values,
    "another-schema": _another_schema,
    "old-listrank-schema": _old_listrank_schema,
    "foreign-meta": _foreign_meta,
    "empty-file": _empty_file,
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_a_corrupt_cache_gives_the_uncached_answers(tmp_path: Path, name: str) -> None:
    path = tmp_path / "calls.sqlite"
    truth = _fill(path)
    CORRUPTIONS[name](path)
    texts, inner, backend = _answers(path)
    assert texts == truth  # never a wrong answer
    # whatever could not be trusted was recomputed, and the recomputed answers were stored
    assert inner.served == backend.cache.misses
    again, inner2, _ = _answers(path)
    assert again == truth and inner2.served == 0


def test_swapped_values_are_rejected_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    truth = _fill(path)
    _swap_values(path)
    texts, inner, backend = _answers(path)
    assert texts == truth
    assert backend.cache.rejected == len(PROMPTS) == inner.served


def test_a_file_that_is_not_a_cache_is_moved_aside_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "calls.sqlite"
    _fill(path)
    _another_schema(path)
    foreign = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="listrank.cache"):
        cache = CallCache(path)
    warnings = [r for r in caplog.records if r.name == "listrank.cache"]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
    assert cache.moved_aside == [tmp_path / "calls.sqlite.corrupt-1"]
    assert cache.moved_aside[0].read_bytes() == foreign  # the old file is kept as it was
    assert len(cache) == 0
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta").fetchone() == (SCHEMA,)


def test_an_existing_loose_file_is_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    _fill(path)
    os.chmod(path, 0o644)
    CallCache(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_reranker_on_a_tampered_cache_returns_the_uncached_ranking(tmp_path: Path) -> None:
    cands = [f"passage {i} " + "y" * (3 * i) for i in range(8)]
    clean = Reranker(backend=CountingBackend(), window=4, step=2).rerank("q", cands)
    path = tmp_path / "c.sqlite"
    Reranker(backend=CountingBackend(), window=4, step=2, cache=path).rerank("q", cands)
    _swap_values(path)
    again = Reranker(backend=CountingBackend(), window=4, step=2, cache=path).rerank("q", cands)
    assert again.docids == clean.docids
    assert not any(c.cached for c in again.trace.calls)


class AttentionCounting:
    """A stand-in attention backend whose scores depend on the request."""

    name = "attn"
    model_name = "m"
    context_length = 1000
    num_layers = 4

    def __init__(self) -> None:
        self.served = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def count_prompt_tokens(self, messages: object, assistant_prefix: str = "") -> int:
        return 1

    def prompt_text(self, messages: object, assistant_prefix: str = "") -> str:
        return str(messages) + assistant_prefix

    def prefix_attention(self, requests: list[AttentionRequest]) -> list[AttentionResult]:
        self.served += len(requests)
        return [
            AttentionResult(
                scores=[
                    [float(len(s) + j + len(r.layers or ())) for j in range(3)] for s in r.suffixes
                ],
                token_spans=[(0, 1), (1, 3)],
                prefix_tokens=3,
                suffix_tokens=[len(s) for s in r.suffixes],
                latency_s=0.5,
            )
            for r in requests
        ]


def test_attention_calls_are_cached_and_keyed_on_layers(tmp_path: Path) -> None:
    from listrank.backends.base import SupportsAttention

    path = tmp_path / "a.sqlite"
    reqs = [AttentionRequest("prefix", ["a", "bb"], [(0, 2), (2, 6)]), AttentionRequest("p", ["c"])]
    inner = AttentionCounting()
    backend = CachedBackend(inner, path)
    assert isinstance(backend, SupportsAttention)
    first = backend.prefix_attention(reqs)
    again = CachedBackend(inner, path).prefix_attention(reqs)
    assert inner.served == 2
    assert [r.scores for r in again] == [r.scores for r in first]
    assert [r.token_spans for r in again] == [r.token_spans for r in first]
    other_layers = AttentionRequest("prefix", ["a", "bb"], [(0, 2), (2, 6)], layers=[1, 2])
    assert CachedBackend(inner, path).prefix_attention([other_layers])[0].scores != first[0].scores
    assert inner.served == 3


def test_device_and_weight_precision_are_in_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    inner = InProcess()  # declares them, as the transformers backend does
    inner.settings.update(device="cpu", dtype="torch.float32")
    CachedBackend(inner, path).generate(_reqs()[:1])
    inner.settings["device"] = "cuda:0"
    assert not CachedBackend(inner, path).generate(_reqs()[:1])[0].cached
    inner.settings["dtype"] = "torch.bfloat16"
    assert not CachedBackend(inner, path).generate(_reqs()[:1])[0].cached
    assert inner.served == 3
