"""Property suites over the HTTP request schema and the call cache: any body is a valid request
or one ApiError with a JSON body; any damage to a cache file gives back the uncached answers."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from listrank.backends.base import GenerationRequest
from listrank.backends.cache import CachedBackend
from listrank.server.errors import ApiError
from listrank.server.schema import parse_request, rerank_response
from listrank.server.settings import ServerSettings
from listrank.types import Candidate, Query, RankedCandidate, Ranking
from tests.unit.fuzz_support import HOSTILE_NUMBERS, fuzz, json_values, texts
from tests.unit.test_cache import CountingBackend

SCHEMA_EXAMPLES = 300
CACHE_EXAMPLES = 20
SETTINGS = ServerSettings(max_documents=20, max_query_chars=200)
STATUSES = {400, 413, 422}

documents = st.one_of(
    texts,
    st.fixed_dictionaries({"text": texts}, optional={"title": json_values, "x": json_values}),
    json_values,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "query": st.one_of(texts, json_values),
        "documents": st.one_of(st.lists(documents, max_size=6), json_values),
        "top_n": st.one_of(st.integers(-5, 10**40), json_values),
        "return_documents": st.one_of(st.booleans(), json_values),
        "rank_fields": st.one_of(
            st.lists(st.sampled_from(["text", "title"]), max_size=2), json_values
        ),
        "model": json_values,
    },
)


@st.composite
def raw_bodies(draw: Any) -> bytes:
    body = json.dumps(draw(bodies)).encode()
    mutation = draw(
        st.sampled_from(["none", "none", "number", "nested", "surrogate", "bytes", "cut"])
    )
    event(f"body: {mutation}")
    if mutation == "number":
        return body.replace(
            b"{", b'{"n": ' + draw(st.sampled_from(HOSTILE_NUMBERS)).encode() + b", ", 1
        )
    if mutation == "nested":
        depth = draw(st.integers(30, 2000))
        return b'{"x": ' + b"[" * depth + b"]" * depth + b"}"
    if mutation == "surrogate":
        return body.replace(b"{", b'{"s": "\\udc00", ', 1)
    if mutation == "bytes":
        return draw(st.binary(max_size=40))
    if mutation == "cut":
        return body[: draw(st.integers(0, len(body)))]
    return body


@fuzz(SCHEMA_EXAMPLES)
@given(raw_bodies())
def test_any_body_is_a_request_or_one_json_error(raw: bytes) -> None:
    try:
        req = parse_request(raw, SETTINGS)
    except ApiError as err:
        event(f"outcome: {err.status}")
        assert err.status in STATUSES
        body = json.dumps(err.body("rid"), allow_nan=False)
        assert "\n" not in err.message and json.loads(body)["code"]
        return
    event("outcome: 200")
    n = len(req.documents)
    assert 1 <= req.top_n <= n <= SETTINGS.max_documents
    ranked = tuple(
        RankedCandidate(Candidate(str(i), t), float(n - k))
        for k, (i, t) in enumerate(reversed(list(enumerate(req.documents))))
    )
    response = rerank_response("rid", req, Ranking(Query(req.query), ranked))
    text = json.dumps(response, allow_nan=False)  # what the service sends is strict JSON
    text.encode("utf-8")
    indexes = [r["index"] for r in response["results"]]
    assert len(set(indexes)) == len(indexes) == req.top_n


PROMPTS = [f"prompt {i} " + "z" * (7 * i) for i in range(8)]


def _requests() -> list[GenerationRequest]:
    return [GenerationRequest([{"role": "user", "content": p}], 10) for p in PROMPTS]


@fuzz(CACHE_EXAMPLES)
@given(
    st.lists(
        st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=64)), min_size=1, max_size=6
    ),
    st.booleans(),
)
def test_any_damage_to_a_cache_file_gives_the_uncached_answers(
    damage: list[tuple[float, bytes]], truncate: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "calls.sqlite"
        truth = [r.text for r in CachedBackend(CountingBackend(), path).generate(_requests())]
        data = bytearray(path.read_bytes())
        for where, junk in damage:
            at = int(where * (len(data) - 1))
            data[at : at + len(junk)] = junk
        if truncate:
            del data[random.Random(len(damage)).randrange(len(data)) :]
        path.write_bytes(bytes(data))
        inner = CountingBackend()
        backend = CachedBackend(inner, path)
        assert [r.text for r in backend.generate(_requests())] == truth
        assert inner.served == backend.cache.misses
