"""Rerank requests, one per line: the rank_llm form and the flat form, parsed and validated
(``runs.io`` reads whole files of them, ``runs.formats`` the other input formats).

rank_llm form: {"query": {"qid", "text"}, "candidates": [{"docid", "score", "doc": {...}}]}
flat form:     {"qid", "query", "candidates": [{"docid", "text", "score"}]}
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from listrank.errors import InputError
from listrank.runs import streams
from listrank.types import Candidate, Query

RequestForm = Literal["rank_llm", "flat"]
_DOC_TEXT_KEYS = ("contents", "text", "segment", "content", "body", "passage")
DOC_FIELD_ORDERS: dict[str, tuple[str, ...]] = {
    "listrank": _DOC_TEXT_KEYS,
    # rank_llm's _convert_doc_to_prompt_content reads "text" first (pyserini's "contents" can
    # hold title + text while "text" holds the text alone)
    "rank_llm": ("text", "segment", "contents", "content", "body", "passage"),
}


@dataclass(frozen=True)
class Request:
    query: Query
    candidates: list[Candidate]
    form: RequestForm
    raw_candidates: dict[str, dict[str, Any]] = field(default_factory=dict)


def _doc_text(
    doc: Any, line: int, i: int, keys: tuple[str, ...] = _DOC_TEXT_KEYS
) -> tuple[str, str | None]:
    where = f"candidates[{i}].doc"
    if isinstance(doc, str):
        return doc, None
    if not isinstance(doc, dict):
        raise InputError("must be an object or a string", line=line, field=where)
    title = doc.get("title")
    if title is not None and not isinstance(title, str):
        raise InputError("must be a string", line=line, field=f"{where}.title")
    for key in keys:
        value = doc.get(key)
        if isinstance(value, str):
            return value, title
    if title:
        return "", title
    raise InputError(
        f"has no text; expected one of {', '.join(keys)} or title", line=line, field=where
    )


def _score(value: Any, line: int, i: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError("must be a finite number", line=line, field=f"candidates[{i}].score")
    return float(value)


def parse_request(obj: Any, line: int = 1, fields: str = "listrank") -> Request:
    """Validate one decoded JSON request; errors name the line and the field. ``fields`` picks
    which text field of a ``doc`` wins when it has several (``DOC_FIELD_ORDERS``)."""
    if fields not in DOC_FIELD_ORDERS:
        raise InputError(f"unknown doc field order {fields!r}; use one of {list(DOC_FIELD_ORDERS)}")
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object", line=line)
    q = obj.get("query")
    form: RequestForm
    if isinstance(q, dict):
        form, qid, text = "rank_llm", q.get("qid"), q.get("text")
        qfield = "query.text"
    else:
        form, qid, text = "flat", obj.get("qid"), q
        qfield = "query"
    if not isinstance(text, str):
        raise InputError("missing or not a string", line=line, field=qfield)
    if not text.strip():
        raise InputError("the query is empty", line=line, field=qfield)
    if qid is None:
        qid = str(line)
    if not isinstance(qid, str | int) or isinstance(qid, bool):
        raise InputError("must be a string or integer", line=line, field="qid")
    cands = obj.get("candidates")
    if not isinstance(cands, list):
        raise InputError("missing or not a list", line=line, field="candidates")
    if not cands:
        raise InputError("no candidates to rerank", line=line, field="candidates")
    out: list[Candidate] = []
    raw: dict[str, dict[str, Any]] = {}
    for i, c in enumerate(cands):
        if not isinstance(c, dict):
            raise InputError("must be an object", line=line, field=f"candidates[{i}]")
        docid = c.get("docid")
        if not isinstance(docid, str | int) or isinstance(docid, bool) or str(docid) == "":
            raise InputError("missing or empty", line=line, field=f"candidates[{i}].docid")
        docid = str(docid)
        if docid in raw:
            raise InputError(f"duplicate docid {docid!r}", line=line, field=f"candidates[{i}]")
        if "doc" in c:
            body, title = _doc_text(c["doc"], line, i, DOC_FIELD_ORDERS[fields])
        elif isinstance(c.get("text"), str):
            body, title = c["text"], c.get("title") if isinstance(c.get("title"), str) else None
        else:
            raise InputError(
                "has no text (expected 'text' or 'doc')", line=line, field=f"candidates[{i}]"
            )
        score = _score(c.get("score"), line, i)
        out.append(Candidate(docid=docid, text=body, score=score, title=title))
        raw[docid] = c
    return Request(Query(text=text, qid=str(qid)), out, form, raw)


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with 1-based numbers (gzip files decompressed); invalid UTF-8 is an
    InputError naming the line."""
    try:
        with streams.open_input(path) as fh:
            for number, data in enumerate(fh, start=1):
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InputError(f"invalid UTF-8 ({exc.reason})", line=number) from exc
                if text.strip():
                    yield number, text
    except (OSError, EOFError, zlib.error) as exc:  # a broken gzip stream too
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc


def read_trec_run(path: str | Path) -> dict[str, list[tuple[str, float]]]:
    """qid -> [(docid, score)] in first-stage order: by rank, then score (higher first), then
    file order. Every command that reads a TREC run (rerank, eval, ab) uses this one order,
    so ``--top-k-candidates`` keeps the run's best documents however the file is sorted. The
    rank must be an integer and the score a finite number (``nan``/``inf`` are refused)."""
    rows: dict[str, list[tuple[int, float, int, str]]] = {}
    for number, text in iter_lines(path):
        parts = text.split()
        if len(parts) != 6:
            raise InputError("a TREC run line has 6 columns", line=number)
        try:
            rank = int(parts[3])
        except ValueError as exc:
            raise InputError(f"rank {parts[3]!r} is not an integer", line=number) from exc
        try:
            score = float(parts[4])
        except ValueError as exc:
            raise InputError("score is not a number", line=number) from exc
        if not math.isfinite(score):
            raise InputError(f"score {parts[4]!r} is not a finite number", line=number)
        rows.setdefault(parts[0], []).append((rank, -score, number, parts[2]))
    return {
        qid: [(docid, -neg) for _, neg, _, docid in sorted(ranked)] for qid, ranked in rows.items()
    }
