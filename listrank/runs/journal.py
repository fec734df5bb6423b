"""A crash-safe journal of finished queries, so an interrupted batch run resumes where it stopped.

One JSON line per finished query holds that query's exact output text and what the run summary
needs of its calls (ids, tokens, answers, repairs, scores), appended as the query finishes.
The prompts sent -- most of a trace's bytes -- are kept only when the run writes a trace
(``keep_prompts``). Each line is flushed to the OS as it is written, so a killed process loses
nothing finished; it is fsynced at most once per ``SYNC_INTERVAL_S`` (and on close), so a
power cut may lose the last second of queries, which are then run again (one fsync per query
was the largest cost of a fast run). The first line fingerprints the command (input bytes and
every option that shapes the output): a journal from another command is never resumed. A line
cut short by a kill is dropped and that query is done again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from listrank.errors import InputError
from listrank.types import CallRecord, Query, Ranking, RepairStats, Trace

VERSION = 1
SYNC_INTERVAL_S = 1.0


def fingerprint(input_path: str | Path, options: Mapping[str, Any]) -> str:
    h = hashlib.sha256()
    try:
        with open(input_path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise InputError(f"cannot read {input_path}: {exc.strerror}") from exc
    h.update(json.dumps(dict(options), sort_keys=True, default=str).encode("utf-8"))
    return h.hexdigest()


_FIELDS = tuple(f.name for f in dataclasses.fields(CallRecord))
_PROMPT_FIELDS = frozenset({"messages", "prompt"})
_REPAIR_FIELDS = tuple(f.name for f in dataclasses.fields(RepairStats))


def _record_to_json(c: CallRecord, keep_prompts: bool = True) -> dict[str, Any]:
    # by hand, not dataclasses.asdict: that deep-copies every prompt, per call, on the path
    # where each finished query is written
    out = {k: getattr(c, k) for k in _FIELDS if keep_prompts or k not in _PROMPT_FIELDS}
    out["repair"] = {k: getattr(c.repair, k) for k in _REPAIR_FIELDS}
    out["extra"] = dict(c.extra)
    return out


def _record_from_json(d: dict[str, Any]) -> CallRecord:
    d = dict(d)
    d["repair"] = RepairStats(**d["repair"])
    d["docids"] = tuple(d["docids"])
    for key in ("scores", "order", "messages"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    return CallRecord(**d)


@dataclasses.dataclass(frozen=True)
class Entry:
    qid: str
    text: str
    """The query's exact output text (one JSONL line or its TREC lines)."""
    ranking: Ranking
    """The query and its trace (calls, stage latencies); ``ranked`` is not kept."""

    def to_line(self, keep_prompts: bool = True) -> str:
        """The entry as one JSON line; without ``keep_prompts`` the calls' prompts are left
        out (a resumed entry then has empty ``messages`` and no ``prompt``)."""
        t = self.ranking.trace
        return (
            json.dumps(
                {
                    "qid": self.qid,
                    "text": self.text,
                    "query": self.ranking.query.text,
                    "calls": [_record_to_json(c, keep_prompts) for c in t.calls],
                    "stage_latency_s": dict(t.stage_latency_s),
                },
                ensure_ascii=False,
                default=str,
            )
            + "\n"
        )

    @classmethod
    def from_line(cls, line: str) -> Entry:
        d = json.loads(line)
        trace = Trace(
            calls=tuple(_record_from_json(c) for c in d["calls"]),
            stage_latency_s=d["stage_latency_s"],
        )
        return cls(d["qid"], d["text"], Ranking(Query(d["query"], d["qid"]), (), trace))


class Journal:
    """Append-only; ``done`` holds the entries already finished (resumed from the file)."""

    def __init__(
        self, path: str | Path, fp: str, *, resume: bool = True, keep_prompts: bool = True
    ) -> None:
        self.path = Path(path)
        self.keep_prompts = keep_prompts
        self._synced = time.monotonic()
        self.done: dict[str, Entry] = {}
        self.discarded = False
        """True when an existing journal did not match this command (or resume was off)."""
        good_bytes = self._load(fp) if resume and self.path.exists() else 0
        if good_bytes == 0:
            self.discarded = self.path.exists()
            self.done.clear()
            self._fh = self._create(fp)
        else:
            self._fh = open(self.path, "r+b")  # noqa: SIM115 - kept open for appends
            self._fh.truncate(good_bytes)  # drop a line cut short by a kill
            self._fh.seek(good_bytes)

    def _load(self, fp: str) -> int:
        """Read finished entries; return the byte length of the valid prefix (0: unusable)."""
        good = 0
        with open(self.path, "rb") as fh:
            for number, raw in enumerate(fh):
                if not raw.endswith(b"\n"):
                    break
                try:
                    if number == 0:
                        header = json.loads(raw)
                        if header != {"journal": VERSION, "fingerprint": fp}:
                            return 0
                    else:
                        entry = Entry.from_line(raw.decode("utf-8"))
                        self.done[entry.qid] = entry
                except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                    break
                good += len(raw)
        return good

    def _create(self, fp: str) -> IO[bytes]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "wb")  # noqa: SIM115 - kept open for appends
        self._write(fh, json.dumps({"journal": VERSION, "fingerprint": fp}) + "\n")
        return fh

    def _write(self, fh: IO[bytes], line: str, *, sync: bool = True) -> None:
        fh.write(line.encode("utf-8"))
        fh.flush()
        if sync or time.monotonic() - self._synced >= SYNC_INTERVAL_S:
            os.fsync(fh.fileno())
            self._synced = time.monotonic()

    def append(self, entry: Entry) -> None:
        self._write(self._fh, entry.to_line(self.keep_prompts), sync=False)
        self.done[entry.qid] = entry

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        self._fh.close()

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
