"""What a backend is: something that runs a model, declaring capabilities as small Protocols.

A method asks for the capability it needs (``require``); a backend that lacks it fails at
construction with a message that names the backends that have it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from listrank.errors import CapabilityError, ConfigError
from listrank.options import declared
from listrank.types import ChatMessage


@dataclass(frozen=True)
class GenerationRequest:
    messages: Sequence[ChatMessage]
    max_new_tokens: int
    assistant_prefix: str = ""
    """Text the answer starts with; it is part of the prompt, not of the returned text."""
    stop: Sequence[str] = ()
    thinking: bool | None = None
    """``enable_thinking`` for the chat template (None: the template's default). Local backends
    pass it to ``apply_chat_template``; the openai backend sends it as ``chat_template_kwargs``
    (a vLLM/SGLang server) or, for an API reasoning model, as its reasoning effort."""
    prefill: bool = False
    """The answer must continue ``assistant_prefix`` even over a chat API (a forced answer after
    a closed thought): sent as a final assistant message the server continues."""


@dataclass(frozen=True)
class GenerationResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cached: bool = False
    error: str | None = None
    """Set only when the backend degraded a failed call instead of raising."""
    truncated: bool = False
    """The answer stopped at ``max_new_tokens`` (finish_reason "length"), not by itself."""
    reasoning: str = ""
    """Reasoning the server reported apart from the text (``reasoning_content``)."""
    reasoning_tokens: int | None = None
    """Reasoning tokens the server reported (part of ``completion_tokens``); None: unknown, the
    method counts the thought itself."""


@dataclass(frozen=True)
class LogprobRequest:
    """Next-token scores over a fixed set of single-token strings after the prompt."""

    messages: Sequence[ChatMessage]
    tokens: Sequence[str]
    assistant_prefix: str = ""


@dataclass(frozen=True)
class LogprobResult:
    logprobs: dict[str, float]
    """Score per requested token; tokens the backend could not see (truncated top-k) are absent."""
    prompt_tokens: int
    latency_s: float
    cached: bool = False
    error: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """Every backend: a name, a model, a context size and a tokenizer for budgets."""

    name: str
    model_name: str

    @property
    def context_length(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def count_prompt_tokens(
        self, messages: Sequence[ChatMessage], assistant_prefix: str = ""
    ) -> int: ...


@runtime_checkable
class SupportsGenerate(Backend, Protocol):
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]: ...


@runtime_checkable
class SupportsNextTokenLogprobs(Backend, Protocol):
    def next_token_logprobs(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]: ...

    def token_ids(self, text: str) -> list[int]: ...


@dataclass(frozen=True)
class AttentionRequest:
    """Attention from each suffix's tokens to the tokens of a shared prefix (ICR).

    The backend encodes ``prefix`` once and runs every suffix on its cached keys/values.
    ``segments`` are character spans ``[start, end)`` of ``prefix``; the backend reports which
    prefix tokens start inside each one. ``layers`` limits the layers summed (None: all)."""

    prefix: str
    suffixes: Sequence[str]
    segments: Sequence[tuple[int, int]] = ()
    layers: Sequence[int] | None = None


@dataclass(frozen=True)
class AttentionResult:
    scores: list[list[float]]
    """Per suffix, per prefix token: attention from the suffix tokens to that token, averaged
    over the suffix tokens and summed over heads and the selected layers."""
    token_spans: list[tuple[int, int]]
    """Token index span ``[start, end)`` of every requested segment."""
    prefix_tokens: int
    suffix_tokens: list[int]
    latency_s: float
    extra: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class SupportsAttention(Backend, Protocol):
    """Attention weights from in-process weights (only the transformers backend)."""

    @property
    def num_layers(self) -> int: ...

    def prompt_text(self, messages: Sequence[ChatMessage], assistant_prefix: str = "") -> str: ...

    def prefix_attention(self, requests: Sequence[AttentionRequest]) -> list[AttentionResult]: ...


CAPABILITY_BACKENDS: dict[str, list[str]] = {
    "generate": ["hf", "vllm", "openai", "fake"],
    "next_token_logprobs": ["hf", "vllm", "openai", "fake"],
    "attention": ["hf"],
}


def require(backend: object, protocol: Any, capability: str, method: str) -> None:
    """Raise a CapabilityError naming the backends that have ``capability`` unless ``backend``
    satisfies the runtime Protocol ``protocol``. (Callers then ``cast``: mypy does not accept
    Protocol classes as ``type[T]`` arguments.)"""
    if not isinstance(backend, protocol):
        have = ", ".join(CAPABILITY_BACKENDS.get(capability, []))
        raise CapabilityError(
            f"method {method!r} needs the {capability!r} capability, which backend "
            f"{getattr(backend, 'name', type(backend).__name__)!r} does not have; "
            f"backends that have it: {have}"
        )


def answer_identity(backend: object) -> dict[str, Any]:
    """Name, model and every declared answer-changing option in effect: what decides a
    backend's answer to a request besides the request itself (the call cache's key). Read
    from the settings the backend bound (``self.settings``), never from attribute names."""
    options = [o for o in declared(type(backend)) if o.changes_answers and not o.internal]
    settings = getattr(backend, "settings", None)
    if options and not isinstance(settings, dict):
        raise ConfigError(
            f"backend {getattr(backend, 'name', type(backend).__name__)!r} declares "
            "answer-changing options but binds no settings (self.settings = bind(...))"
        )
    params = {o.name: (settings or {}).get(o.name, o.default) for o in options}
    return {
        "backend": getattr(backend, "name", type(backend).__name__),
        "model": getattr(backend, "model_name", ""),
        "params": params,
    }


# -- how a backend wants to be fed (read by the scheduler, the gate, the service, plan) ------
DEFAULT_IN_FLIGHT = 8


@dataclass(frozen=True)
class Feeding:
    """A backend's scheduling hint, declared as its ``feeding`` attribute or property.

    - ``concurrent``: takes calls from many threads at once and limits them itself (an API
      client with a concurrency limit); each query's calls go straight to it.
    - ``batched``: runs one call at a time on a batch (transformers); the calls of queries
      waiting at a stage are merged into one (``pipeline.gate``).
    - ``continuous``: continuous batching (vLLM): merged like ``batched``, and many more
      queries kept in flight.

    ``in_flight``: how many queries keep it busy (the default ``max_in_flight``)."""

    mode: Literal["concurrent", "batched", "continuous"]
    in_flight: int = DEFAULT_IN_FLIGHT

    @property
    def merges_calls(self) -> bool:
        return self.mode != "concurrent"


def feeding_of(backend: object) -> Feeding:
    """The backend's declared feeding; one that declares none is fed in merged batches."""
    declared_feeding = getattr(backend, "feeding", None)
    if isinstance(declared_feeding, Feeding):
        return declared_feeding
    return Feeding("batched")


def gpus_wanted(backend_class: Any, options: Mapping[str, Any]) -> float:
    """GPUs one worker running ``backend_class`` with ``options`` needs (the Ray runner asks
    before building anything): the class's declared ``gpus(options)``, else none."""
    gpus = getattr(backend_class, "gpus", None)
    return float(gpus(options)) if callable(gpus) else 0.0
