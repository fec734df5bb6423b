"""The OpenAI backend posts plain-JSON bodies, through its lean HTTP transport (the default) or
the SDK's client, without the SDK's per-call parameter transform; what reaches the server must
be exactly what the SDK's ``create()`` sends for the same arguments (path, body, the headers
that matter), whichever transport sent it."""

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


TRANSPORTS = pytest.mark.parametrize("transport", ["http", "sdk"])


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


def _sdk(server: FakeOpenAIServer) -> Any:
    return openai.OpenAI(api_key=KEY, base_url=server.url, max_retries=0, timeout=5.0)


MATTER = ("authorization", "content-type", "openai-organization", "openai-project")


def _same(ours: Seen, sdk: Seen) -> None:
    assert ours.path == sdk.path
    assert ours.body == sdk.body
    assert ours.raw == sdk.raw  # byte for byte: the SDK's JSON encoding
    assert ours.headers["authorization"] == sdk.headers["authorization"] == f"Bearer {KEY}"
    for name in MATTER:
        assert ours.headers.get(name) == sdk.headers.get(name), name


@TRANSPORTS
def test_chat_generate_body_equals_the_sdk_create(server: FakeOpenAIServer, transport: str) -> None:
    extra = {"top_k": 5, "temperature": 0.3}  # extra_body wins over our own keys, as in the SDK
    b = OpenAIBackend(
        "m", base_url=server.url, api_key=KEY, seed=7, extra_body=extra, transport=transport
    )
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


@TRANSPORTS
def test_chat_logprobs_body_equals_the_sdk_create(server: FakeOpenAIServer, transport: str) -> None:
    b = OpenAIBackend(
        "m", base_url=server.url, api_key=KEY, seed=None, logit_bias=False, transport=transport
    )
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


@TRANSPORTS
def test_completions_bodies_equal_the_sdk_create(server: FakeOpenAIServer, transport: str) -> None:
    pytest.importorskip("transformers")
    b = OpenAIBackend(
        "m",
        base_url=server.url,
        api_key=KEY,
        tokenizer="hf:embedded",
        use_completions=True,
        logit_bias=False,
        transport=transport,
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


@TRANSPORTS
def test_organization_and_project_headers_come_from_the_environment_as_in_the_sdk(
    server: FakeOpenAIServer, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-123")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-456")
    b = OpenAIBackend("m", base_url=server.url, api_key=KEY, transport=transport)
    b.generate([GenerationRequest(MSGS, 9)])
    _sdk(server).chat.completions.create(
        model="m", messages=MSGS, max_tokens=9, temperature=0.0, seed=0
    )
    ours, sdk = server.requests
    _same(ours, sdk)
    assert ours.headers["openai-organization"] == "org-123"
    assert ours.headers["openai-project"] == "proj-456"


def test_non_ascii_text_is_sent_as_the_sdk_encodes_it(server: FakeOpenAIServer) -> None:
    msgs: list[Any] = [{"role": "user", "content": "[1] café 東京 \u2028 😀 [2] b"}]
    OpenAIBackend("m", base_url=server.url, api_key=KEY).generate([GenerationRequest(msgs, 5)])
    _sdk(server).chat.completions.create(
        model="m", messages=msgs, max_tokens=5, temperature=0.0, seed=0
    )
    _same(*server.requests)
