"""One wrapper seam: a method passed as an object is routed exactly like a named one (its calls
merged across queries by the stage gate), and the service's cancellation is a backend wrapper
the Reranker composes, so nothing replaces ``reranker.method`` and the plan keeps its priors."""

from __future__ import annotations

import random

import pytest

from listrank import Reranker
from listrank.backends.base import GenerationRequest, LogprobRequest, SupportsGenerate
from listrank.backends.fake import FakeBackend
from listrank.methods.first import FirstMethod
from listrank.methods.permutation import PermutationMethod

CANDIDATES = [f"passage {i} on topic {i % 3}" for i in range(8)]
QUERIES = [(f"query {q}", CANDIDATES) for q in range(6)]


def scripted() -> FakeBackend:
    def respond(request: GenerationRequest) -> str:
        return "[2] > [1]"

    def logprobs(request: LogprobRequest) -> dict[str, float]:
        return {t: -random.Random(t).random() for t in request.tokens}

    return FakeBackend(responder=respond, logprob_responder=logprobs)


@pytest.mark.parametrize("method", ["rankgpt", "first"])
def test_a_method_object_merges_calls_exactly_like_the_named_method(method: str) -> None:
    classes = {"rankgpt": PermutationMethod, "first": FirstMethod}
    waves = {}
    for how in ("name", "object"):
        backend = scripted()
        given = method if how == "name" else classes[method](backend)
        reranker = Reranker(backend, method=given, strategy="sliding", window=4, step=2)
        reranker._gate.linger_s = 30.0  # only "everyone is waiting" dispatches, however slow
        reranker.rerank_many(QUERIES, max_in_flight=len(QUERIES))
        waves[how] = backend.batches
    # three windows per query: three waves, each one backend call for all six queries
    assert waves["name"] == [len(QUERIES)] * 3
    assert waves["object"] == waves["name"]


def test_the_method_object_given_is_left_as_it_is() -> None:
    backend = scripted()
    method = PermutationMethod(backend)
    Reranker(backend, method=method, strategy="single").rerank("q", CANDIDATES[:3])
    assert method.backend is backend  # the reranker routes a copy


def test_serving_a_reranker_leaves_its_method_and_plan_alone() -> None:
    pytest.importorskip("starlette")
    from listrank.server.app import create_app

    reranker = Reranker(scripted(), method="first", strategy="sliding", window=4, step=2)
    method, plan = reranker.method, reranker.plan(8)
    create_app(reranker)
    assert reranker.method is method
    assert reranker.plan(8) == plan and plan.calls == 3 + 0  # no priors without calibration
    calibrated = Reranker(
        scripted(), method="first", strategy="sliding", window=4, step=2, calibrate=True
    )
    before = calibrated.plan(8)
    create_app(calibrated)
    assert calibrated.plan(8) == before and before.calls == 3 + 1  # one content-free prior


def test_model_calls_stop_once_the_request_is_cancelled() -> None:
    import threading

    from listrank.pipeline.cancel import RequestCancelled, bind, unbind

    backend = scripted()
    reranker = Reranker(backend, method="rankgpt", strategy="sliding", window=4, step=2)
    event = threading.Event()
    token = bind(event)
    try:
        reranker.rerank("q", CANDIDATES)
        served = len(backend.history)
        event.set()
        with pytest.raises(RequestCancelled):
            reranker.rerank("q", CANDIDATES)
        assert len(backend.history) == served  # not one call more
    finally:
        unbind(token)
    assert isinstance(reranker.method.backend, SupportsGenerate)  # type: ignore[attr-defined]
