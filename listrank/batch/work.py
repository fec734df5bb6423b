"""One unit of batch work, the same in-process and on Ray workers: rerank one request and
return its output record with its statistics."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from listrank.errors import PromptTooLongError, QueriesFailedError
from listrank.pipeline.config import PipelineConfig
from listrank.runs.io import Request, parse_request, result_record
from listrank.types import Candidate, Query, Ranking


class RerankerLike(Protocol):
    def rerank(self, query: Query, candidates: Sequence[Candidate]) -> Ranking: ...


RerankerFactory = Callable[[PipelineConfig], RerankerLike]
"""Builds a worker's pipeline once; the default is ``PipelineConfig.build``."""


def build_from_config(config: PipelineConfig) -> RerankerLike:
    return config.build()


@dataclass(frozen=True)
class QueryResult:
    position: int
    """The query's 0-based position in the input file."""
    record: dict[str, Any]
    stats: dict[str, Any]
    """RunSummary fields for this one query (see listrank.batch.stats)."""
    worker: str
    trace: str = ""
    """The query's call-trace lines (listrank.runs.trace), when the job keeps a trace."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def request_payload(request: Request) -> str:
    """A validated request as JSON text in its input form, to ship to a worker. The raw
    candidate objects keep their input order, so re-parsing gives the identical request."""
    candidates = list(request.raw_candidates.values())
    q = request.query
    obj: dict[str, Any]
    if request.form == "rank_llm":
        obj = {"query": {"qid": q.qid, "text": q.text}, "candidates": candidates}
    else:
        obj = {"qid": q.qid, "query": q.text, "candidates": candidates}
    return json.dumps(obj, ensure_ascii=False)


def payload_request(payload: str) -> Request:
    return parse_request(json.loads(payload))


def failed_query(qid: str, position: int, error: Exception) -> QueriesFailedError:
    """The error that ends a batch when a query fails: it names the query (and keeps the
    original as ``errors[position]``); complete shards stay for the rerun."""
    return QueriesFailedError(
        f"query {qid!r} failed ({type(error).__name__}: {error}); complete shards are kept: "
        "run the same command again to resume",
        errors={position: error},
        results=[],
        qids=[qid],
    )


def rerank_one(
    reranker: RerankerLike, position: int, request: Request, worker: str, trace: bool = False
) -> QueryResult:
    from listrank.batch.stats import ranking_fields
    from listrank.runs.trace import trace_text

    try:
        ranking = reranker.rerank(request.query, request.candidates)
    except PromptTooLongError as exc:
        raise PromptTooLongError(f"query {request.query.qid!r}: {exc}") from None
    except Exception as exc:
        raise failed_query(request.query.qid, position, exc) from None
    return QueryResult(
        position,
        result_record(request, ranking),
        ranking_fields(ranking),
        worker,
        trace_text(ranking) if trace else "",
    )


@dataclass(frozen=True)
class _Positioned:
    position: int
    request: Request

    @property
    def query(self) -> Query:
        return self.request.query

    @property
    def candidates(self) -> list[Candidate]:
        return self.request.candidates


def rerank_all(
    reranker: RerankerLike,
    positioned: Iterable[tuple[int, Request]],
    worker: str,
    trace: bool = False,
    *,
    max_in_flight: int | None = None,
) -> Iterator[QueryResult]:
    """``rerank_one`` for many requests, as they finish: a Reranker runs them through its
    scheduler (queries at the same stage share backend calls); anything else with only
    ``rerank`` runs them one at a time. A failed query raises its error."""
    from listrank.batch.stats import ranking_fields
    from listrank.runs.trace import trace_text

    stream = getattr(reranker, "rerank_stream", None)
    if stream is None:
        for position, request in positioned:
            yield rerank_one(reranker, position, request, worker, trace)
        return
    items = (_Positioned(p, r) for p, r in positioned)
    for outcome in stream(items, max_in_flight=max_in_flight):
        item, ranking = outcome.item, outcome.ranking
        if isinstance(outcome.error, PromptTooLongError):
            raise PromptTooLongError(f"query {item.query.qid!r}: {outcome.error}") from None
        if outcome.error is not None:
            raise failed_query(item.query.qid, item.position, outcome.error) from None
        assert ranking is not None
        yield QueryResult(
            item.position,
            result_record(item.request, ranking),
            ranking_fields(ranking),
            worker,
            trace_text(ranking) if trace else "",
        )
