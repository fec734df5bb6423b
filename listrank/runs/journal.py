"""A crash-safe journal of finished queries, so an interrupted batch run resumes where it stopped.

One JSON line per finished query holds that query's exact output text and what the run summary
needs of its calls (ids, tokens, answers, repairs, scores), appended as the query finishes.
The prompts sent -- most of a trace's bytes -- are kept only when the run writes a trace
(``keep_prompts``). Each line is flushed to the OS as it is written, so a killed process loses
nothing finished; it is fsynced at most once per ``SYNC_INTERVAL_S`` (and on close), so a
power cut may lose the last second of queries, which are then run again (one fsync per query
was the largest cost of a fast run). The first line fingerprints the command (input bytes and
every option that shapes the output) and lists the provenance of everything the output depends
on (``pipeline.provenance``: input, corpus, topics, template and calibration files, pipeline):
a journal from another command is never resumed, and :attr:`Journal.why` names what changed.
Every entry ends with a SHA-256 of the rest of its line: an entry damaged after it was written
is dropped (and its query done again), like a line cut short by a kill. Lines are written with
ASCII escapes, so a lone surrogate from upstream is stored and read back as it is.
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

VERSION = 2
SYNC_INTERVAL_S = 1.0
_SUM = b', "sha256": "'
_SUM_LEN = len(_SUM) + 64 + len(b'"}\n')
"""Each entry line is ``{...<payload>, "sha256": "<hex of the payload line>"}``."""


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
        out (a resumed entry then has empty ``messages`` and no ``prompt``). It ends with the
        SHA-256 of the line without it (one serialisation, one hash: this is on the path where
        each finished query is written)."""
        t = self.ranking.trace
        payload = json.dumps(
            {
                "qid": self.qid,
                "text": self.text,
                "query": self.ranking.query.text,
                "calls": [_record_to_json(c, keep_prompts) for c in t.calls],
                "stage_latency_s": dict(t.stage_latency_s),
            },
            ensure_ascii=True,
            default=str,
        )
        digest = hashlib.sha256(payload.encode("ascii")).hexdigest()
        return f'{payload[:-1]}, "sha256": "{digest}"}}\n'

    @classmethod
    def from_line(cls, line: str | bytes) -> Entry:
        """An entry, or ValueError when its checksum does not match the rest of its line."""
        raw = line.encode("utf-8") if isinstance(line, str) else line
        raw = raw if raw.endswith(b"\n") else raw + b"\n"
        head, tail = raw[:-_SUM_LEN], raw[-_SUM_LEN:]
        if not tail.startswith(_SUM) or not tail.endswith(b'"}\n'):
            raise ValueError("journal entry has no checksum")
        payload = head + b"}"
        if hashlib.sha256(payload).hexdigest().encode() != tail[len(_SUM) : len(_SUM) + 64]:
            raise ValueError("journal entry checksum mismatch")
        d = json.loads(payload)
        trace = Trace(
            calls=tuple(_record_from_json(c) for c in d["calls"]),
            stage_latency_s=d["stage_latency_s"],
        )
        return cls(d["qid"], d["text"], Ranking(Query(d["query"], d["qid"]), (), trace))


class Journal:
    """Append-only; ``done`` holds the entries already finished (resumed from the file)."""

    def __init__(
        self,
        path: str | Path,
        fp: str,
        *,
        resume: bool = True,
        keep_prompts: bool = True,
        provenance: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.keep_prompts = keep_prompts
        self.provenance = dict(provenance or {})
        self._synced = time.monotonic()
        self.done: dict[str, Entry] = {}
        self.discarded = False
        """True when an existing journal did not match this command (or resume was off)."""
        self.why = "--no-resume" if not resume else ""
        """Why an existing journal was not resumed (what changed), for the one line saying so."""
        self.damaged = 0
        """Entries dropped because their checksum or JSON was wrong (they are redone)."""
        self.appended = 0
        """Entries this run has added."""
        lines = self._load(fp) if resume and self.path.exists() else None
        if lines is None:
            self.discarded = self.path.exists()
            self.done.clear()
            self._fh = self._create(fp, [])
        elif self.damaged:
            self._fh = self._create(fp, lines)  # rewritten without the damaged entries
        else:
            self._fh = open(self.path, "r+b")  # noqa: SIM115 - kept open for appends
            end = sum(len(x) for x in lines)
            self._fh.truncate(end)  # drop a line cut short by a kill
            self._fh.seek(end)

    def _load(self, fp: str) -> list[bytes] | None:
        """Read finished entries; return the header and good lines (None: another command)."""
        good: list[bytes] = []
        with open(self.path, "rb") as fh:
            for number, raw in enumerate(fh):
                if not raw.endswith(b"\n"):
                    break  # the last line, cut short by a kill: not damage
                try:
                    if number == 0:
                        if not self._same_command(json.loads(raw), fp):
                            return None
                    else:
                        entry = Entry.from_line(raw)
                        self.done[entry.qid] = entry
                except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                    if number == 0:
                        self.why = "its first line is not a listrank journal header"
                        return None
                    self.damaged += 1
                    continue
                good.append(raw)
        if not good:
            self.why = "it is empty"
            return None
        return good

    def _same_command(self, header: Any, fp: str) -> bool:
        if not isinstance(header, dict) or header.get("journal") != VERSION:
            self.why = "it was written by another listrank version"
            return False
        if header.get("fingerprint") == fp:
            return True
        old = header.get("provenance")
        differ = changed_labels(old, self.provenance) if isinstance(old, dict) else []
        self.why = f"{', '.join(differ)} changed" if differ else "the command's options changed"
        return False

    def _create(self, fp: str, lines: list[bytes]) -> IO[bytes]:
        """A new journal (atomically: header and any kept lines, then renamed into place)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fh = open(tmp, "wb")  # noqa: SIM115 - kept open for appends
        try:
            header = {"journal": VERSION, "fingerprint": fp, "provenance": self.provenance}
            fh.write((json.dumps(header, ensure_ascii=True) + "\n").encode("utf-8"))
            fh.writelines(lines[1:])
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            fh.close()
            tmp.unlink(missing_ok=True)
            raise
        self._synced = time.monotonic()
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
        self.appended += 1

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        self._fh.close()

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def changed_labels(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Provenance labels whose digest differs, appeared or disappeared."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
