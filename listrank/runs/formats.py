"""Inputs people already have, read directly: rank_llm's ``retrieve_results_*.json`` (a JSON
array of ``{"query", "hits": [{"content", "qid", "docid", "rank", "score"}]}``) and a TREC run
file with a corpus (docid -> text, TSV or JSONL) and topics (qid TAB query).

Each becomes the same validated ``Request`` list as a JSONL request file (rank_llm's request
form, so results are written as rank_llm JSONL that listrank reads back).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from listrank.errors import InputError
from listrank.runs import safe_json, streams
from listrank.runs.requests import Request, iter_lines, parse_request, read_trec_run

_ID_KEYS = ("docid", "_id", "id", "doc_id", "pid")
_TEXT_KEYS = ("contents", "text", "segment", "body", "passage")


def starts_with_json_array(path: str | Path) -> bool:
    """True when the file's first non-blank character is '[' (a JSON array, not JSON lines)."""
    try:
        with streams.open_input(path) as fh:
            while chunk := fh.read(4096):
                stripped = chunk.lstrip()
                if stripped:
                    return stripped[:1] == b"["
    except (OSError, EOFError, zlib.error):
        return False  # the line reader reports unreadable files
    return False


def _load_array(path: str | Path) -> list[Any]:
    try:
        raw = streams.read_bytes(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        data = safe_json.loads(raw)  # the same limits as every other input
    except InputError as exc:
        raise InputError(
            f"{path} is a JSON array (rank_llm retrieve_results form) but cannot be read: {exc}"
        ) from None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON array")
    return data


def _retrieve_item(item: Any, i: int) -> dict[str, Any]:
    where = f"[{i}]"
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected an object with 'query' and 'hits'", field=where)
    query, hits = item.get("query"), item.get("hits")
    if not isinstance(query, str):
        raise InputError("missing or not a string", field=f"{where}.query")
    if not isinstance(hits, list) or not hits:
        raise InputError("missing, empty or not a list", field=f"{where}.hits")
    qid: Any = None
    candidates = []
    for j, hit in enumerate(hits):
        hwhere = f"{where}.hits[{j}]"
        if not isinstance(hit, dict):
            raise InputError("must be an object", field=hwhere)
        if not isinstance(hit.get("content"), str):
            raise InputError("missing or not a string", field=f"{hwhere}.content")
        hit_qid = hit.get("qid")
        if qid is None:
            qid = hit_qid
        elif hit_qid != qid:
            raise InputError(f"qid {hit_qid!r} differs from the query's {qid!r}", field=hwhere)
        candidates.append(
            {
                "docid": hit.get("docid"),
                "score": hit.get("score"),
                "doc": {"contents": hit["content"]},
            }
        )
    return {
        "query": {"qid": qid if qid is not None else str(i + 1), "text": query},
        "candidates": candidates,
    }


def read_retrieve_results(path: str | Path) -> list[Request]:
    """rank_llm's retrieve_results JSON array; errors name the item ([i]) and field."""
    requests: list[Request] = []
    qids: set[str] = set()
    for i, item in enumerate(_load_array(path)):
        try:
            req = parse_request(_retrieve_item(item, i), i + 1)
        except InputError as exc:
            raise InputError(f"{path}: query {i + 1} of the JSON array: {exc}") from exc
        if req.query.qid in qids:
            raise InputError(f"{path}: duplicate qid {req.query.qid!r} (query {i + 1})")
        qids.add(req.query.qid)
        requests.append(req)
    if not requests:
        raise InputError(f"{path} holds no queries")
    return requests


def _jsonl_docs(path: str | Path) -> Iterator[tuple[str, str]]:
    for number, text in iter_lines(path):
        try:
            obj = safe_json.loads(text, line=number)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}: expected a JSON object", line=number)
        docid = next((obj[k] for k in _ID_KEYS if isinstance(obj.get(k), str | int)), None)
        body = next((obj[k] for k in _TEXT_KEYS if isinstance(obj.get(k), str)), None)
        if docid is None or body is None:
            raise InputError(
                f"{path}: needs a docid ({'/'.join(_ID_KEYS)}) and a text ({'/'.join(_TEXT_KEYS)})",
                line=number,
            )
        title = obj.get("title")
        yield str(docid), f"{title}: {body}" if isinstance(title, str) and title else body


def _tsv_rows(path: str | Path, what: str) -> Iterator[tuple[str, str]]:
    for number, text in iter_lines(path):
        key, sep, value = text.rstrip("\r\n").partition("\t")
        if not sep or not key.strip():
            raise InputError(f"{path}: a {what} line is 'ID<TAB>text'", line=number)
        yield key.strip(), value


def read_corpus(path: str | Path) -> dict[str, str]:
    """docid -> text from a TSV (docid<TAB>text) or JSONL ({"docid"|"_id", "text", "title"?})."""
    is_jsonl = Path(path).suffix in (".jsonl", ".json") or _first_char(path) == "{"
    rows = _jsonl_docs(path) if is_jsonl else _tsv_rows(path, "corpus")
    return dict(rows)


def read_topics(path: str | Path) -> dict[str, str]:
    """qid -> query text from a TSV (qid<TAB>query)."""
    return dict(_tsv_rows(path, "topics"))


def _first_char(path: str | Path) -> str:
    for _, text in iter_lines(path):
        return text.lstrip()[:1]
    return ""


def read_trec_with_corpus(run: str | Path, corpus: str | Path, topics: str | Path) -> list[Request]:
    """Requests from a TREC run (candidates in file order), a corpus and the topics."""
    docs = read_corpus(corpus)
    queries = read_topics(topics)
    requests = []
    for i, (qid, ranked) in enumerate(read_trec_run(run).items()):
        if qid not in queries:
            raise InputError(f"{run}: query {qid!r} is not in the topics file {topics}")
        missing = [d for d, _ in ranked if d not in docs]
        if missing:
            raise InputError(
                f"{run}: {len(missing)} docid(s) of query {qid!r} are not in the corpus "
                f"{corpus}, e.g. {missing[0]!r}"
            )
        obj = {
            "query": {"qid": qid, "text": queries[qid]},
            "candidates": [
                {"docid": d, "score": s, "doc": {"contents": docs[d]}} for d, s in ranked
            ],
        }
        requests.append(parse_request(obj, i + 1))
    if not requests:
        raise InputError(f"{run} holds no queries")
    return requests
