"""What every backend promises, checked the same way on each: the fake one, transformers on the
tiny model, the openai client against the loopback stand-in, a real llama.cpp server (skipped
where llama-cpp-python is not installed), and vLLM in ``tests/vllm_backend`` (``make
test-vllm``), which calls the same ``check_*`` functions.

- its capabilities are the ones it is listed with (``CAPABILITY_BACKENDS``) and the wrappers
  (cache, gate) show exactly the same ones; it declares how it wants to be fed;
- a batch comes back in request order, each answer the one a lone request gets;
- an empty batch is an empty answer; a capability it lacks is a typed error naming who has it;
- each declared answer-changing option gives a different call-cache identity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from listrank.backends.base import (
    CAPABILITY_BACKENDS,
    Feeding,
    GenerationRequest,
    LogprobRequest,
    SupportsAttention,
    SupportsGenerate,
    SupportsNextTokenLogprobs,
    answer_identity,
)
from listrank.backends.cache import CachedBackend
from listrank.errors import CapabilityError
from listrank.options import declared
from listrank.pipeline.gate import GatedBackend

PROTOCOLS = {
    "generate": SupportsGenerate,
    "next_token_logprobs": SupportsNextTokenLogprobs,
    "attention": SupportsAttention,
}
PROMPTS = [
    "Rank the passages.\n[1] a short one\n[2] another",
    "Rank.\n[1] x\n[2] y\n[3] z with a few more words in it",
    "Which is best?\n[1] only",
]
LOGPROB_NOISE = 0.05
"""Float noise between batchings of one prompt (padding, kernels); different prompts differ
by more."""


def capabilities(backend: object) -> set[str]:
    return {name for name, protocol in PROTOCOLS.items() if isinstance(backend, protocol)}


def check_declared_capabilities(backend: Any, tmp_path: Path) -> None:
    have = capabilities(backend)
    listed = {cap for cap, names in CAPABILITY_BACKENDS.items() if backend.name in names}
    assert have == listed, f"{backend.name}: has {sorted(have)}, listed with {sorted(listed)}"
    assert capabilities(CachedBackend(backend, tmp_path / "c.sqlite")) == have
    assert capabilities(GatedBackend(backend)) == have
    assert isinstance(backend.feeding, Feeding)  # declared, not left to a default


def check_batch_order(backend: Any) -> None:
    if isinstance(backend, SupportsGenerate):
        requests = [GenerationRequest([{"role": "user", "content": p}], 8) for p in PROMPTS]
        together = backend.generate(requests)
        alone = [backend.generate([r])[0] for r in requests]
        assert [r.prompt_tokens for r in together] == [r.prompt_tokens for r in alone]
        assert len({r.prompt_tokens for r in alone}) == len(PROMPTS)  # the prompts differ
    if isinstance(backend, SupportsNextTokenLogprobs):
        tokens = ["A", "B"]
        requests = [LogprobRequest([{"role": "user", "content": p}], tokens) for p in PROMPTS]
        together = backend.next_token_logprobs(requests)
        alone = [backend.next_token_logprobs([r])[0] for r in requests]
        for t, a in zip(together, alone, strict=True):
            assert t.prompt_tokens == a.prompt_tokens
            for token in set(t.logprobs) & set(a.logprobs):
                x, y = t.logprobs[token], a.logprobs[token]
                assert (math.isinf(x) and x == y) or abs(x - y) <= LOGPROB_NOISE


def check_empty_and_typed_errors(backend: Any) -> None:
    if isinstance(backend, SupportsGenerate):
        assert backend.generate([]) == []
    if isinstance(backend, SupportsNextTokenLogprobs):
        assert backend.next_token_logprobs([]) == []
    if not isinstance(backend, SupportsAttention):
        from listrank.methods.icr import ICRMethod

        with pytest.raises(CapabilityError, match="backends that have it: hf"):
            ICRMethod(backend)


def check_cache_identity(backend: Any) -> None:
    base = answer_identity(backend)
    assert base["backend"] == backend.name and base["model"] == backend.model_name
    for option in declared(type(backend)):
        if not option.changes_answers or option.internal:
            continue
        saved = backend.settings[option.name]
        other = option.sample() if option.sample() != saved else option.default
        try:
            backend.settings[option.name] = other
            assert answer_identity(backend) != base, option.name
        finally:
            backend.settings[option.name] = saved
    assert answer_identity(backend) == base


CHECKS: list[Callable[..., None]] = [
    check_batch_order,
    check_empty_and_typed_errors,
    check_cache_identity,
]


# -- the backends ---------------------------------------------------------------------------
def _fake() -> Iterator[Any]:
    from listrank.backends.fake import FakeBackend

    def respond(request: GenerationRequest) -> str:
        return "[1] > [2]"

    def logprobs(request: LogprobRequest) -> dict[str, float]:
        text = request.messages[-1]["content"]
        return {t: -float(len(text) % 7 + i) for i, t in enumerate(request.tokens)}

    yield FakeBackend(responder=respond, logprob_responder=logprobs)


def _hf() -> Iterator[Any]:
    from listrank.testing import tiny_backend

    yield tiny_backend("llama")


def _openai(transport: str = "http") -> Iterator[Any]:
    from listrank.backends.openai import OpenAIBackend
    from tests.support.fake_openai import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        backend = OpenAIBackend("fake-model", base_url=server.url, timeout=5.0, transport=transport)
        yield backend
        backend.close()


def _openai_sdk() -> Iterator[Any]:
    pytest.importorskip("openai")
    yield from _openai("sdk")


def _llama_cpp() -> Iterator[Any]:
    from tests.support import llama_server

    if not llama_server.llama_cpp_available():
        pytest.skip("llama-cpp-python[server] is not installed (scripts/build_llama_server.sh)")
    from listrank.backends.openai import OpenAIBackend

    server = llama_server.start()
    try:
        backend = OpenAIBackend(
            llama_server.ALIAS,
            base_url=server.url,
            tokenizer="hf:embedded",
            use_completions=True,
            timeout=300.0,
            extra_body={"repeat_penalty": 1.0},
        )
        yield backend
        backend.close()
    finally:
        server.stop()


BACKENDS: dict[str, Callable[[], Iterator[Any]]] = {
    "fake": _fake,
    "hf": _hf,
    "openai": _openai,
    "openai-sdk": _openai_sdk,
    "llama.cpp": _llama_cpp,
}


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from BACKENDS[request.param]()


def test_capabilities_are_as_declared(backend: Any, tmp_path: Path) -> None:
    check_declared_capabilities(backend, tmp_path)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_conformance(backend: Any, check: Callable[[Any], None]) -> None:
    check(backend)


def test_every_registered_backend_is_in_the_suite() -> None:
    from listrank import registry

    tested = set(BACKENDS) | {"vllm"}  # vLLM: tests/vllm_backend/test_vllm_conformance.py
    assert set(registry.names("backend")) <= tested
