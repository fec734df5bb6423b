"""Any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, TGI, ...).

Requests go out through a transport (``openai_http.py``): by default a lean aiohttp client that
sends the bodies the ``openai`` SDK's ``create()`` sends; ``transport="sdk"`` sends them
through the SDK's own client instead. Answers are read from their JSON by the same code either
way.

Every request of one ``generate``/``next_token_logprobs`` call is in flight at once on a private
event loop (see ``aio.py``), bounded by ``concurrency`` and an optional requests/tokens per
minute limiter. Each request is retried on its own (tenacity, ``retry.py``); the SDK's own
retries are off so there is one retry layer. When retries run out the call raises
RetryExhaustedError, or with ``degrade=True`` returns a result with ``error`` set (the method
then keeps that block's input order and the trace records the error).

The sync methods may be called from any thread, including one whose event loop is running
(they block it); async code can ``await`` ``agenerate`` / ``anext_token_logprobs``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from listrank.backends.aio import LoopThread
from listrank.backends.apitokens import CountMemo, HFCounter, known_token_ids, make_counter
from listrank.backends.base import (
    Feeding,
    GenerationRequest,
    GenerationResult,
    LogprobRequest,
    LogprobResult,
)
from listrank.backends.openai_errors import (
    Redactor,
    is_api_error,
    is_transient,
    retry_after_s,
    translate,
)
from listrank.backends.openai_http import TRANSPORTS, Transport, make_transport, sdk_body
from listrank.backends.ratelimit import RateLimiter
from listrank.backends.retry import Attempts, RetriesExhausted, RetryPolicy, call_with_retries
from listrank.backends.usage import CallUsage, PriceTable, UsageMeter, cost_of, validate_prices
from listrank.errors import (
    BackendError,
    BadResponseError,
    ConfigError,
    ContextLengthError,
    ListrankError,
)
from listrank.options import Option, bind
from listrank.types import ChatMessage

T = TypeVar("T")
MAX_TOP_LOGPROBS = 20
LOGIT_BIAS = 100
DEFAULT_CONTEXT = 8192
# known context windows by model-name prefix; anything else: pass context_length=
_CONTEXT_BY_PREFIX = (
    ("gpt-3.5-turbo", 16_385),
    ("gpt-4o", 128_000),
    ("gpt-4.1", 1_000_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4", 8_192),
    ("gpt-5", 272_000),
    ("o1", 128_000),
    ("o3", 200_000),
    ("o4", 200_000),
)


# OpenAI's reasoning models: they take max_completion_tokens and reasoning_effort and refuse
# temperature (and max_tokens)
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
REASONING_EFFORTS = ("minimal", "low", "medium", "high")


def is_reasoning_model(model: str) -> bool:
    name = model.rsplit("/", 1)[-1]
    return name.startswith(_REASONING_PREFIXES)


def _default_context(model: str) -> int:
    for prefix, size in _CONTEXT_BY_PREFIX:
        if model.startswith(prefix):
            return size
    return DEFAULT_CONTEXT


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: str) -> str:
    """Answer text from the server, with lone UTF-16 surrogates (valid JSON escapes, but not
    text: they cannot be written as UTF-8) replaced by U+FFFD, so the answer is parsed, kept
    and written like any other."""
    return _LONE_SURROGATE.sub("\ufffd", value)


def _field(obj: Any, name: str) -> Any:
    """``obj[name]`` of a JSON object, None for anything else."""
    return obj.get(name) if isinstance(obj, dict) else None


def _count(value: Any) -> int | None:
    """A token count from the server: a non-negative integer, else unknown."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _reasoning_of(message: Any) -> str:
    """Reasoning reported beside the answer: ``reasoning_content`` (vLLM, DeepSeek, SGLang) or
    ``reasoning`` (newer vLLM, OpenRouter)."""
    for name in ("reasoning_content", "reasoning"):
        value = _field(message, name)
        if isinstance(value, str) and value:
            return value
    return ""


def _reported_reasoning_tokens(usage: Any) -> int | None:
    value = _count(_field(_field(usage, "completion_tokens_details"), "reasoning_tokens"))
    return value if value else None


