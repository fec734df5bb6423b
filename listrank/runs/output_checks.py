"""Checks on where results go and what they may hold, made before any model work so a run
never spends its model time and then fails to write (or overwrites its own input)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from listrank.errors import InputError
from listrank.runs import streams

_WHITESPACE = re.compile(r"\s")


def check_trec_id(value: str, what: str) -> None:
    """A TREC run line is whitespace-separated: an id with whitespace would shift the columns."""
    if not value or _WHITESPACE.search(value):
        raise InputError(
            f"{what} {value!r} is empty or holds whitespace, which --format trec cannot write"
        )


def check_trec_ids(qid_docids: Iterable[tuple[str, Iterable[str]]], tag: str) -> None:
    """(qid, docids) of every request: all must be writable as TREC columns."""
    check_trec_id(tag, "run tag")
    for qid, docids in qid_docids:
        check_trec_id(qid, "qid")
        for docid in docids:
            check_trec_id(docid, f"query {qid!r}: docid")


def _writable_dir(folder: Path, what: str) -> None:
    """``folder`` exists as a writable directory, or can be created under one."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{what}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{what}: cannot write in {probe} (permission denied)")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_output_file(output: str | Path, inputs: Iterable[str | Path] = ()) -> None:
    """``-o FILE``: not a directory, not one of the inputs, in a place we can write. A stream
    (``-``, a FIFO, a device) is written as it is; a symlink is checked at its target."""
    if streams.is_stream(output):
        return
    out, real = Path(output), streams.real_target(output)
    if real.is_dir():
        raise InputError(f"output {out} is a directory; give a file name")
    for source in inputs:
        if _same_file(real, Path(source)) or real == Path(source).resolve():
            raise InputError(f"output {out} is the input file; write the results elsewhere")
    if real.exists() and not os.access(real, os.W_OK):
        raise InputError(f"output {out} is not writable (permission denied)")
    _writable_dir(real.parent, f"output {out}")


def check_output_dir(output: str | Path, inputs: Iterable[str | Path] = ()) -> None:
    """``batch -o DIR``: a directory (or creatable), not a file, not holding an input."""
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} exists and is not a directory; give a directory")
    for source in inputs:
        if out.resolve() == Path(source).resolve():
            raise InputError(f"output {out} is the input file; write the results elsewhere")
    _writable_dir(out, f"output {out}")
