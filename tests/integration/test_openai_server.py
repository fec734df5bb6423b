"""OpenAIBackend against a REAL OpenAI-compatible server: llama.cpp (llama-cpp-python) serving the
embedded SmolLM2 GGUF on 127.0.0.1, started once for this module; plus the fault proxy in front.

Differences from the in-process HF backend, measured and asserted below:
- Prompts: in completions mode the chat template is rendered by the same HF tokenizer, so the
  server reads exactly the HF prompt (equal prompt token counts are asserted).
- Decoding: llama.cpp applies a repeat penalty (1.1) by default; with ``repeat_penalty=1.0``
  (sent through ``extra_body``) its temperature-0 decoding is plain greedy like HF's.
- Numbers: both load the same Q4_1 weights, but transformers dequantizes them to fp32 while
  llama.cpp multiplies the quantized blocks directly (with 8-bit quantized activations), so
  next-token log-probabilities differ by a few hundredths of a nat. Identifier rankings from
  logprobs agree; greedy generation agrees until the first near-tie, where the two can pick
  different tokens. Each divergence is checked to be such a near-tie in HF's own distribution.
- llama-cpp-python runs one request at a time: concurrency is exercised (all requests in
  flight, all answered, same answers) but gives no speed-up on this server; the speed-up is
  measured against a fixed-latency server in benchmarks/api_concurrency.py.
- llama.cpp returns the same logprobs with or without logit_bias (it does not apply the bias
  to reported logprobs), so biasing is harmless there and only matters on servers that use it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support import llama_server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.server,
    pytest.mark.skipif(
        not llama_server.llama_cpp_available(),
        reason="llama-cpp-python[server] is not installed in this venv "
        "(scripts/build_llama_server.sh <venv> installs it)",
    ),
]

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
RUN = DATA / "trec-dl19-passage" / "dl19.bm25.top100.normalized.jsonl"
N_QUERIES, N_CANDIDATES, WORDS = 20, 6, 15
# generous: two cores are shared, and the server answers one request at a time
TIMEOUT_S = 300.0
# float noise between batchings of one prompt; answers to different prompts differ by > 0.2
LOGPROB_NOISE = 0.05


@pytest.fixture(scope="module")
def server() -> Iterator[llama_server.LlamaServer]:
    srv = llama_server.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    if not RUN.exists():
        pytest.skip(f"test collection not found at {RUN.resolve()}")
    with RUN.open() as f:
        out = [json.loads(line) for _, line in zip(range(N_QUERIES), f, strict=False)]
    for row in out:
        row["candidates"] = [
            {"docid": c["docid"], "text": c["text"]} for c in row["candidates"][:N_CANDIDATES]
        ]
    return out


def api(srv: llama_server.LlamaServer, **kw: Any) -> Any:
    from listrank.backends.openai import OpenAIBackend

    options: dict[str, Any] = {
        "base_url": srv.url,
        "tokenizer": "hf:embedded",
        "use_completions": True,
        "context_length": 8192,
        "timeout": TIMEOUT_S,
        # llama.cpp applies a repeat penalty of 1.1 unless told otherwise: not greedy
        "extra_body": {"repeat_penalty": 1.0},
    }
    options.update(kw)
    return OpenAIBackend(llama_server.ALIAS, **options)


@pytest.fixture(scope="module")
def hf() -> Any:
    from listrank.backends.hf import HFBackend

    return HFBackend(context_length=8192)


def first_prompts(rows: list[dict[str, Any]]) -> list[Any]:
    from listrank.backends.base import LogprobRequest
    from listrank.prompting.budget import truncate_words
    from listrank.prompting.templates import load_template

    template = load_template("first_alpha")
    out = []
    for row in rows:
        texts = [truncate_words(c["text"], WORDS) for c in row["candidates"]]
        p = template.render(row["query"], texts)
        out.append(LogprobRequest(p.messages, p.identifiers, p.assistant_prefix))
    return out


def test_generation_and_usage(server: llama_server.LlamaServer, hf: Any) -> None:
    from listrank.backends.base import GenerationRequest

    backend = api(server, prices={llama_server.ALIAS: (0.5, 1.5)})
    msgs = [{"role": "user", "content": "What is the capital of France? One word."}]
    (out,) = backend.generate([GenerationRequest(msgs, 8)])  # type: ignore[list-item]
    assert "paris" in out.text.lower()
    assert out.prompt_tokens == hf.count_prompt_tokens(msgs)  # the server read our exact prompt
    assert 1 <= out.completion_tokens <= 8
    call = backend.usage.last
    assert call.usage_reported and call.cost == pytest.approx(
        (out.prompt_tokens * 0.5 + out.completion_tokens * 1.5) / 1e6
    )
    chat = api(server, use_completions=False, tokenizer=None)
    (reply,) = chat.generate([GenerationRequest(msgs, 8)])  # type: ignore[list-item]
    assert "paris" in reply.text.lower()
    assert reply.prompt_tokens == out.prompt_tokens  # llama.cpp's chat format = the HF template


def test_first_logprobs_agree_with_hf(
    server: llama_server.LlamaServer, hf: Any, rows: list[dict[str, Any]]
) -> None:
    requests = first_prompts(rows[:8])
    served = api(server).next_token_logprobs(requests)
    local = hf.next_token_logprobs(requests)
    worst = 0.0
    for s, h, r in zip(served, local, requests, strict=True):
        assert set(s.logprobs) == set(r.tokens)  # all identifiers within the top-20
        assert s.prompt_tokens == h.prompt_tokens
        rank_s = sorted(r.tokens, key=lambda t: -s.logprobs[t])
        rank_h = sorted(r.tokens, key=lambda t: -h.logprobs[t])
        assert rank_s[0] == rank_h[0]
        worst = max(worst, *(abs(s.logprobs[t] - h.logprobs[t]) for t in r.tokens))
    assert worst < 0.25, f"largest logprob difference {worst:.3f} nats"
    chat = api(server, use_completions=False, tokenizer=None).next_token_logprobs(requests[:3])
    assert all(len(c.logprobs) >= 3 for c in chat)  # chat mode: identifiers found in top-20


def test_greedy_generation_matches_hf_up_to_near_ties(
    server: llama_server.LlamaServer, hf: Any, rows: list[dict[str, Any]]
) -> None:
    import torch

    from listrank.backends.base import GenerationRequest

    prompts = first_prompts(rows[:3])
    requests = [GenerationRequest(p.messages, 10, p.assistant_prefix) for p in prompts]
    served = api(server).generate(requests)
    tok = hf.tokenizer
    for req, s in zip(requests, served, strict=True):
        ids = tok(hf.prompt_text(req.messages, req.assistant_prefix), return_tensors="pt")
        with torch.inference_mode():
            gen = hf.model.generate(
                **ids, max_new_tokens=10, do_sample=False, output_scores=True,
                return_dict_in_generate=True, pad_token_id=tok.pad_token_id,
            )  # fmt: skip
        new = gen.sequences[0, ids["input_ids"].shape[1] :].tolist()
        for k in range(len(new)):
            if s.text.startswith(tok.decode(new[: k + 1])):
                continue
            # first divergence: the server's token must be a near-tie for HF too
            rest = s.text[len(tok.decode(new[:k])) :]
            if not rest:
                break  # the server stopped earlier (end of sequence)
            theirs = tok.encode(rest, add_special_tokens=False)[0]
            logprobs = torch.log_softmax(gen.scores[k][0].float(), -1)
            gap = float(logprobs[new[k]] - logprobs[theirs])
            assert 0 <= gap < 0.25, f"diverged at token {k} with an HF gap of {gap:.3f} nats"
            break


def test_concurrent_requests_all_answered_identically(
    server: llama_server.LlamaServer, rows: list[dict[str, Any]]
) -> None:
    requests = first_prompts(rows[:6])
    concurrent = api(server, concurrency=6).next_token_logprobs(requests)
    one_by_one = api(server, concurrency=1).next_token_logprobs(requests)

    def distance(a: Any, b: Any) -> float:
        assert a.logprobs.keys() == b.logprobs.keys()
        return max(abs(a.logprobs[t] - b.logprobs[t]) for t in a.logprobs)

    # llama.cpp reuses the KV cache of whatever prompt it served last, so the order requests
    # arrive in changes how the rest is batched and moves logprobs by float noise (~1e-3 nats
    # on some CPUs). What must hold: every answer is its own request's, never another's.
    for i, a in enumerate(concurrent):
        to_each = [distance(a, b) for b in one_by_one]
        assert to_each[i] < LOGPROB_NOISE, f"request {i}: off by {to_each[i]:.4f} nats"
        nearest = min(range(len(to_each)), key=to_each.__getitem__)
        assert nearest == i, f"request {i} got the answer of request {nearest}: {to_each}"


def rerank_all(reranker: Any, rows: list[dict[str, Any]]) -> list[Any]:
    # queries in parallel threads: every query's stage is in flight at the same time
    with ThreadPoolExecutor(len(rows)) as pool:
        return list(pool.map(lambda r: reranker.rerank(r["query"], r["candidates"]), rows))


@pytest.fixture(scope="module")
def sliding_clean(server: llama_server.LlamaServer, rows: list[dict[str, Any]]) -> list[Any]:
    from listrank import Reranker

    reranker = Reranker(
        api(server), strategy="sliding", window=4, step=2, template="rankgpt_single",
        max_passage_words=WORDS,
    )  # fmt: skip
    return rerank_all(reranker, rows)


def test_twenty_queries_with_sliding_windows(
    sliding_clean: list[Any], rows: list[dict[str, Any]]
) -> None:
    assert len(sliding_clean) == N_QUERIES
    for ranking, row in zip(sliding_clean, rows, strict=True):
        assert sorted(ranking.docids) == sorted(c["docid"] for c in row["candidates"])
        assert ranking.trace.n_calls == 2 and all(c.error is None for c in ranking.trace.calls)


def test_twenty_queries_with_jointrank(
    server: llama_server.LlamaServer, rows: list[dict[str, Any]]
) -> None:
    from listrank import Reranker, registry

    if "jointrank" not in registry.names("strategy"):
        pytest.skip("the jointrank strategy is not registered in this build")
    backend = api(server)
    reranker = Reranker(
        backend, strategy="jointrank", template="rankgpt_single", max_passage_words=WORDS
    )
    rankings = rerank_all(reranker, rows)
    for ranking, row in zip(rankings, rows, strict=True):
        assert sorted(ranking.docids) == sorted(c["docid"] for c in row["candidates"])
    assert backend.usage.failed_calls == 0


def test_twenty_percent_faults_change_nothing(
    server: llama_server.LlamaServer, rows: list[dict[str, Any]], sliding_clean: list[Any]
) -> None:
    from listrank import Reranker
    from tests.support.fault_proxy import FaultProxy

    with FaultProxy(
        "127.0.0.1", server.port, rate=0.2, seed=3, retry_after_s=0.5, stall_s=TIMEOUT_S / 10 + 5
    ) as proxy:
        proxy_url = proxy.url
        # two in flight: the server answers one at a time, so a deeper queue would make honest
        # requests wait past the (short, to keep stalls cheap) per-attempt timeout
        backend = api(
            server, base_url=proxy_url, timeout=TIMEOUT_S / 10, max_attempts=8, concurrency=2
        )
        reranker = Reranker(
            backend, strategy="sliding", window=4, step=2, template="rankgpt_single",
            max_passage_words=WORDS,
        )  # fmt: skip
        faulty = rerank_all(reranker, rows)
        log = list(proxy.log)
    assert [r.docids for r in faulty] == [r.docids for r in sliding_clean]
    assert [[c.output for c in r.trace.calls] for r in faulty] == [
        [c.output for c in r.trace.calls] for r in sliding_clean
    ]
    faults = [e for e in log if e.action != "pass"]
    assert len(faults) >= 4, "the proxy injected too few faults to test anything"
    assert backend.usage.max_attempts <= 8
    # Retry-After respected: the next try of a body answered 429 came at least 0.5 s later
    for e in log:
        if e.action == "429":
            later = [x.time for x in log if x.key == e.key and x.attempt == e.attempt + 1]
            assert later and later[0] - e.time >= 0.5


def test_all_faults_give_a_typed_error_in_bounded_time(
    server: llama_server.LlamaServer, rows: list[dict[str, Any]]
) -> None:
    import time

    from listrank.errors import RetryExhaustedError
    from tests.support.fault_proxy import FaultProxy

    requests = first_prompts(rows[:4])
    with FaultProxy("127.0.0.1", server.port, rate=1.0, retry_after_s=0.2, stall_s=3.0) as p:
        backend = api(server, base_url=p.url, timeout=1.0, max_attempts=5, max_retry_time=4.0)
        start = time.perf_counter()
        with pytest.raises(RetryExhaustedError):
            backend.next_token_logprobs(requests)
        assert time.perf_counter() - start < 4.0 + 1.0 + 1.0
        degraded = api(server, base_url=p.url, timeout=1.0, max_attempts=2, degrade=True)
        out = degraded.next_token_logprobs(requests)
    assert all(r.error and r.logprobs == {} for r in out)
