"""The one seam for wrapping a backend (the call cache, the stage gate, cancellation).

``ForwardingBackend(inner)`` has exactly the capabilities of ``inner``: its class is composed
once per set of capabilities, so ``isinstance(wrapper, SupportsGenerate)`` answers as for the
inner backend. It forwards the whole Backend surface (name, model, tokenizer, budgets, the
declared settings and feeding) and sends every model call through one method,
``call(kind, requests)``; a wrapper overrides ``call`` and nothing else. A new capability is
added here once (its model-call method and the helpers that go with it), not per wrapper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from listrank.types import ChatMessage

MODEL_CALLS = ("generate", "next_token_logprobs", "prefix_attention")
"""The request seam: every model call takes a batch of requests and returns one result each."""


class ForwardingBackend:
    """``inner`` unchanged; subclasses override :meth:`call` (see the module docstring)."""

    _classes: ClassVar[dict[tuple[type, frozenset[str]], type]] = {}

    def __new__(cls, inner: Any, *args: Any, **kwargs: Any) -> Any:
        caps = frozenset(c for c in MODEL_CALLS if hasattr(inner, c))
        key = (cls, caps)
        if key not in ForwardingBackend._classes:
            mixins = tuple(_MIXINS[c] for c in MODEL_CALLS if c in caps)
            name = f"{cls.__name__}[{','.join(sorted(caps))}]"
            ForwardingBackend._classes[key] = type(name, (*mixins, cls), {})
        return super().__new__(ForwardingBackend._classes[key])

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.model_name: str = inner.model_name

    def call(self, kind: str, requests: Sequence[Any]) -> list[Any]:
        """``inner.<kind>(requests)``: the one place a wrapper changes."""
        return list(getattr(self.inner, kind)(requests))

    def __getattr__(self, attr: str) -> Any:
        # only reached for attributes the wrapper lacks: the inner backend's own (its settings,
        # feeding, tokenizer, usage meter, ...), unchanged
        if attr == "inner":
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    @property
    def context_length(self) -> int:
        return int(self.inner.context_length)

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    def count_prompt_tokens(
        self, messages: Sequence[ChatMessage], assistant_prefix: str = ""
    ) -> int:
        return int(self.inner.count_prompt_tokens(messages, assistant_prefix))


class _Generate:
    call: Callable[[str, Sequence[Any]], list[Any]]

    def generate(self, requests: Sequence[Any]) -> list[Any]:
        return self.call("generate", requests)


class _Logprobs:
    inner: Any

    call: Callable[[str, Sequence[Any]], list[Any]]

    def next_token_logprobs(self, requests: Sequence[Any]) -> list[Any]:
        return self.call("next_token_logprobs", requests)

    def token_ids(self, text: str) -> list[int]:
        return list(self.inner.token_ids(text))


class _Attention:
    inner: Any

    call: Callable[[str, Sequence[Any]], list[Any]]

    @property
    def num_layers(self) -> int:
        return int(self.inner.num_layers)

    def prompt_text(self, messages: Sequence[ChatMessage], assistant_prefix: str = "") -> str:
        return str(self.inner.prompt_text(messages, assistant_prefix))

    def prefix_attention(self, requests: Sequence[Any]) -> list[Any]:
        return self.call("prefix_attention", requests)


_MIXINS: dict[str, type] = {
    "generate": _Generate,
    "next_token_logprobs": _Logprobs,
    "prefix_attention": _Attention,
}
