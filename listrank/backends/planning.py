"""Planning stand-ins: what a backend is to a plan (``listrank plan``, ``Reranker.planning``)
without its model. A stand-in has the backend's name, model name, settings, feeding and
capabilities, and its whole tokenizer-facing surface (prompt rendering with the chat template,
token counts, token ids and single-token checks, defanging, the context length, ICR's layer
count), so methods are built and plans counted exactly as on the real backend; every model
call raises.

A backend class declares its stand-in as ``planning_stand_in = "module:function"`` (called
with the backend's own arguments). The hf and vLLM stand-ins count with
``tokenizer_cache.planning_tokenizer`` (no torch, no transformers once the tokenizer is
known); the openai one with the backend's token counter, without the SDK. A backend that
declares none is built as it is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from listrank.backends.base import (
    AttentionRequest,
    AttentionResult,
    Feeding,
    GenerationRequest,
    GenerationResult,
    LogprobRequest,
    LogprobResult,
)
from listrank.backends.chat import LocalTokenizer
from listrank.backends.embedded import EMBEDDED_ALIASES, EMBEDDED_NAME, converted_dir, gguf_path
from listrank.backends.model_path import check_local_model, hub_folder, looks_local
from listrank.backends.tokenizer_cache import Facts, build_with_transformers, planning_tokenizer
from listrank.errors import BackendError, ConfigError
from listrank.options import bind
from listrank.types import ChatMessage

DEFAULT_CONTEXT = 2048
"""The hf backend's context when the model's config declares none."""


def stand_in_factory(factory: Any) -> Any:
    """The planning stand-in a backend class declares, or the class itself."""
    target = getattr(factory, "planning_stand_in", None)
    if not isinstance(target, str):
        return factory
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


class StandIn:
    """The refusing half of every stand-in."""

    name: str
    model_name: str
    planning = True
    """Declared: a planning stand-in (no model); read by code that must not call it."""

    def _refuse(self) -> BackendError:
        return BackendError(
            f"the {self.name} backend for {self.model_name} is a planning stand-in (its "
            "tokenizer only): it plans but runs no model call; build the Reranker without "
            "planning to rerank"
        )


class LocalStandIn(StandIn, LocalTokenizer):
    """hf / vLLM: a planning tokenizer, the model's facts, generation and logprobs."""

    def __init__(
        self,
        name: str,
        model_name: str,
        tokenizer: Any,
        context_length: int,
        settings: dict[str, Any],
        feeding: Feeding,
        chat_template_kwargs: Mapping[str, Any] | None,
    ) -> None:
        self.name, self.model_name, self.tokenizer = name, model_name, tokenizer
        self._context_length = context_length
        self.settings, self.feeding = settings, feeding
        self.chat_template_kwargs = dict(chat_template_kwargs or {})

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        raise self._refuse()

    def next_token_logprobs(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        raise self._refuse()


class HFStandIn(LocalStandIn):
    """The hf backend's stand-in: attention too (ICR), with the model's layer count."""

    def __init__(self, *args: Any, layers: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._layers = layers

    @property
    def num_layers(self) -> int:
        if self._layers is None:
            raise ConfigError(f"{self.model_name}: its config names no layer count")
        return self._layers

    def prefix_attention(self, requests: Sequence[AttentionRequest]) -> list[AttentionResult]:
        raise self._refuse()


def local_source(model: str | None) -> Path | None:
    """The folder or .gguf file a model's tokenizer is read from: the embedded model's
    converted folder, else its GGUF file; a path; a hub name's folder in the Hugging Face
    cache; None for a hub name that is not cached."""
    if model in EMBEDDED_ALIASES:
        return converted_dir() or gguf_path()
    check_local_model(str(model))  # the backend's own errors for a missing or empty path
    if looks_local(str(model)):
        return Path(str(model)).expanduser()
    return hub_folder(str(model))


def local_tokenizer(model: str | None) -> tuple[Any, Facts]:
    source = local_source(model)
    if source is None:  # a hub name not cached: transformers resolves it (tokenizer only)
        return build_with_transformers(Path(str(model)), save=False)
    return planning_tokenizer(source)


def with_pad_token(tokenizer: Any) -> Any:
    """The hf backend sets a missing pad token to the end token (the template sees it)."""
    specials = getattr(tokenizer, "special_tokens_map", None)
    if isinstance(specials, dict) and "pad_token" not in specials and "eos_token" in specials:
        specials["pad_token"] = specials["eos_token"]
        tokenizer.pad_token = specials["eos_token"]
    return tokenizer


def hf_stand_in(model: str | None = None, **options: Any) -> HFStandIn:
    """``HFBackend(model, **options)`` for plans: no torch, no weights."""
    from listrank.backends.hf import HFBackend

    settings = bind(HFBackend.OPTIONS, options)
    model_obj, tokenizer = options.get("model_obj"), options.get("tokenizer")
    if model_obj is not None:  # a ready model (Python): its own tokenizer and config
        if tokenizer is None:
            raise ConfigError("model_obj needs its tokenizer")
        from listrank.backends.hf_attention import num_layers

        name = model or getattr(model_obj.config, "_name_or_path", "") or "custom"
        facts: Facts = {
            "context": getattr(model_obj.config, "max_position_embeddings", None),
            "layers": num_layers(model_obj),
        }
    else:
        name = EMBEDDED_NAME if model in EMBEDDED_ALIASES else str(model)
        tokenizer, facts = local_tokenizer(model)
        tokenizer = with_pad_token(tokenizer)
    device = str(options.get("device", "auto"))
    batch = int(options.get("batch_size", 8))
    return HFStandIn(
        "hf",
        name,
        tokenizer,
        int(options.get("context_length") or facts.get("context") or DEFAULT_CONTEXT),
        settings,
        # as HFBackend.feeding, with "auto" read as the CPU (a plan does not look for a GPU)
        Feeding("batched", batch if device.startswith("cuda") else 1),
        options.get("chat_template_kwargs"),
        layers=facts.get("layers"),
    )


def vllm_stand_in(model: str | None = None, **options: Any) -> LocalStandIn:
    """``VLLMBackend(model, **options)`` for plans: no vllm, torch or weights. The context is
    ``max_model_len`` or the config's max_position_embeddings (vLLM derives it from the same
    config, and may lower it further for rope scaling or memory)."""
    from listrank.backends.vllm import CONTINUOUS_IN_FLIGHT, VLLMBackend

    settings = bind(VLLMBackend.OPTIONS, options)
    name = EMBEDDED_NAME if model in EMBEDDED_ALIASES else str(model)
    tokenizer, facts = local_tokenizer(model)
    context = options.get("max_model_len") or facts.get("context") or DEFAULT_CONTEXT
    return LocalStandIn(
        "vllm",
        name,
        tokenizer,
        int(context),
        settings,
        Feeding("continuous", CONTINUOUS_IN_FLIGHT),
        options.get("chat_template_kwargs"),
    )


class APIStandIn(StandIn):
    """The openai backend's stand-in: its token counter and context, no SDK, no key."""

    name = "openai"

    def __init__(
        self,
        model_name: str,
        counter: Any,
        context_length: int,
        settings: dict[str, Any],
        feeding: Feeding,
    ) -> None:
        self.model_name, self.counter = model_name, counter
        self._context_length = context_length
        self.settings, self.feeding = settings, feeding

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def exact_token_counts(self) -> bool:
        return bool(self.counter.exact)

    def count_tokens(self, text: str) -> int:
        return int(self.counter.count(text))

    def count_prompt_tokens(
        self, messages: Sequence[ChatMessage], assistant_prefix: str = ""
    ) -> int:
        return int(self.counter.count_messages(messages, assistant_prefix))

    def token_ids(self, text: str) -> list[int]:
        from listrank.backends.apitokens import known_token_ids

        return known_token_ids(self.counter, self.model_name, text)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        raise self._refuse()

    def next_token_logprobs(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        raise self._refuse()


def api_counter(model: str, spec: str | None) -> Any:
    """The openai backend's token counter (``apitokens.make_counter``), an ``hf:`` one read
    with the planning tokenizer."""
    from listrank.backends.apitokens import HFCounter, make_counter

    kind, _, arg = (spec or "").partition(":")
    if kind != "hf" or not arg:
        return make_counter(model, spec)
    source = None if arg in ("embedded", "smollm2") else arg
    tokenizer, _ = local_tokenizer(source)
    return HFCounter(tokenizer, str(spec))


def openai_stand_in(model: str | None = None, **options: Any) -> APIStandIn:
    """``OpenAIBackend(model, **options)`` for plans: no SDK and no API key needed."""
    from listrank.backends.apitokens import HFCounter
    from listrank.backends.openai import OpenAIBackend, _default_context

    settings = bind(OpenAIBackend.OPTIONS, options)
    model = model or os.environ.get("OPENAI_MODEL")
    if not model:
        raise ConfigError("the openai backend needs model= (or OPENAI_MODEL)")
    counter = api_counter(model, options.get("tokenizer"))
    if options.get("use_completions") and not isinstance(counter, HFCounter):
        raise ConfigError(
            "use_completions=True renders the chat template locally: pass "
            "tokenizer='hf:<folder or .gguf of the served model>'"
        )
    concurrency = int(options.get("concurrency", 16))
    context = int(options.get("context_length") or _default_context(model))
    return APIStandIn(model, counter, context, settings, Feeding("concurrent", 2 * concurrency))
