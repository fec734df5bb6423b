"""The persistent call cache: keys, capabilities forwarded, owner-only file, zero repeat calls."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from listrank.backends.base import (
    GenerationRequest,
    LogprobRequest,
    SupportsGenerate,
    SupportsNextTokenLogprobs,
)
from listrank.backends.cache import CachedBackend, CallCache
from listrank.backends.fake import FakeBackend
from listrank.errors import CapabilityError, ConfigError
from listrank.options import Option
from listrank.pipeline.reranker import Reranker


class CountingBackend(FakeBackend):
    """A fake whose answers depend on the prompt, counting every request it really serves."""

    def __init__(self) -> None:
        super().__init__(
            responder=lambda r: f"[2] > [1] {len(r.messages[-1]['content'])}",
            logprob_responder=lambda r: {t: -float(i) for i, t in enumerate(r.tokens)},
        )

    @property
    def served(self) -> int:
        return len(self.history)


class Sampling(CountingBackend):
    OPTIONS = (
        *FakeBackend.OPTIONS,
        Option("temperature", float, 0.0, "sampling temperature", changes_answers=True),
    )


class GenerateOnly:
    name = "gen-only"
    model_name = "m"
    context_length = 1000

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def count_prompt_tokens(self, messages: object, assistant_prefix: str = "") -> int:
        return 1

    def generate(self, requests: list[GenerationRequest]) -> list[object]:
        raise AssertionError("not called here")


def _req(text: str, prefix: str = "", max_new: int = 10) -> GenerationRequest:
    return GenerationRequest([{"role": "user", "content": text}], max_new, assistant_prefix=prefix)


def test_second_call_is_served_from_the_file(tmp_path: Path) -> None:
    inner = CountingBackend()
    path = tmp_path / "calls.sqlite"
    first = CachedBackend(inner, path).generate([_req("a"), _req("b")])
    assert inner.served == 2 and not any(r.cached for r in first)
    # a new wrapper on the same file: nothing is recomputed, texts identical, marked cached
    again = CachedBackend(inner, path).generate([_req("b"), _req("a"), _req("c")])
    assert inner.served == 3  # only "c" was new
    assert [r.text for r in again[:2]] == [first[1].text, first[0].text]
    assert [r.cached for r in again] == [True, True, False]
    assert again[0].latency_s == 0.0


@pytest.mark.parametrize(
    "other",
    [_req("a", prefix="["), _req("a", max_new=11), _req("a "), _req("A")],
)
def test_any_prompt_difference_is_a_miss(tmp_path: Path, other: GenerationRequest) -> None:
    inner = CountingBackend()
    backend = CachedBackend(inner, tmp_path / "c.sqlite")
    backend.generate([_req("a")])
    assert not backend.generate([other])[0].cached


def test_model_and_decoding_parameters_are_in_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    a = CountingBackend()
    CachedBackend(a, path).generate([_req("x")])
    b = CountingBackend()
    b.model_name = "other-model"
    assert not CachedBackend(b, path).generate([_req("x")])[0].cached
    c = Sampling()  # a declared answer-changing option, not an attribute that happens to exist
    c.settings["temperature"] = 0.7
    assert not CachedBackend(c, path).generate([_req("x")])[0].cached
    assert not CachedBackend(a, path, key_params={"seed": 3}).generate([_req("x")])[0].cached
    assert CachedBackend(a, path).generate([_req("x")])[0].cached


def test_logprob_requests_key_on_the_tokens(tmp_path: Path) -> None:
    inner = CountingBackend()
    backend = CachedBackend(inner, tmp_path / "c.sqlite")
    msgs = [{"role": "user", "content": "q"}]
    r1 = backend.next_token_logprobs([LogprobRequest(msgs, ["A", "B"])])  # type: ignore[list-item]
    r2 = backend.next_token_logprobs([LogprobRequest(msgs, ["A", "B"])])  # type: ignore[list-item]
    r3 = backend.next_token_logprobs([LogprobRequest(msgs, ["A", "C"])])  # type: ignore[list-item]
    assert r2[0].cached and r2[0].logprobs == r1[0].logprobs
    assert not r3[0].cached and inner.served == 2


def test_capabilities_are_exactly_the_inner_ones(tmp_path: Path) -> None:
    both = CachedBackend(CountingBackend(), tmp_path / "a.sqlite")
    assert isinstance(both, SupportsGenerate) and isinstance(both, SupportsNextTokenLogprobs)
    gen = CachedBackend(GenerateOnly(), tmp_path / "b.sqlite")
    assert isinstance(gen, SupportsGenerate)
    assert not isinstance(gen, SupportsNextTokenLogprobs)
    assert not hasattr(gen, "next_token_logprobs")


def test_failed_calls_are_not_stored(tmp_path: Path) -> None:
    from listrank.backends.base import GenerationResult

    class Failing(CountingBackend):
        def generate(self, requests):  # type: ignore[no-untyped-def]
            self.history.extend(requests)
            return [GenerationResult("", 1, 0, 0.0, error="timeout") for _ in requests]

    inner = Failing()
    backend = CachedBackend(inner, tmp_path / "c.sqlite")
    backend.generate([_req("a")])
    assert not backend.generate([_req("a")])[0].cached
    assert len(backend.cache) == 0


def test_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "calls.sqlite"
    CallCache(path).put("k", {"v": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert CallCache(path).get("k") == {"v": 1}


def test_unusable_path_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(ConfigError, match="cannot open call cache"):
        CallCache(tmp_path / "dir.sqlite")


def test_reranker_rerun_makes_no_model_calls(tmp_path: Path) -> None:
    cands = [f"passage {i}" for i in range(7)]
    path = tmp_path / "c.sqlite"
    inner = CountingBackend()
    first = Reranker(backend=inner, window=4, step=2, cache=path).rerank("q", cands)
    served = inner.served
    assert first.trace.n_calls == served > 1
    second = Reranker(backend=inner, window=4, step=2, cache=path).rerank("q", cands)
    assert inner.served == served
    assert second.trace.n_calls == 0 and all(c.cached for c in second.trace.calls)
    assert second.docids == first.docids


def test_a_wrapped_backend_without_generate_fails_the_capability_check(tmp_path: Path) -> None:
    from listrank.methods.permutation import PermutationMethod

    class LogprobsOnly(CountingBackend):
        generate = property()  # type: ignore[assignment]  # hasattr() is False

    wrapped = CachedBackend(LogprobsOnly(), tmp_path / "x.sqlite")
    assert isinstance(wrapped, SupportsNextTokenLogprobs)
    with pytest.raises(CapabilityError, match="generate"):
        PermutationMethod(wrapped)
