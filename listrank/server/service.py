"""One served pipeline, whatever the protocol: the reranker (whose model calls stop once a
request is cancelled) and the bounded queue of requests in front of it.

The HTTP API (``app``) and the MCP server (``mcp_server``) both hand requests to a
``RerankService``; limits, queueing, sharing of backend calls between requests in flight and
cancellation are therefore the same for both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from listrank.integrations._rank import SupportsRerank
from listrank.server.cancel import Documents, bind, unbind
from listrank.server.settings import ServerSettings
from listrank.server.work_queue import JobTiming, RerankQueue
from listrank.types import Candidate, Ranking


def serving_queue(reranker: SupportsRerank, settings: ServerSettings) -> RerankQueue:
    """The queue of ``settings.queue_size`` requests that ``settings.workers`` workers take to
    ``reranker`` (a Reranker checks the request's cancellation before each model call)."""

    def run(query: str, documents: Sequence[str]) -> Ranking:
        # docids are the request positions, which become the response's "index"
        cands = [Candidate(docid=str(i), text=t) for i, t in enumerate(documents)]
        token = bind(documents)  # the cancellation check stops it if the client goes away
        try:
            # requests in flight together share backend calls where the reranker supports it
            return getattr(reranker, "rerank_in_flight", reranker.rerank)(query, cands)
        finally:
            unbind(token)

    return RerankQueue(run, size=settings.queue_size, workers=settings.workers)


class RerankService:
    """A reranker served to concurrent callers (see the module docstring)."""

    def __init__(self, reranker: SupportsRerank, settings: ServerSettings | None = None) -> None:
        self.reranker = reranker
        self.settings = settings or ServerSettings()
        self.queue = serving_queue(reranker, self.settings)

    async def start(self) -> None:
        await self.queue.start()

    async def stop(self) -> None:
        await self.queue.stop()

    async def rerank(self, query: str, documents: Sequence[str]) -> tuple[Ranking, JobTiming]:
        """Queue one request and wait for it. If the caller is cancelled meanwhile, a queued
        request never reaches the model and a running one stops before its next stage."""
        docs = documents if isinstance(documents, Documents) else Documents(documents)
        try:
            return await self.queue.submit(query, docs)
        except asyncio.CancelledError:
            docs.cancel.set()
            raise
