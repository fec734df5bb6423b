"""The OpenAI backend posts its plain-JSON bodies through the SDK client without the SDK's
per-call parameter transform; what reaches the server must be exactly what the SDK's
``create()`` sends for the same arguments (path, body, auth header)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from listrank.backends.base import GenerationRequest, LogprobRequest  # noqa: E402
from listrank.backends.openai import MAX_TOP_LOGPROBS, OpenAIBackend  # noqa: E402
from tests.support.fake_openai import FakeOpenAIServer, Seen  # noqa: E402

KEY = "sk-test-body-0123456789"
MSGS: list[Any] = [
    {"role": "system", "content": "You rank passages."},
    {"role": "user", "content": "[1] a [2] b [3] c\nRank them."},
]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


def _sdk(server: FakeOpenAIServer) -> Any:
    return openai.OpenAI(api_key=KEY, base_url=server.url, max_retries=0, timeout=5.0)


def _same(ours: Seen, sdk: Seen) -> None:
    assert ours.path == sdk.path
    assert ours.body == sdk.body
    assert ours.headers["authorization"] == sdk.headers["authorization"] == f"Bearer {KEY}"
    assert ours.headers["content-type"] == sdk.headers["content-type"]


def test_chat_generate_body_equals_the_sdk_create(server: FakeOpenAIServer) -> None:
    extra = {"top_k": 5, "temperature": 0.3}  # extra_body wins over our own keys, as in the SDK
    b = OpenAIBackend("m", base_url=server.url, api_key=KEY, seed=7, extra_body=extra)
    out = b.generate([GenerationRequest(MSGS, 9, stop=("\n\n",))])
    assert out[0].text and out[0].error is None
    _sdk(server).chat.completions.create(
        model="m",
        messages=MSGS,
        max_tokens=9,
        temperature=0.0,
        seed=7,
        stop=["\n\n"],
        extra_body=extra,
    )
    ours, sdk = server.requests
    _same(ours, sdk)
    assert ours.body["temperature"] == 0.3 and ours.body["top_k"] == 5


def test_chat_logprobs_body_equals_the_sdk_create(server: FakeOpenAIServer) -> None:
    b = OpenAIBackend("m", base_url=server.url, api_key=KEY, seed=None, logit_bias=False)
    out = b.next_token_logprobs([LogprobRequest(MSGS, ["A", "B"])])
    assert out[0].error is None
    _sdk(server).chat.completions.create(
        model="m",
        messages=MSGS,
        max_tokens=1,
        temperature=0.0,
        logprobs=True,
        top_logprobs=MAX_TOP_LOGPROBS,
    )
    _same(*server.requests)


def test_completions_bodies_equal_the_sdk_create(server: FakeOpenAIServer) -> None:
    pytest.importorskip("transformers")
    b = OpenAIBackend(
        "m",
        base_url=server.url,
        api_key=KEY,
        tokenizer="hf:embedded",
        use_completions=True,
        logit_bias=False,
    )
    b.generate([GenerationRequest(MSGS, 5, assistant_prefix="[")])
    b.next_token_logprobs([LogprobRequest(MSGS, ["A", "B"], "[")])
    gen, lp = (server.requests[0].body["prompt"], server.requests[1].body["prompt"])
    client = _sdk(server)
    client.completions.create(model="m", prompt=gen, max_tokens=5, temperature=0.0, seed=0)
    client.completions.create(
        model="m", prompt=lp, max_tokens=1, temperature=0.0, seed=0, logprobs=MAX_TOP_LOGPROBS
    )
    ours_gen, ours_lp, sdk_gen, sdk_lp = server.requests
    _same(ours_gen, sdk_gen)
    _same(ours_lp, sdk_lp)
    assert ours_gen.path == "/v1/completions"
