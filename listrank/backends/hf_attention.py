"""Attention query rows for ICR on a transformers model, without full attention maps.

The shared prefix is encoded once (plain forward, KV cache kept). All suffixes then run as one
right-padded batch on that cache, through an attention function registered with transformers'
``AttentionInterface``: for each selected layer it receives the post-RoPE queries of the
suffix tokens and the cached keys, recomputes ``softmax(QKᵀ·scale + mask)`` for those rows only,
folds them into a running (batch × prefix) sum, and hands the real work to SDPA. Peak extra
memory is one layer's ``batch × heads × suffix × total`` block, never ``layers × heads × T²``.
Layers past the last selected one are not run at all.
"""

from __future__ import annotations

import contextvars
import inspect
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from listrank.backends.base import AttentionRequest, AttentionResult
from listrank.errors import BackendError, ConfigError

IMPLEMENTATION = "listrank_query_rows"
_registered = False
_SWAP_LOCK = threading.Lock()
"""Serializes the temporary swap of a model's attention implementation across threads."""


@dataclass
class _Capture:
    """Running sums for one suffix batch."""

    layers: frozenset[int]
    prefix_len: int
    valid: Any
    """(batch, suffix) float mask of real (non-padding) suffix tokens."""
    total: Any = None
    """(batch, prefix_len): Σ over layers and heads of the mean over suffix rows."""
    peak_bytes: int = 0
    seen_layers: set[int] = field(default_factory=set)


_STATE: contextvars.ContextVar[_Capture | None] = contextvars.ContextVar(
    "listrank_attention_capture", default=None
)


class _StopForward(Exception):
    """Raised after the last selected layer: later layers cannot change the scores."""


def _query_rows_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, Any]:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    state = _STATE.get()
    layer = getattr(module, "layer_idx", None)
    if state is not None and layer in state.layers:
        _accumulate(state, int(layer), query, key, attention_mask, scaling, kwargs)
    return sdpa_attention_forward(
        module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
    )


