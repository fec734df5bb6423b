"""Where runs come from and go to, beyond plain files: ``-`` for stdin and stdout, gzip inputs,
and outputs that are symlinks, FIFOs or devices.

An output path is written one of three ways:

- ``-``: to ``sys.stdout`` (the caller keeps progress and summaries on stderr);
- a stream (a FIFO, a character device such as ``/dev/null`` or a terminal, or one of this
  process's file descriptors: ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``,
  ``/proc/self/fd/N``): opened and written directly, since it cannot be replaced;
- a regular file, or a symlink to one: written to a temporary file beside the *target* and
  renamed onto the target, so a failed run never leaves a partial file and a symlink stays a
  symlink (the link is never replaced, only what it points to).
"""

from __future__ import annotations

import atexit
import contextlib
import gzip
import os
import re
import shutil
import stat
import sys
import tempfile
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import IO

STDIO = "-"
_GZIP_MAGIC = b"\x1f\x8b"
# a path naming one of this process's own descriptors: writing it must share that descriptor
_OWN_FD = re.compile(r"^/(?:dev/fd|proc/self/fd|proc/(?P<pid>\d+)/fd)/(?P<fd>\d+)$")
_STD_NAMES = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def _link_hops(path: str | Path) -> list[str]:
    """The path and every symlink target after it, in order (relative links resolved)."""
    hops = [os.path.abspath(path)]
    for _ in range(40):  # the kernel's own limit on a chain of links
        try:
            target = os.readlink(hops[-1])
        except OSError:
            break
        hops.append(os.path.normpath(os.path.join(os.path.dirname(hops[-1]), target)))
    return hops


def own_descriptor(path: str | Path) -> int | None:
    """The descriptor number when ``path`` (or a link on its way) names one of ours."""
    for hop in _link_hops(path):
        if hop in _STD_NAMES:
            return _STD_NAMES[hop]
        m = _OWN_FD.match(hop)
        if m and (m["pid"] is None or int(m["pid"]) == os.getpid()):
            return int(m["fd"])
    return None


def is_stream(path: str | Path) -> bool:
    """True for ``-`` and for outputs that are written directly, not replaced."""
    if str(path) == STDIO or own_descriptor(path) is not None:
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode) and not stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:  # missing (or a dangling link): a new regular file
        return False


def display_name(path: str | Path) -> str:
    return "<stdout>" if str(path) == STDIO else str(path)


def real_target(path: str | Path) -> Path:
    """The file a regular output really writes: symlinks (dangling ones too) followed."""
    return Path(os.path.realpath(path))


def current_umask() -> int:
    """The process umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def open_output(path: str | Path) -> Iterator[IO[str]]:
    """A text stream for an output path, written as the module docstring says."""
    if str(path) == STDIO:
        yield sys.stdout
        sys.stdout.flush()
        return
    fd = own_descriptor(path)
    if fd is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        # a duplicate shares the descriptor's offset: output lands where the shell pointed it
        with os.fdopen(os.dup(fd), "w", encoding="utf-8") as fh:
            yield fh
        return
    if is_stream(path):
        with open(path, "w", encoding="utf-8") as fh:
            yield fh
        return
    with _replace_file(real_target(path)) as fh:
        yield fh


@contextlib.contextmanager
def _replace_file(target: Path) -> Iterator[IO[str]]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates 0600; outputs get the mode a plain open() would (0666 less umask)
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def open_input(path: str | Path) -> IO[bytes]:
    """A binary reader for an input file; gzip-compressed files (told by their first bytes,
    whatever their name) are decompressed on the fly."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return typing.cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")  # the caller closes it


def read_bytes(path: str | Path) -> bytes:
    with open_input(path) as fh:
        data = fh.read()
    return data


_spooled: list[str] = []


def _remove_spooled() -> None:
    for copy in _spooled:
        with contextlib.suppress(OSError):
            os.unlink(copy)


atexit.register(_remove_spooled)


def needs_spooling(path: str | Path) -> bool:
    """``-`` and inputs that can be read only once (a FIFO, ``<(…)``, a device): the commands
    read an input more than once (check, then rerank), so these are copied to a temporary file."""
    if str(path) == STDIO:
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # missing: the reader names it


def local_input(path: str) -> str:
    """A path that can be read any number of times holding what ``path`` holds (itself, or a
    temporary copy of stdin or of a stream, removed when the process exits)."""
    if not needs_spooling(path):
        return path
    name = "stdin" if path == STDIO else Path(path).name
    fd, copy = tempfile.mkstemp(prefix=f"listrank-{name}.", suffix=".input")
    _spooled.append(copy)
    with os.fdopen(fd, "wb") as out:
        if path == STDIO:
            shutil.copyfileobj(sys.stdin.buffer, out)
        else:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out)
    return copy
