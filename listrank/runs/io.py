"""Reading rerank requests (rank_llm JSONL or the flat form) and writing results atomically.

rank_llm form: {"query": {"qid", "text"}, "candidates": [{"docid", "score", "doc": {...}}]}
flat form:     {"qid", "query", "candidates": [{"docid", "text", "score"}]}
Output keeps the input's form, candidates reordered with new scores; or a TREC run file.
"""

from __future__ import annotations

import array
import contextlib
import hashlib
import heapq
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

from listrank.errors import InputError
from listrank.runs import formats, safe_json, streams
from listrank.runs.output_checks import check_trec_id
from listrank.runs.requests import (
    Request,
    RequestForm,
    iter_lines,
    parse_request,
    read_trec_run,
)
from listrank.types import Ranking

__all__ = ["Request", "RequestForm", "iter_lines", "parse_request", "read_trec_run"]


def iter_requests(
    path: str | Path, *, unique: bool = True, fields: str = "listrank"
) -> Iterator[Request]:
    """Requests one at a time (a large file is never held in memory), validated as they are
    read; only the qids are kept, to refuse duplicates (``unique=False``: not even those, for
    a file already checked, e.g. with :class:`QidCheck`)."""
    if formats.starts_with_json_array(path):
        yield from formats.read_retrieve_results(path)
        return
    qids: set[str] | None = set() if unique else None
    count = 0
    for number, text in iter_lines(path):
        req = parse_request(safe_json.loads(text, line=number), number, fields)
        if qids is not None:
            if req.query.qid in qids:
                raise InputError(f"duplicate qid {req.query.qid!r}", line=number, field="qid")
            qids.add(req.query.qid)
        count += 1
        yield req
    if not count:
        raise InputError(f"{path} holds no requests")


_RUN = 8_192
"""Digests sorted at a time: the transient list of Python ints stays a few MB, however many
qids there are (numpy's sort would do it in place, but importing numpy costs more memory than
a million digests)."""


class QidCheck:
    """Repeated qids among very many, in 8 bytes per qid: a 64-bit digest of each is kept and
    the digests are compared once all are in (``duplicate``); a repeated digest is confirmed
    against the qids themselves, so a digest collision never refuses a good file."""

    def __init__(self) -> None:
        self._digests = array.array("Q")

    @staticmethod
    def _digest(qid: str) -> int:
        return int.from_bytes(hashlib.blake2b(qid.encode("utf-8"), digest_size=8).digest())

    def add(self, qid: str) -> None:
        self._digests.append(self._digest(qid))

    def _repeated(self) -> set[int]:
        """The digests that occur more than once: sorted in runs of ``_RUN`` in place, then
        the runs merged, so equal digests meet side by side."""
        runs = []
        for start in range(0, len(self._digests), _RUN):
            chunk = array.array("Q", sorted(self._digests[start : start + _RUN]))
            self._digests[start : start + _RUN] = chunk
            runs.append(memoryview(self._digests)[start : start + _RUN])
        repeated: set[int] = set()
        previous = None
        for digest in heapq.merge(*runs):
            if digest == previous:
                repeated.add(digest)
            previous = digest
        for run in runs:
            run.release()
        return repeated

    def duplicate(self, qids: Callable[[], Iterable[tuple[int, str]]]) -> tuple[int, str] | None:
        """(position, qid) of the first qid seen before, or None; ``qids`` re-reads the
        (position, qid) pairs when two digests are equal."""
        suspects = self._repeated()
        if not suspects:
            return None
        seen: set[str] = set()
        for position, qid in qids():
            if self._digest(qid) in suspects:
                if qid in seen:
                    return position, qid
                seen.add(qid)
        return None


def qid_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, qid) of every request of a JSONL file."""
    for number, text in iter_lines(path):
        yield number, parse_request(safe_json.loads(text, line=number), number).query.qid


def read_requests(path: str | Path, fields: str = "listrank") -> list[Request]:
    """Read and validate every request before any work starts."""
    return list(iter_requests(path, fields=fields))


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