def _accumulate(
    state: _Capture,
    layer: int,
    query: Any,
    key: Any,
    mask: Any,
    scaling: float | None,
    kwargs: dict[str, Any],
) -> None:
    import torch

    # group query heads by their key/value head instead of copying keys per query head (GQA)
    b, heads, q_len, dim = query.shape
    kv_heads, kv_len = key.shape[1], key.shape[2]
    q = query.float().reshape(b, kv_heads, (heads // kv_heads) * q_len, dim)
    k = key.float()
    scale = scaling if scaling is not None else dim**-0.5
    logits = torch.matmul(q, k.transpose(-1, -2)).mul_(scale).view(b, heads, q_len, kv_len)
    softcap = kwargs.get("softcap")
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    if mask is None:
        # SDPA skipped the mask (pure causal, no cache): rebuild it, aligned bottom-right
        rows = torch.arange(q_len, device=query.device)[:, None] + (kv_len - q_len)
        cols = torch.arange(kv_len, device=query.device)[None, :]
        allowed = cols <= rows
        window = kwargs.get("sliding_window")
        if window:
            allowed &= cols > rows - window
        logits = logits.masked_fill(~allowed, float("-inf"))
    elif mask.dtype == torch.bool:
        logits = logits.masked_fill(~mask[..., :kv_len], float("-inf"))
    else:
        logits = logits + mask[..., :kv_len].float()
    weights = torch.softmax(logits, dim=-1)
    state.peak_bytes = max(state.peak_bytes, weights.numel() * weights.element_size() * 2)
    per_row = weights.sum(dim=1)[..., : state.prefix_len]  # Σ heads → (b, q, prefix)
    valid = state.valid
    mean = (per_row * valid[..., None]).sum(dim=1) / valid.sum(dim=1, keepdim=True)
    state.total = mean if state.total is None else state.total + mean
    state.seen_layers.add(layer)


def _register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(IMPLEMENTATION, _query_rows_attention)
    AttentionMaskInterface.register(IMPLEMENTATION, sdpa_mask)
    _registered = True


@contextmanager
def _capturing(model: Any, state: _Capture | None) -> Iterator[None]:
    """Route the model's attention through ``_query_rows_attention`` for one forward pass."""
    _register()
    configs = {id(c): c for c in (model.config, getattr(_decoder(model), "config", None)) if c}
    with _SWAP_LOCK:
        old = {key: c._attn_implementation for key, c in configs.items()}
        token = _STATE.set(state)
        try:
            for c in configs.values():
                c._attn_implementation = IMPLEMENTATION
            yield
        finally:
            for key, c in configs.items():
                c._attn_implementation = old[key]
            _STATE.reset(token)


def _decoder(model: Any) -> Any:
    base = getattr(model, "base_model", model)
    if not hasattr(base, "layers"):
        raise ConfigError(
            f"{type(model).__name__} has no decoder layer stack (.layers); ICR needs a "
            "decoder-only transformers model"
        )
    return base


def num_layers(model: Any) -> int:
    return len(_decoder(model).layers)


@contextmanager
def _stop_after(model: Any, last_layer: int) -> Iterator[None]:
    layers = _decoder(model).layers
    if last_layer >= len(layers) - 1:
        yield
        return

    def hook(*_: Any) -> None:
        raise _StopForward

    handle = layers[last_layer].register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _run(model: Any, ids: Any, cache: Any, last_layer: int) -> None:
    """Run the decoder (not the LM head) over ``ids``, filling ``cache``; stop early if allowed."""
    base = _decoder(model)
    cache_kw = (
        "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"
    )
    try:
        with _stop_after(model, last_layer):
            base(input_ids=ids, use_cache=True, **{cache_kw: cache})
    except _StopForward:
        pass


def _tokenize(tokenizer: Any, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]


def _split(
    request: AttentionRequest, tokenizer: Any
) -> tuple[list[int], list[tuple[int, int]], list[list[int]]]:
    """Prefix ids and offsets, and per-suffix ids, cut from the tokenization of each whole
    prompt so the model reads exactly the canonical tokens (a prefix tokenized alone may end
    differently); the prefix must tokenize identically before every suffix."""
    cut = len(request.prefix)
    prefix_ids: list[int] | None = None
    prefix_offsets: list[tuple[int, int]] = []
    suffixes: list[list[int]] = []
    for suffix in request.suffixes:
        ids, offsets = _tokenize(tokenizer, request.prefix + suffix)
        n = sum(1 for start, _ in offsets if start < cut)
        if n and offsets[n - 1][1] > cut:
            raise BackendError(
                f"a token spans the end of the shared prefix ({offsets[n - 1]} across char "
                f"{cut}); end the prefix on a token boundary (e.g. a newline)"
            )
        if prefix_ids is None:
            prefix_ids, prefix_offsets = ids[:n], offsets[:n]
        elif ids[:n] != prefix_ids:
            raise BackendError("the shared prefix tokenizes differently before different suffixes")
        if n == len(ids):
            raise BackendError("a suffix is empty after tokenization")
        suffixes.append(ids[n:])
    assert prefix_ids is not None
    return prefix_ids, prefix_offsets, suffixes


def _token_spans(
    offsets: list[tuple[int, int]], segments: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Token span of each char segment: the tokens whose first character lies inside it."""
    starts = [s for s, _ in offsets]
    spans = []
    for a, b in segments:
        inside = [i for i, s in enumerate(starts) if a <= s < b]
        spans.append((inside[0], inside[-1] + 1) if inside else (0, 0))
        if inside and inside[-1] + 1 - inside[0] != len(inside):
            raise BackendError(f"the tokens of char span {(a, b)} are not contiguous")
    return spans


def prefix_attention(backend: Any, requests: Sequence[AttentionRequest]) -> list[AttentionResult]:
    """The ``SupportsAttention.prefix_attention`` capability for an HFBackend."""
    import torch
    from transformers import DynamicCache

    model, tokenizer = backend.model, backend.tokenizer
    total_layers = num_layers(model)
    out = []
    for r in requests:
        if not r.suffixes:
            raise ConfigError("an attention request needs at least one suffix")
        layers = frozenset(range(total_layers) if r.layers is None else r.layers)
        if not layers or min(layers) < 0 or max(layers) >= total_layers:
            raise ConfigError(f"layers must lie in 0..{total_layers - 1}; got {sorted(layers)}")
        last = max(layers)
        prefix_ids, offsets, suffix_ids = _split(r, tokenizer)
        spans = _token_spans(offsets, r.segments)
        start = time.perf_counter()
        with torch.inference_mode():
            cache = DynamicCache(config=model.config)
            prefix = torch.tensor([prefix_ids], device=backend.device)
            _run(model, prefix, cache, last)
            # one batch for all suffixes on the one prefix cache (used once, so never copied)
            if len(suffix_ids) > 1:
                cache.batch_repeat_interleave(len(suffix_ids))
            width = max(len(s) for s in suffix_ids)
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
            batch = torch.tensor(
                [s + [pad] * (width - len(s)) for s in suffix_ids], device=backend.device
            )
            # right padding: causal attention keeps real rows blind to the pads after them
            valid = torch.tensor(
                [[1.0] * len(s) + [0.0] * (width - len(s)) for s in suffix_ids],
                device=backend.device,
            )
            state = _Capture(layers=layers, prefix_len=len(prefix_ids), valid=valid)
            with _capturing(model, state):
                _run(model, batch, cache, last)
        latency = time.perf_counter() - start
        if state.seen_layers != set(layers):
            raise BackendError(
                f"attention capture saw layers {sorted(state.seen_layers)} of {sorted(layers)}; "
                f"{type(model).__name__} does not route attention through AttentionInterface"
            )
        out.append(
            AttentionResult(
                scores=state.total.double().cpu().tolist(),
                token_spans=spans,
                prefix_tokens=len(prefix_ids),
                suffix_tokens=[len(s) for s in suffix_ids],
                latency_s=latency,
                extra={
                    "forward_passes": 2,  # the prefix, then all suffixes in one batch
                    "peak_attention_bytes": state.peak_bytes,
                    "layers": len(layers),
                },
            )
        )
    return out
