"""The rerank request and response as Cohere (v1, v2) and Jina define them.

Request: ``{model?, query, documents: [str | {text, ...}], top_n?, return_documents?,
rank_fields?}``; with ``rank_fields`` an object document is judged on those fields joined
by newlines (Cohere v1). Fields the APIs have and a listwise reranker does not need
(``max_chunks_per_doc``, ``max_tokens_per_doc``…) are accepted and ignored. Returned
documents are echoed as sent: ``{text}`` for a string, the whole object for an object.
Response: ``{id, results: [{index, relevance_score, document?: {text}}], meta, model, usage}``
(``meta`` is Cohere's, ``model``/``usage`` Jina's; each client ignores the other's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from listrank.errors import InputError
from listrank.integrations._rank import rank_score
from listrank.runs import safe_json
from listrank.server.errors import ApiError, invalid, over_limit
from listrank.server.settings import ServerSettings
from listrank.types import Ranking


@dataclass(frozen=True)
class RerankRequest:
    query: str
    documents: tuple[str, ...]
    """The text each document is judged on."""
    originals: tuple[Mapping[str, Any], ...]
    """Each document as the response returns it."""
    top_n: int
    return_documents: bool
    model: str | None = None


def _document_text(i: int, doc: Any, fields: Sequence[str]) -> str:
    if isinstance(doc, Mapping):
        present = [f for f in fields if f in doc]
        if not present:
            raise invalid(f"documents[{i}] is an object without a {' or '.join(fields)!r} field")
        values = [doc[f] for f in present]
        if not all(isinstance(v, str) for v in values):
            raise invalid(f"documents[{i}]: fields {present} must be strings")
        doc = "\n".join(values)
    if not isinstance(doc, str):
        raise invalid(
            f"documents[{i}] must be a string or an object with a string 'text', "
            f"not {type(doc).__name__}"
        )
    if not doc.strip():
        raise invalid(f"documents[{i}] is empty")
    return doc


def _rank_fields(data: Mapping[str, Any]) -> list[str]:
    fields = data.get("rank_fields")
    if fields is None:
        return ["text"]
    if (
        not isinstance(fields, list)
        or not fields
        or not all(isinstance(f, str) and f for f in fields)
    ):
        raise invalid("'rank_fields' must be a non-empty list of field names")
    return fields


def parse_request(body: bytes, settings: ServerSettings) -> RerankRequest:
    """Validate a request body; every rejection is an ApiError with a message naming the field
    (422 for shape and type, 400 for malformed JSON or a limit)."""
    try:
        data = safe_json.loads(body)
    except InputError as exc:
        raise ApiError(400, "invalid_json", f"the request body is not valid JSON: {exc}") from None
    return request_from_data(data, settings)


def request_from_data(data: Any, settings: ServerSettings) -> RerankRequest:
    """Validate a decoded request (the HTTP body, or an MCP tool's arguments): the checks and
    limits of ``parse_request`` after the JSON."""
    if not isinstance(data, dict):
        raise invalid(f"the request body must be a JSON object, not {type(data).__name__}")

    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise invalid("'model' must be a string")

    query = data.get("query")
    if query is None:
        raise invalid("'query' is required")
    if not isinstance(query, str):
        raise invalid(f"'query' must be a string, not {type(query).__name__}")
    if not query.strip():
        raise invalid("'query' is empty")
    if len(query) > settings.max_query_chars:
        raise over_limit(
            400,
            "max_query_chars",
            f"the query has {len(query)} characters; this server accepts at most "
            f"{settings.max_query_chars} (max_query_chars)",
        )

    docs = data.get("documents")
    if docs is None:
        raise invalid("'documents' is required")
    if not isinstance(docs, list):
        raise invalid(f"'documents' must be a list, not {type(docs).__name__}")
    if not docs:
        raise invalid("'documents' is empty; send at least one document")
    if len(docs) > settings.max_documents:
        raise over_limit(
            400,
            "max_documents",
            f"{len(docs)} documents sent; this server accepts at most "
            f"{settings.max_documents} per request (max_documents)",
        )
    fields = _rank_fields(data)
    texts = tuple(_document_text(i, d, fields) for i, d in enumerate(docs))
    originals = tuple(dict(d) if isinstance(d, Mapping) else {"text": d} for d in docs)

    top_n = data.get("top_n")
    if top_n is None:
        top_n = len(texts)
    elif isinstance(top_n, bool) or not isinstance(top_n, int):
        raise invalid(f"'top_n' must be an integer, not {type(top_n).__name__}")
    elif top_n < 1:
        raise invalid(f"'top_n' must be >= 1, got {top_n}")

    return_documents = data.get("return_documents", False)
    if return_documents is None:
        return_documents = False
    if not isinstance(return_documents, bool):
        raise invalid("'return_documents' must be true or false")

    return RerankRequest(
        query=query,
        documents=texts,
        originals=originals,
        top_n=min(top_n, len(texts)),  # Cohere and Jina clamp rather than reject
        return_documents=return_documents,
        model=model,
    )


def rerank_response(
    request_id: str, req: RerankRequest, ranking: Ranking, model_name: str, api_version: str = "1"
) -> dict[str, Any]:
    """Results best first; ``relevance_score`` comes from the rank (see ``rank_score``)."""
    n = len(ranking.ranked)
    results: list[dict[str, Any]] = []
    for rank, ranked in enumerate(ranking.ranked[: req.top_n]):
        index = int(ranked.candidate.docid)
        item: dict[str, Any] = {"index": index, "relevance_score": rank_score(rank, n)}
        if req.return_documents:
            item["document"] = req.originals[index]
        results.append(item)
    tokens = ranking.trace.prompt_tokens + ranking.trace.completion_tokens
    return {
        "id": request_id,
        "results": results,
        "meta": {
            "api_version": {"version": api_version},
            "billed_units": {"search_units": 1},
            "tokens": {
                "input_tokens": ranking.trace.prompt_tokens,
                "output_tokens": ranking.trace.completion_tokens,
            },
        },
        "model": model_name,
        "usage": {"total_tokens": tokens},
    }
