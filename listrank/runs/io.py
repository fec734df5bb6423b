"""Reading rerank requests (rank_llm JSONL or the flat form) and writing results atomically.

rank_llm form: {"query": {"qid", "text"}, "candidates": [{"docid", "score", "doc": {...}}]}
flat form:     {"qid", "query", "candidates": [{"docid", "text", "score"}]}
Output keeps the input's form, candidates reordered with new scores; or a TREC run file.
"""

from __future__ import annotations

import contextlib
import math
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from listrank.errors import InputError
from listrank.runs import safe_json, streams
from listrank.runs.output_checks import check_trec_id
from listrank.types import Candidate, Query, Ranking

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


def iter_requests(path: str | Path, fields: str = "listrank") -> Iterator[Request]:
    """Requests one at a time (a large file is never held in memory), validated as they are
    read; only the qids are kept, to refuse duplicates."""
    from listrank.runs import formats  # a JSON array: rank_llm's retrieve_results form

    if formats.starts_with_json_array(path):
        yield from formats.read_retrieve_results(path)
        return
    qids: set[str] = set()
    for number, text in iter_lines(path):
        req = parse_request(safe_json.loads(text, line=number), number, fields)
        if req.query.qid in qids:
            raise InputError(f"duplicate qid {req.query.qid!r}", line=number, field="qid")
        qids.add(req.query.qid)
        yield req
    if not qids:
        raise InputError(f"{path} holds no requests")


def read_requests(path: str | Path, fields: str = "listrank") -> list[Request]:
    """Read and validate every request before any work starts."""
    return list(iter_requests(path, fields))


KEEP_SCORES = ("rank", "model", "first-stage")
"""What an output's ``score`` holds: the new order as decreasing numbers (``rank``, the
default), the model's own score (``model``: FIRST logits, ICR attention; null for permutation
methods and unjudged candidates), or the input's score unchanged (``first-stage``)."""


def result_record(request: Request, ranking: Ranking, keep_scores: str = "rank") -> dict[str, Any]:
    """The output line for one query, in the request's own form, reordered with new scores."""
    model = ranking.model_scores() if keep_scores == "model" else {}
    candidates = []
    for r in ranking.ranked:
        c = dict(request.raw_candidates.get(r.candidate.docid, {"docid": r.candidate.docid}))
        score: float | None = r.score
        if keep_scores == "model":
            score = model.get(r.candidate.docid)
        elif keep_scores == "first-stage":
            score = r.candidate.score
        # strict JSON: no bare NaN
        c["score"] = score if score is not None and math.isfinite(score) else None
        candidates.append(c)
    if request.form == "rank_llm":
        return {
            "query": {"qid": request.query.qid, "text": request.query.text},
            "candidates": candidates,
        }
    return {"qid": request.query.qid, "query": request.query.text, "candidates": candidates}


def rank_llm_result(request: Request, ranking: Ranking) -> dict[str, Any]:
    """rank_llm's ``Result`` for one query: query, reordered candidates (``docid``, ``score``,
    ``doc``) and ``invocations_history``, one entry per model call (its prompt messages, raw
    response and token counts), as rank_llm's DataWriter writes them."""
    candidates = []
    for r in ranking.ranked:
        raw = request.raw_candidates.get(r.candidate.docid, {})
        doc = raw.get("doc")
        if not isinstance(doc, dict | str):
            doc = {
                "text": r.candidate.text,
                **({"title": r.candidate.title} if r.candidate.title else {}),
            }
        score = r.score if math.isfinite(r.score) else None
        candidates.append({"docid": r.candidate.docid, "score": score, "doc": doc})
    history = [
        {
            "prompt": [dict(m) for m in c.messages] if c.messages else c.prompt,
            "response": c.output,
            "input_token_count": c.prompt_tokens,
            "output_token_count": c.completion_tokens,
            "reasoning": None,
            "token_usage": {
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
                "reasoning_tokens": c.reasoning_tokens,
            },
            "output_validation_regex": None,
            "output_extraction_regex": None,
        }
        for c in ranking.trace.calls
    ]
    return {
        "query": {"text": request.query.text, "qid": request.query.qid},
        "candidates": candidates,
        "invocations_history": history,
    }


def trec_lines(ranking: Ranking, tag: str = "listrank") -> Iterator[str]:
    check_trec_id(ranking.query.qid, "qid")
    check_trec_id(tag, "run tag")
    for rank, r in enumerate(ranking.ranked, start=1):
        check_trec_id(r.candidate.docid, "docid")
        yield f"{ranking.query.qid} Q0 {r.candidate.docid} {rank} {r.score:.6f} {tag}\n"


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[IO[str]]:
    """Write an output so a failed or interrupted run never leaves a partial file: a regular
    file (or a symlink's target) is written beside itself and renamed into place only on
    success; ``-`` is stdout and FIFOs or devices are streamed to (``runs.streams``)."""
    with streams.open_output(path) as fh:
        yield fh


def write_results(
    path: str | Path,
    pairs: Iterable[tuple[Request, Ranking]],
    fmt: Literal["jsonl", "trec"] = "jsonl",
    tag: str = "listrank",
) -> None:
    with atomic_writer(path) as fh:
        for request, ranking in pairs:
            if fmt == "trec":
                fh.writelines(trec_lines(ranking, tag))
            else:
                fh.write(safe_json.dumps(result_record(request, ranking)) + "\n")


def read_trec_run(path: str | Path) -> dict[str, list[tuple[str, float]]]:
    """qid -> [(docid, score)] in file order."""
    run: dict[str, list[tuple[str, float]]] = {}
    for number, text in iter_lines(path):
        parts = text.split()
        if len(parts) != 6:
            raise InputError("a TREC run line has 6 columns", line=number)
        try:
            score = float(parts[4])
        except ValueError as exc:
            raise InputError("score is not a number", line=number) from exc
        run.setdefault(parts[0], []).append((parts[2], score))
    return run
