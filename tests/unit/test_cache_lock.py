"""A call cache locked by another process is waited for, never declared corrupt and renamed."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from listrank.backends.cache import CallCache
from listrank.errors import ConfigError


def _filled(path: Path) -> None:
    cache = CallCache(path)
    cache.put("k", {"answer": 1})
    cache.close()


def _lock(path: Path) -> sqlite3.Connection:
    """Another process's writer holding the file (an exclusive lock blocks readers too)."""
    other = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    return other


def test_a_briefly_locked_cache_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    _filled(path)
    other = _lock(path)
    opened = threading.Event()
    released = threading.Event()

    def release() -> None:
        opened.wait(0.5)  # the open below is already waiting
        other.execute("COMMIT")
        released.set()

    threading.Thread(target=release).start()
    opened.set()
    cache = CallCache(path, busy_timeout_s=30)
    assert released.is_set()
    assert cache.get("k") == {"answer": 1} and not cache.moved_aside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.sqlite"]
    cache.close()
    other.close()


def test_a_cache_locked_past_the_timeout_is_refused_not_moved(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    _filled(path)
    other = _lock(path)
    try:
        with pytest.raises(ConfigError, match="locked by another process"):
            CallCache(path, busy_timeout_s=0.2)
    finally:
        other.execute("COMMIT")
        other.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.sqlite"]  # nothing renamed
    again = CallCache(path)
    assert again.get("k") == {"answer": 1}
    again.close()


def test_a_lock_mid_run_is_a_miss_not_a_new_cache(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    _filled(path)
    cache = CallCache(path, busy_timeout_s=0.2)
    other = _lock(path)
    try:
        assert cache.get("k") is None  # waited, then a miss
        cache.put("k2", {"answer": 2})  # not kept, not an error
    finally:
        other.execute("COMMIT")
        other.close()
    assert not cache.moved_aside and cache.get("k") == {"answer": 1}
    cache.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.sqlite"]
