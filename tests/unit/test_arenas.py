"""The CLI caps glibc's malloc arenas (its threads share one GIL), unless the user did."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from listrank.cli.arenas import limit_malloc_arenas

GLIBC = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")


def test_an_explicit_environment_cap_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert limit_malloc_arenas() is False


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt")
def test_the_cap_holds_for_threads_started_after_it() -> None:
    """Eight threads that each allocate get at most two arenas once capped (glibc's
    malloc_info lists one <heap> per arena); uncapped, they get more."""
    code = r"""
import ctypes, os, sys, tempfile, threading
sys.path.insert(0, os.getcwd())
from listrank.cli.arenas import limit_malloc_arenas
if sys.argv[1] == "cap":
    assert limit_malloc_arenas(2)
barrier = threading.Barrier(8)
def work():
    barrier.wait()
    blobs = [bytes(1000 + i) for i in range(2000)]  # malloc's size, not pymalloc's or mmap's
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
libc = ctypes.CDLL(None)
libc.fdopen.restype = ctypes.c_void_p
with tempfile.TemporaryFile() as fh:
    f = libc.fdopen(os.dup(fh.fileno()), b"w")
    libc.malloc_info(0, ctypes.c_void_p(f))
    libc.fclose(ctypes.c_void_p(f))
    fh.seek(0)
    print(fh.read().decode().count("<heap nr="))
"""

    def arenas(mode: str) -> int:
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
        out = subprocess.run(
            [sys.executable, "-c", code, mode], capture_output=True, text=True, check=True, env=env
        )
        return int(out.stdout.strip())

    assert arenas("cap") <= 2
    assert arenas("free") > 2