def _usage(resp: Any) -> tuple[int, int] | None:
    """(prompt, completion) tokens the server reported, or None when it reported none."""
    usage = _field(resp, "usage")
    prompt, completion = (
        _count(_field(usage, "prompt_tokens")),
        _count(_field(usage, "completion_tokens")),
    )
    return None if prompt is None or completion is None else (prompt, completion)


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _close(io: LoopThread, transports: Sequence[Transport]) -> None:
    async def close_all() -> None:
        for transport in transports:
            await transport.aclose()

    if io.on_loop_thread() or io.stalled():  # it cannot wait for itself, or for no one
        return
    io.close(close_all())


class OpenAIBackend:
    """An OpenAI-compatible chat (or completions) endpoint.

    ``api_key`` defaults to ``OPENAI_API_KEY`` and ``base_url`` to ``OPENAI_BASE_URL``; a local
    server without authentication needs only ``base_url``. Several servers of one model (e.g.
    vLLM replicas) may be given as a list or a comma-separated string: requests, and each
    retry, go round-robin, so a retry may land on another replica. ``timeout`` bounds one attempt,
    ``max_attempts`` and ``max_retry_time`` one call (see RetryPolicy). ``prices`` maps model
    names to (dollars per 1M prompt tokens, per 1M completion tokens). ``tokenizer`` picks the
    token counter (see ``apitokens.py``); with ``use_completions=True`` requests go to
    ``/v1/completions`` with the prompt rendered by that tokenizer's chat template, which lets
    an answer prefix be part of the prompt exactly as in-process backends do. ``logit_bias``
    (default: when the tokenizer gives the served model's token ids) adds +100 to the
    identifier tokens of logprob requests so they all appear in the top-k.
    """

    name = "openai"
    planning_stand_in = "listrank.backends.planning:openai_stand_in"
    """What plans build instead: the token counter alone, without the SDK or a key."""
    OPTIONS = (
        Option(
            "base_url",
            str | list | tuple | None,
            None,
            "server URL(s), comma-separated for replicas (default: OPENAI_BASE_URL)",
            changes_answers=True,
            example="http://127.0.0.1:8000/v1",
        ),
        Option(
            "api_key",
            str | None,
            None,
            "API key (default: OPENAI_API_KEY)",
            changes_answers=False,
            example="sk-local",
        ),
        Option("concurrency", int, 16, "requests in flight at once", changes_answers=False, ge=1),
        Option(
            "requests_per_minute",
            float | None,
            None,
            "request rate limit",
            changes_answers=False,
            ge=0,
            example=60.0,
        ),
        Option(
            "tokens_per_minute",
            float | None,
            None,
            "token rate limit",
            changes_answers=False,
            ge=0,
            example=100_000.0,
        ),
        Option("timeout", float, 60.0, "seconds per attempt", changes_answers=False, ge=0),
        Option("max_attempts", int, 6, "attempts per request", changes_answers=False, ge=1),
        Option(
            "max_retry_time",
            float,
            120.0,
            "seconds of retries per request",
            changes_answers=False,
            ge=0,
        ),
        Option("backoff", float, 0.5, "first retry wait, seconds", changes_answers=False, ge=0),
        Option(
            "degrade",
            bool,
            False,
            "keep the input order of a failed block instead of raising",
            changes_answers=False,
        ),
        Option(
            "prices",
            Mapping | None,
            None,
            "model -> ($/1M prompt, $/1M completion tokens)",
            changes_answers=False,
            example={"m": (1.0, 2.0)},
        ),
        Option(
            "tokenizer",
            str | None,
            None,
            "token counter: tiktoken:NAME or hf:PATH",
            changes_answers=True,
            example="estimate",
        ),
        Option(
            "use_completions",
            bool,
            False,
            "/v1/completions with a locally rendered prompt",
            changes_answers=True,
        ),
        Option(
            "context_length",
            int | None,
            None,
            "context the methods budget for (default: known per model)",
            changes_answers=False,
            ge=1,
            example=4096,
        ),
        Option(
            "logit_bias",
            bool | None,
            None,
            "+100 on identifier tokens of logprob requests (default: when token ids are known)",
            changes_answers=True,
            example=True,
        ),
        Option(
            "top_logprobs",
            int,
            MAX_TOP_LOGPROBS,
            "logprobs returned per position",
            changes_answers=True,
            ge=1,
            le=MAX_TOP_LOGPROBS,
            example=5,
        ),
        Option("temperature", float, 0.0, "sampling temperature", changes_answers=True, ge=0),
        Option("seed", int | None, 0, "sampling seed", changes_answers=True),
        Option(
            "extra_body",
            Mapping | None,
            None,
            "extra fields of every request body",
            changes_answers=True,
            example={"top_p": 0.1},
        ),
        Option(
            "reasoning_model",
            bool | None,
            None,
            "send max_completion_tokens / reasoning_effort, no temperature (default: by name)",
            changes_answers=True,
            example=True,
        ),
        Option(
            "reasoning_effort",
            str | None,
            None,
            "reasoning_effort for a reasoning model",
            changes_answers=True,
            choices=("minimal", "low", "medium", "high"),
            example="low",
        ),
        Option(
            "transport",
            str,
            "http",
            "http: lean HTTP/1.1 (h11); sdk: the openai SDK's client (same bodies and errors)",
            changes_answers=False,
            choices=TRANSPORTS,
            example="sdk",
        ),
    )

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | Sequence[str] | None = None,
        api_key: str | None = None,
        concurrency: int = 16,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        timeout: float = 60.0,
        max_attempts: int = 6,
        max_retry_time: float = 120.0,
        backoff: float = 0.5,
        degrade: bool = False,
        prices: PriceTable | None = None,
        tokenizer: str | None = None,
        use_completions: bool = False,
        context_length: int | None = None,
        logit_bias: bool | None = None,
        top_logprobs: int = MAX_TOP_LOGPROBS,
        temperature: float = 0.0,
        seed: int | None = 0,
        extra_body: Mapping[str, Any] | None = None,
        reasoning_model: bool | None = None,
        reasoning_effort: str | None = None,
        transport: str = "http",
    ) -> None:
        self.settings = bind(self.OPTIONS, locals())
        model = model or os.environ.get("OPENAI_MODEL")
        if not model:
            raise ConfigError("the openai backend needs model= (or OPENAI_MODEL)")
        if concurrency < 1:
            raise ConfigError("concurrency must be >= 1")
        if timeout <= 0:
            raise ConfigError("timeout must be > 0 seconds")
        if not 1 <= top_logprobs <= MAX_TOP_LOGPROBS:
            raise ConfigError(f"top_logprobs must be in 1..{MAX_TOP_LOGPROBS}")
        self.model_name = model
        self.reasoning_model = (
            is_reasoning_model(model) if reasoning_model is None else bool(reasoning_model)
        )
        if reasoning_effort is not None and reasoning_effort not in REASONING_EFFORTS:
            raise ConfigError(
                f"reasoning_effort={reasoning_effort!r}: use one of {', '.join(REASONING_EFFORTS)}"
            )
        self.reasoning_effort = reasoning_effort
        raw = base_url or os.environ.get("OPENAI_BASE_URL") or None
        urls = raw.split(",") if isinstance(raw, str) else list(raw or [])
        self.base_urls = [u.strip() for u in urls if u.strip()]
        self.base_url = self.base_urls[0] if self.base_urls else None
        self.settings["base_url"] = self.base_urls  # the servers in effect (env included)
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if self.base_url is None:
                raise ConfigError(
                    "no API key: pass api_key= or set OPENAI_API_KEY (a local server needs "
                    "only base_url=)"
                )
            key = "none"  # as the SDK insists on a key; local servers ignore it
        self._redact = Redactor(key)
        self.concurrency = concurrency
        self.timeout = timeout
        self.degrade = degrade
        self.retry = RetryPolicy(
            max_attempts=max_attempts,
            max_total_s=max_retry_time,
            initial_backoff_s=backoff,
            max_backoff_s=max(backoff, 20.0),
            jitter_s=backoff,
        )
        self.limiter = RateLimiter(requests_per_minute, tokens_per_minute)
        self.prices = validate_prices(prices)
        self.counter = make_counter(model, tokenizer)
        self._counts = CountMemo(self.counter)
        if use_completions and not isinstance(self.counter, HFCounter):
            raise ConfigError(
                "use_completions=True renders the chat template locally: pass "
                "tokenizer='hf:<folder or .gguf of the served model>'"
            )
        self.use_completions = use_completions
        self._context_length = int(context_length or _default_context(model))
        self.logit_bias = logit_bias
        self.top_logprobs = top_logprobs
        self.temperature = temperature
        self.seed = seed
        self.extra_body = dict(extra_body or {})
        self.usage = UsageMeter()
        if transport not in TRANSPORTS:
            raise ConfigError(f"transport={transport!r}: use one of {', '.join(TRANSPORTS)}")
        self.transport = transport
        self._io = LoopThread(f"listrank-openai-{model}")
        targets: list[str | None] = [*self.base_urls] or [None]  # None: api.openai.com
        self._transports: list[Transport] = [
            make_transport(transport, url, key, timeout) for url in targets
        ]
        self._turn = itertools.count()
        self._sem: asyncio.Semaphore | None = None
        # closed by close(), or when the backend is collected or the process ends (an open
        # aiohttp session complains at exit)
        self._closer = weakref.finalize(self, _close, self._io, self._transports)

    @property
    def feeding(self) -> Feeding:
        """Calls from many threads are in flight together, bounded by ``concurrency`` and the
        rate limits; twice as many queries as connections keep every connection busy (a
        query has a call in flight only part of the time)."""
        return Feeding("concurrent", 2 * self.concurrency)

    def __repr__(self) -> str:  # never the key
        return f"OpenAIBackend(model={self.model_name!r}, base_url={self._where!r})"

    @property
    def _where(self) -> str:
        return ",".join(self.base_urls) or "api.openai.com"

    def _bad(self, what: str, resp: Any) -> BadResponseError:
        """The typed error for an answer that is not the expected shape, quoting it."""
        if isinstance(resp, str | bytes):
            sent = resp if isinstance(resp, str) else resp.decode("utf-8", "replace")
        else:
            try:
                sent = json.dumps(resp, ensure_ascii=False, default=str)
            except (TypeError, ValueError):
                sent = repr(resp)
        sent = self._redact(" ".join(sent.split()))
        shown = sent[:200] + ("…" if len(sent) > 200 else "")
        return BadResponseError(
            f"{self.model_name} at {self._where}: {what}; it sent: {shown or '(empty body)'}"
        )

    def _choice(self, resp: Any) -> tuple[dict[str, Any], str]:
        """The first choice of a completion and its text, or BadResponseError when the body is
        not one."""
        kind = "completion" if self.use_completions else "chat completion"
        choices = _field(resp, "choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._bad(f"the server answered with something that is not a {kind}", resp)
        choice: dict[str, Any] = choices[0]
        if self.use_completions:
            text = choice.get("text")
            if text is None:
                raise self._bad(f"the {kind} has no text", resp)
        else:
            message = choice.get("message")
            if not isinstance(message, dict):
                raise self._bad(f"the {kind} has no message", resp)
            text = message.get("content")
        if text is not None and not isinstance(text, str):
            raise self._bad(f"the {kind}'s text is not a string", resp)
        return choice, _text(text or "")

    @property
    def _next_transport(self) -> Transport:
        """The next server, round-robin (one server: always it)."""
        return self._transports[next(self._turn) % len(self._transports)]

    # -- tokens -------------------------------------------------------------------------
    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def exact_token_counts(self) -> bool:
        """False when counts are an estimate or a stand-in encoding (answer budgets then use a
        tokenizer-free upper bound)."""
        return bool(self.counter.exact)

    def count_tokens(self, text: str) -> int:
        return self.counter.count(text)

    def count_prompt_tokens(
        self, messages: Sequence[ChatMessage], assistant_prefix: str = ""
    ) -> int:
        return self._counts.count_messages(messages, assistant_prefix)

    def token_ids(self, text: str) -> list[int]:
        return known_token_ids(self.counter, self.model_name, text)

    # -- lifecycle ----------------------------------------------------------------------
    def close(self) -> None:
        self._closer()

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- capabilities -------------------------------------------------------------------
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        return self._io.run(self._gather([self._generate_one(r) for r in requests]))

    def next_token_logprobs(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        return self._io.run(self._gather([self._logprobs_one(r) for r in requests]))

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        coro = self._gather([self._generate_one(r) for r in requests])
        return await asyncio.wrap_future(self._io.submit(coro))

    async def anext_token_logprobs(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        coro = self._gather([self._logprobs_one(r) for r in requests])
        return await asyncio.wrap_future(self._io.submit(coro))

    # -- internals ----------------------------------------------------------------------
    async def _gather(self, coros: Sequence[Awaitable[T]]) -> list[T]:
        """All at once; the first failure cancels the rest and is raised as itself (a context
        error first, so the method can shrink and retry the stage)."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._bounded(c)) for c in coros]
        except BaseExceptionGroup as eg:
            errors = [e for e in eg.exceptions if isinstance(e, ListrankError)]
            for kind in (ContextLengthError, ListrankError):
                for e in errors:
                    if isinstance(e, kind):
                        raise e from None
            plain = [e for e in eg.exceptions if isinstance(e, Exception)]
            if plain:  # never an ExceptionGroup: one typed error naming the server
                what = self._redact.describe(plain[0])
                raise BackendError(f"{self.model_name} at {self._where}: {what}") from None
            raise
        return [t.result() for t in tasks]

    async def _bounded(self, coro: Awaitable[T]) -> T:
        assert self._sem is not None
        async with self._sem:
            return await coro

    async def _call(
        self, kind: str, fn: Callable[[], Awaitable[Any]], tokens: int
    ) -> tuple[Any, Attempts]:
        async def attempt() -> Any:
            await self.limiter.acquire(tokens)
            return await fn()

        try:
            outcome = await call_with_retries(
                attempt,
                policy=self.retry,
                attempt_timeout_s=self.timeout,
                is_transient=is_transient,
                retry_after=retry_after_s,
                describe=self._redact.describe,
                what=f"{self.model_name} {kind} call",
            )
        except RetriesExhausted:
            raise
        except Exception as exc:
            if not is_api_error(exc):
                raise
            raise translate(exc, self._redact, self.model_name) from None
        return outcome.value, outcome.attempts

    def _record(
        self,
        kind: str,
        prompt: int,
        completion: int,
        attempts: int,
        latency: float,
        *,
        reported: bool,
        waits: Sequence[float] = (),
        error: str | None = None,
        reasoning: int = 0,
    ) -> None:
        cost = cost_of(self.prices, self.model_name, prompt, completion)
        self.usage.add(
            CallUsage(
                kind,
                prompt,
                completion,
                attempts,
                latency,
                cost,
                reported,
                error,
                tuple(waits),
                reasoning_tokens=reasoning,
                reasoning_cost=cost_of(self.prices, self.model_name, 0, reasoning),
            )
        )

    def _degraded(self, kind: str, exc: RetriesExhausted, latency: float) -> None:
        waits = [w for w, _ in exc.attempts.waits]
        self._record(
            kind, 0, 0, exc.attempts.count, latency, reported=False, waits=waits, error=str(exc)
        )

    def _body(
        self, max_tokens: int, stop: Sequence[str] = (), thinking: bool | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model_name}
        if self.reasoning_model:
            # reasoning models count their thought in max_completion_tokens and refuse
            # temperature; thinking=off asks for the least effort
            body["max_completion_tokens"] = max_tokens
            least = "minimal" if self.model_name.rsplit("/", 1)[-1].startswith("gpt-5") else "low"
            effort = least if thinking is False else self.reasoning_effort
            if effort is not None:
                body["reasoning_effort"] = effort
        else:
            body["max_tokens"] = max_tokens
            body["temperature"] = self.temperature
            if thinking is not None:  # vLLM / SGLang servers: the chat template's switch
                body["chat_template_kwargs"] = {"enable_thinking": thinking}
        if self.seed is not None:
            body["seed"] = self.seed
        if stop:
            body["stop"] = list(stop)
        if self.extra_body:
            extra = dict(self.extra_body)
            if "chat_template_kwargs" in body and isinstance(
                extra.get("chat_template_kwargs"), Mapping
            ):
                extra["chat_template_kwargs"] = {
                    **body.pop("chat_template_kwargs"),
                    **extra["chat_template_kwargs"],
                }
            body["extra_body"] = extra
        return body

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body to the next server; its answer's JSON. The bodies are plain JSON
        already, what ``create()`` would send after walking every request against its typed
        parameters (a CPU cost per call). ``extra_body`` merges last, as the SDK merges it."""
        extra = body.pop("extra_body", None)
        return await self._next_transport.post(path, sdk_body(body, extra))

    def _prompt(self, messages: Sequence[ChatMessage], prefix: str) -> str:
        assert isinstance(self.counter, HFCounter)
        return self.counter.prompt_text(messages, prefix)

    async def _generate_one(self, r: GenerationRequest) -> GenerationResult:
        start = time.perf_counter()
        estimate = self.count_prompt_tokens(r.messages, r.assistant_prefix)
        body = self._body(r.max_new_tokens, r.stop, r.thinking)
        if self.use_completions:
            prompt = self._prompt(r.messages, r.assistant_prefix)

            async def send() -> Any:
                return await self._post("/completions", {"prompt": prompt, **body})
        else:
            # chat APIs cannot pre-fill the answer: the prefix is dropped from the request and
            # stripped from the answer if the model writes it itself
            msgs: list[Any] = [dict(m) for m in r.messages]
            if r.prefill and r.assistant_prefix:
                # a forced answer continues its closed thought: vLLM's and SGLang's way to
                # continue a final assistant message
                msgs.append({"role": "assistant", "content": r.assistant_prefix})
                body = {**body, "continue_final_message": True, "add_generation_prompt": False}

            async def send() -> Any:
                return await self._post("/chat/completions", {"messages": msgs, **body})

        try:
            resp, attempts = await self._call("generate", send, estimate + r.max_new_tokens)
        except RetriesExhausted as exc:
            if not self.degrade:
                raise
            latency = time.perf_counter() - start
            self._degraded("generate", exc, latency)
            return GenerationResult("", estimate, 0, latency, error=str(exc))
        choice, text = self._choice(resp)
        reasoning = ""
        if not self.use_completions:
            if r.assistant_prefix and text.startswith(r.assistant_prefix):
                text = text[len(r.assistant_prefix) :]
            reasoning = _text(_reasoning_of(choice["message"]))
        usage = _usage(resp)
        prompt_tokens, completion_tokens = usage or (estimate, self.count_tokens(text))
        latency = time.perf_counter() - start
        waits = [w for w, _ in attempts.waits]
        reasoning_tokens = _reported_reasoning_tokens(_field(resp, "usage"))
        if reasoning_tokens is None and reasoning:
            reasoning_tokens = self.count_tokens(reasoning)
        self._record(
            "generate",
            prompt_tokens,
            completion_tokens,
            attempts.count,
            latency,
            reported=usage is not None,
            waits=waits,
            reasoning=reasoning_tokens or 0,
        )
        truncated = choice.get("finish_reason") == "length"
        return GenerationResult(
            text,
            prompt_tokens,
            completion_tokens,
            latency,
            truncated=truncated,
            reasoning=reasoning,
            reasoning_tokens=reasoning_tokens,
        )

    def _bias(self, tokens: Sequence[str]) -> dict[str, int] | None:
        if self.logit_bias is False:
            return None
        ids = [self.counter.encode(t) for t in tokens]
        if any(i is None or len(i) != 1 for i in ids):
            if self.logit_bias:
                raise ConfigError(
                    "logit_bias=True needs a tokenizer of the served model in which every "
                    f"identifier is one token; {self.counter.name} gives {ids}"
                )
            return None
        return {str(i[0]): LOGIT_BIAS for i in ids if i is not None}

    async def _logprobs_one(self, r: LogprobRequest) -> LogprobResult:
        start = time.perf_counter()
        estimate = self.count_prompt_tokens(r.messages, r.assistant_prefix)
        top_k = min(self.top_logprobs, MAX_TOP_LOGPROBS)
        bias = self._bias(r.tokens)
        if self.use_completions:
            body = self._body(1)
            prompt = self._prompt(r.messages, r.assistant_prefix)
            if bias:
                body["logit_bias"] = bias

            async def send() -> Any:
                return await self._post(
                    "/completions", {"prompt": prompt, "logprobs": top_k, **body}
                )
        else:
            # without pre-fill the model may first echo the answer prefix ("["): allow those
            # tokens and read the distribution after them
            skip = 0 if bias or not r.assistant_prefix else self.count_tokens(r.assistant_prefix)
            body = self._body(1 + skip)
            if bias:
                body["logit_bias"] = bias
            msgs: list[Any] = [dict(m) for m in r.messages]

            async def send() -> Any:
                return await self._post(
                    "/chat/completions",
                    {"messages": msgs, "logprobs": True, "top_logprobs": top_k, **body},
                )

        try:
            resp, attempts = await self._call("logprobs", send, estimate + 1)
        except RetriesExhausted as exc:
            if not self.degrade:
                raise
            latency = time.perf_counter() - start
            self._degraded("logprobs", exc, latency)
            return LogprobResult({}, estimate, latency, error=str(exc))
        top = self._top_entries(resp, r.assistant_prefix)
        scores: dict[str, float] = {}
        for tok in r.tokens:
            # whitespace variants (" A", "A") are the same identifier: pool their probability
            found = [lp for t, lp in top if t == tok or t.strip() == tok.strip()]
            if found:
                scores[tok] = _logsumexp(found)
        usage = _usage(resp)
        prompt_tokens, completion_tokens = usage or (estimate, 1)
        latency = time.perf_counter() - start
        self._record(
            "logprobs",
            prompt_tokens,
            completion_tokens,
            attempts.count,
            latency,
            reported=usage is not None,
            waits=[w for w, _ in attempts.waits],
        )
        extra: dict[str, object] = {"attempts": attempts.count, "top": dict(top)}
        return LogprobResult(scores, prompt_tokens, latency, extra=extra)

    def _top_entries(self, resp: Any, prefix: str) -> list[tuple[str, float]]:
        choice, _ = self._choice(resp)
        # a server that ignores the logprobs request would otherwise leave every block in
        # input order with nothing counted: refuse it with the fix
        no_logprobs = (
            "the server returned no logprobs for a logprobs request; score methods (first, "
            "icr calibration …) need a server that returns them (vLLM, llama.cpp, OpenAI "
            "models with logprobs), or use --method rankgpt"
        )
        logprobs = choice.get("logprobs")
        if self.use_completions:
            tops = _field(logprobs, "top_logprobs")
            if not isinstance(tops, list) or not tops:
                raise self._bad(no_logprobs, resp)
            first = tops[0] or {}
            if not isinstance(first, dict):
                raise self._bad("the completion's top_logprobs are not token -> logprob", resp)
            return [(_text(str(t)), self._logprob(lp, resp)) for t, lp in first.items()]
        content = _field(logprobs, "content")
        if not isinstance(content, list) or not content:
            raise self._bad(no_logprobs, resp)
        tokens = [_field(entry, "token") for entry in content]
        if not all(isinstance(t, str) for t in tokens):
            raise self._bad("the chat completion's logprobs have an entry without a token", resp)
        pos, echoed, want = 0, "", prefix.strip()
        while pos < len(content) - 1 and want and want.startswith(echoed + tokens[pos].strip()):
            echoed += tokens[pos].strip()
            pos += 1
            if echoed == want:
                break
        top = _field(content[pos], "top_logprobs")
        if not isinstance(top, list) or not all(isinstance(_field(t, "token"), str) for t in top):
            raise self._bad("the chat completion's top_logprobs are malformed", resp)
        return [(_text(t["token"]), self._logprob(t.get("logprob"), resp)) for t in top]

    def _logprob(self, value: Any, resp: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad("a logprob is not a number", resp)
        return float(value)
