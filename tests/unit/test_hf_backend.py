from __future__ import annotations

import pytest

from listrank import ConfigError, Reranker
from listrank.backends.base import GenerationRequest, LogprobRequest
from listrank.backends.hf import HFBackend


def msgs(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_batched_generation_equals_one_by_one(tiny_hf: HFBackend) -> None:
    prompts = ["short", "a much longer prompt with many more words in it than the first", "mid"]
    reqs = [GenerationRequest(msgs(p), max_new_tokens=6) for p in prompts]  # type: ignore[arg-type]
    batched = tiny_hf.generate(reqs)
    single = [tiny_hf.generate([r])[0] for r in reqs]
    assert [b.text for b in batched] == [s.text for s in single]
    assert [b.prompt_tokens for b in batched] == [
        tiny_hf.count_prompt_tokens(r.messages) for r in reqs
    ]
    assert all(0 < b.completion_tokens <= 6 for b in batched)


def test_batched_logprobs_equal_one_by_one(tiny_hf: HFBackend) -> None:
    reqs = [
        LogprobRequest(msgs(p), ["A", "B", "C"], assistant_prefix="[")  # type: ignore[arg-type]
        for p in ("x", "a longer prompt here to force padding in the batch")
    ]
    batched = tiny_hf.next_token_logprobs(reqs)
    single = [tiny_hf.next_token_logprobs([r])[0] for r in reqs]
    for b, s in zip(batched, single, strict=True):
        assert b.logprobs.keys() == {"A", "B", "C"}
        for k in b.logprobs:
            assert b.logprobs[k] == pytest.approx(s.logprobs[k], abs=1e-4)
            assert b.logprobs[k] <= 0.0


def test_multi_token_strings_are_rejected(tiny_hf: HFBackend) -> None:
    with pytest.raises(ConfigError, match="single-token"):
        tiny_hf.next_token_logprobs([LogprobRequest(msgs("x"), ["[10]"])])  # type: ignore[arg-type]


def test_prompt_text_uses_the_chat_template(tiny_hf: HFBackend) -> None:
    text = tiny_hf.prompt_text(msgs("hello"), assistant_prefix="[")  # type: ignore[arg-type]
    assert "<|im_start|>user\nhello<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n[")


def test_reranker_on_tiny_model_keeps_every_candidate(tiny_hf: HFBackend) -> None:
    ranking = Reranker(backend=tiny_hf, window=5, step=2).rerank(
        "query", [f"passage number {i}" for i in range(12)]
    )
    assert sorted(ranking.docids, key=int) == [str(i) for i in range(12)]
    assert ranking.trace.n_calls == 5
    for call in ranking.trace.calls:
        assert call.prompt_tokens > 0 and call.latency_s > 0


def test_bad_batch_size() -> None:
    with pytest.raises(ConfigError):
        HFBackend("x", model_obj=object(), tokenizer=object(), batch_size=0)
