from __future__ import annotations

import pytest

from listrank import ConfigError, Reranker
from listrank.backends.base import GenerationRequest, LogprobRequest
from listrank.backends.hf import HFBackend, length_batches


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


def test_length_batches_bucket_by_length_within_the_budgets() -> None:
    lengths = [50, 10, 40, 12, 11, 45]
    assert length_batches(lengths, 8) == [[1, 4, 3, 2, 5, 0]]  # shortest first
    assert length_batches(lengths, 2) == [[1, 4], [3, 2], [5, 0]]
    # at most 60 padded tokens: 3 x 12 fits, a 40 joins nothing, each long one alone
    assert length_batches(lengths, 8, max_tokens=60) == [[1, 4, 3], [2], [5], [0]]
    assert length_batches([100], 8, max_tokens=10) == [[0]]  # too long alone still runs
    assert sorted(i for b in length_batches(lengths, 3, 70) for i in b) == list(range(6))


def test_token_budget_batches_give_the_same_answers_with_less_padding(tiny_hf: HFBackend) -> None:
    prompts = ["a", "b c", "a much longer prompt with very many more words than the others", "d"]
    reqs = [
        LogprobRequest(msgs(p), ["A", "B"], assistant_prefix="[")  # type: ignore[arg-type]
        for p in prompts
    ]
    lengths = [tiny_hf.count_prompt_tokens(r.messages, "[") for r in reqs]
    wide = HFBackend("tiny", model_obj=tiny_hf.model, tokenizer=tiny_hf.tokenizer, batch_size=8)
    budget = HFBackend(
        "tiny",
        model_obj=tiny_hf.model,
        tokenizer=tiny_hf.tokenizer,
        batch_size=8,
        max_batch_tokens=3 * sorted(lengths)[2],  # the three short prompts, not the long one
    )
    a, b = wide.next_token_logprobs(reqs), budget.next_token_logprobs(reqs)
    for x, y in zip(a, b, strict=True):
        assert x.prompt_tokens == y.prompt_tokens
        for k in x.logprobs:
            assert x.logprobs[k] == pytest.approx(y.logprobs[k], abs=1e-4)
    assert wide.padding.real == budget.padding.real == sum(lengths)
    assert wide.padding.padded == 4 * max(lengths)
    assert budget.padding.padded == 3 * sorted(lengths)[2] + max(lengths)
    assert budget.padding.waste < wide.padding.waste


def test_hf_on_cpu_runs_one_query_at_a_time_by_default(tiny_hf: HFBackend) -> None:
    assert tiny_hf.device == "cpu"
    assert Reranker(backend=tiny_hf).default_max_in_flight() == 1
