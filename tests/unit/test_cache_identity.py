"""The call cache never answers one configuration with another's outputs: the key holds every
option a backend declares as answer-changing. Generated from the declarations (a new option
joins these tests by being declared), and checked end to end on the openai backend against the
loopback stand-in and on the vLLM backend over a stand-in engine."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from listrank import registry
from listrank.backends.base import GenerationRequest, GenerationResult
from listrank.backends.cache import CachedBackend, CallCache
from tests.support.fake_openai import FakeOpenAIServer

REQUESTS = [
    GenerationRequest([{"role": "user", "content": "[1] a\n[2] b\nRank them."}], 12),
    GenerationRequest([{"role": "user", "content": "[1] c\n[2] d\nRank them."}], 12),
]


def answer_changing(cls: Any) -> list[Any]:
    return [o for o in getattr(cls, "OPTIONS", ()) if o.changes_answers and not o.internal]


def stand_in(cls: Any, **settings: Any) -> Any:
    """An instance of ``cls`` as its constructor leaves it for the cache (its name, model and
    bound settings), without loading a model; its generate answers a fixed text."""
    from listrank.options import bind

    obj = object.__new__(cls)
    obj.model_name = "m"
    obj.settings = bind(cls.OPTIONS, settings)
    obj.served = 0

    def generate(requests: Any) -> list[GenerationResult]:
        obj.served += len(requests)
        return [GenerationResult("[2] > [1]", 3, 5, 0.0) for _ in requests]

    obj.generate = generate
    return obj


BACKEND_OPTIONS = [
    (name, option.name)
    for name in registry.names("backend")
    for option in answer_changing(registry.get("backend", name).load())
]


@pytest.mark.parametrize(("backend", "option"), BACKEND_OPTIONS, ids=lambda x: str(x))
def test_every_declared_answer_changing_option_gets_its_own_cache_rows(
    tmp_path: Path, backend: str, option: str
) -> None:
    cls = registry.get("backend", backend).load()
    declared = {o.name: o for o in cls.OPTIONS}
    cache = CallCache(tmp_path / "c.sqlite")
    plain, changed = stand_in(cls), stand_in(cls, **{option: declared[option].sample()})
    CachedBackend(plain, cache).generate(REQUESTS)
    out = CachedBackend(changed, cache).generate(REQUESTS)
    assert not any(r.cached for r in out) and changed.served == len(REQUESTS)
    assert len(cache) == 2 * len(REQUESTS)
    again = stand_in(cls, **{option: declared[option].sample()})
    assert all(r.cached for r in CachedBackend(again, cache).generate(REQUESTS))


def test_every_backend_declares_what_changes_its_answers() -> None:
    # the options the original hole let through are declared answer-changing
    expect = {
        "openai": {"top_logprobs", "extra_body", "use_completions", "logit_bias", "base_url"}
        | {"temperature", "seed", "tokenizer"},
        "vllm": {"guided", "dtype", "seed", "llm_options"},
        "hf": {"device", "dtype", "attn_implementation"},
    }
    for name, options in expect.items():
        cls = registry.get("backend", name).load()
        assert options <= {o.name for o in answer_changing(cls)}, name


# -- end to end -----------------------------------------------------------------------------
@pytest.fixture
def servers() -> Iterator[tuple[FakeOpenAIServer, FakeOpenAIServer]]:
    with FakeOpenAIServer() as one, FakeOpenAIServer() as two:
        yield one, two


def test_openai_configurations_never_share_cache_rows(
    tmp_path: Path, servers: tuple[FakeOpenAIServer, FakeOpenAIServer]
) -> None:
    from listrank.backends.openai import OpenAIBackend

    one, two = servers
    configs: list[dict[str, Any]] = [
        {},
        {"top_logprobs": 5},
        {"extra_body": {"top_p": 0.1}},
        {"temperature": 0.5},
        {"seed": 7},
        {"logit_bias": True},
        {"base_url": two.url},
    ]
    path = tmp_path / "c.sqlite"
    for config in configs:
        options = {"base_url": one.url, "timeout": 5.0, **config}
        backend = OpenAIBackend("m", **options)
        try:
            out = CachedBackend(backend, path).generate(REQUESTS)
        finally:
            backend.close()
        assert not any(r.cached for r in out), f"{config} was served another config's rows"
    assert len(one.requests) + len(two.requests) == len(configs) * len(REQUESTS)
    assert len(CallCache(path)) == len(configs) * len(REQUESTS)


class StubLLM:
    """Enough of ``vllm.LLM`` for the backend's constructor and generate."""

    calls = 0

    def __init__(self, **options: Any) -> None:
        from listrank.testing import embedded_tokenizer

        self.options = options
        self.tokenizer = embedded_tokenizer()
        self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=4096))

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def generate(self, prompts: list[Any], params: list[Any], use_tqdm: bool = False) -> list[Any]:
        StubLLM.calls += len(prompts)
        out = SimpleNamespace(text="[2] > [1]", token_ids=[1, 2, 3], finish_reason="stop")
        return [
            SimpleNamespace(prompt_token_ids=p["prompt_token_ids"], outputs=[out]) for p in prompts
        ]


@pytest.fixture
def stub_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("vllm")
    module.LLM = StubLLM  # type: ignore[attr-defined]
    module.SamplingParams = lambda **kw: kw  # type: ignore[attr-defined]
    module.sampling_params = SimpleNamespace(StructuredOutputsParams=lambda **kw: kw)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)
    StubLLM.calls = 0


def test_a_guided_and_an_unguided_vllm_run_never_share_cache_rows(
    tmp_path: Path, stub_vllm: None
) -> None:
    from listrank.backends.vllm import VLLMBackend

    path = tmp_path / "c.sqlite"
    unguided = CachedBackend(VLLMBackend("stub-model"), path).generate(REQUESTS)
    guided = CachedBackend(VLLMBackend("stub-model", guided=True), path).generate(REQUESTS)
    assert not any(r.cached for r in unguided + guided)
    assert StubLLM.calls == 2 * len(REQUESTS)
    other_dtype = CachedBackend(VLLMBackend("stub-model", dtype="float16"), path)
    assert not any(r.cached for r in other_dtype.generate(REQUESTS))
    assert all(r.cached for r in CachedBackend(VLLMBackend("stub-model"), path).generate(REQUESTS))
