"""Every registered strategy × every registered method through the Reranker: a permutation of
the input with a full trace that agrees with the plan. Methods that need a capability the
backend lacks are skipped (that is the only reason to skip)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from listrank import Reranker, registry
from listrank.backends.base import GenerationRequest, LogprobRequest
from listrank.backends.fake import FakeBackend
from listrank.errors import CapabilityError
from listrank.strategies.planning import check_trace

N = 9
CANDIDATES = [
    {"docid": f"d{i}", "text": f"passage {i} about topic {i % 4} with some words " * 3}
    for i in range(N)
]
QUERY = "which passage is about topic 2?"


def fake_backend() -> FakeBackend:
    rng = random.Random(0)

    def respond(request: GenerationRequest) -> str:
        ids = list(range(1, 21))
        rng.shuffle(ids)
        return " > ".join(f"[{i}]" for i in ids[: rng.randint(0, 20)])

    def logprobs(request: LogprobRequest) -> dict[str, float]:
        return {t: -rng.random() for t in request.tokens if rng.random() < 0.9}

    return FakeBackend(responder=respond, logprob_responder=logprobs)


def tiny() -> object:
    from listrank.testing import tiny_backend

    return tiny_backend("llama")


# small settings keep the tiny model's generation (the slow part) to a few dozen tokens a call
STRATEGY_OPTIONS: dict[str, dict[str, object]] = {
    "tournament": {"top_k": 2},
    "setwise": {"top_k": 2},
    "tourrank": {"tournaments": 1},
    "jointrank": {"replication": 2},
}
METHOD_OPTIONS: dict[str, object] = {"max_new_tokens": 6}


BACKENDS: dict[str, Callable[[], object]] = {"fake": fake_backend, "tiny": tiny}


@pytest.fixture(scope="module")
def backends() -> dict[str, object]:
    return {}


@pytest.mark.parametrize("backend_name", sorted(BACKENDS))
@pytest.mark.parametrize("method", registry.names("method"))
@pytest.mark.parametrize("strategy", registry.names("strategy"))
def test_matrix(backends: dict[str, object], backend_name: str, method: str, strategy: str) -> None:
    if backend_name not in backends:
        backends[backend_name] = BACKENDS[backend_name]()
    backend = backends[backend_name]
    try:
        accepted = registry.get("method", method).options()
        options = {k: v for k, v in METHOD_OPTIONS.items() if k in accepted}
        options |= STRATEGY_OPTIONS.get(strategy, {})
        reranker = Reranker(backend=backend, method=method, strategy=strategy, **options)
    except CapabilityError as exc:
        pytest.skip(f"{method} needs a capability {backend_name} lacks: {exc}")
    ranking = reranker.rerank(QUERY, CANDIDATES)
    assert sorted(ranking.docids) == sorted(c["docid"] for c in CANDIDATES)
    trace = ranking.trace
    assert trace.calls and trace.plan is not None
    assert check_trace(trace).ok, str(check_trace(trace))
    docids = {c["docid"] for c in CANDIDATES}
    smallest = 1 if strategy == "pointwise" else 2  # it judges every candidate alone
    for call in trace.calls:
        assert call.method == reranker.method.name
        assert len(call.docids) >= smallest and set(call.docids) <= docids
    assert sorted({c.stage for c in trace.calls}) == list(range(trace.depth))
