"""A crash-safe journal of finished queries, so an interrupted batch run resumes where it stopped.

One JSON line per finished query holds that query's exact output text and its trace, appended
and fsynced as the query finishes. The first line fingerprints the command (input bytes and
every option that shapes the output) and lists the provenance of everything the output depends
on (``pipeline.provenance``: input, corpus, topics, template and calibration files, pipeline):
a journal from another command is never resumed, and :attr:`Journal.why` names what changed.
Every entry carries a SHA-256 of its content: a line cut short by a kill, or damaged later, is
dropped with everything after it, and those queries are done again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from listrank.errors import InputError
from listrank.types import CallRecord, Query, Ranking, RepairStats, Trace

VERSION = 2
_CHECK = "sha256"
"""The entry field holding the checksum of the rest of the entry."""


def _entry_sum(d: Mapping[str, Any]) -> str:
    # canonical form (sorted keys, ASCII escapes): the sum holds however the line was written
    canonical = json.dumps(d, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


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


def _record_to_json(c: CallRecord) -> dict[str, Any]:
    return dataclasses.asdict(c)


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

    def to_line(self) -> str:
        t = self.ranking.trace
        d: dict[str, Any] = {
            "qid": self.qid,
            "text": self.text,
            "query": self.ranking.query.text,
            "calls": [_record_to_json(c) for c in t.calls],
            "stage_latency_s": dict(t.stage_latency_s),
        }
        d = json.loads(json.dumps(d, default=str))  # as it reads back (tuples -> lists)
        d[_CHECK] = _entry_sum(d)
        # ASCII escapes: a lone surrogate from upstream is stored (and read back) as is
        return json.dumps(d, ensure_ascii=True) + "\n"

    @classmethod
    def from_line(cls, line: str) -> Entry:
        """An entry, or ValueError when its checksum does not match its content."""
        d = json.loads(line)
        if not isinstance(d, dict) or d.pop(_CHECK, None) != _entry_sum(d):
            raise ValueError("journal entry checksum mismatch")
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
        provenance: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.done: dict[str, Entry] = {}
        self.provenance = dict(provenance or {})
        self.discarded = False
        """True when an existing journal did not match this command (or resume was off)."""
        self.why = "--no-resume" if not resume else ""
        """Why an existing journal was not resumed (what changed), for the one line saying so."""
        self.damaged = 0
        """Entries dropped because their checksum or JSON was wrong (they are redone)."""
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
                        entry = Entry.from_line(raw.decode("utf-8"))
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
        return fh

    @staticmethod
    def _write(fh: IO[bytes], line: str) -> None:
        fh.write(line.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())

    def append(self, entry: Entry) -> None:
        self._write(self._fh, entry.to_line())
        self.done[entry.qid] = entry

    def close(self) -> None:
        self._fh.close()

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def changed_labels(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Provenance labels whose digest differs, appeared or disappeared."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
