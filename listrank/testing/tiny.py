"""Helpers for tests, yours too: a tiny random transformers model built in code (no download).

The tokenizer is the embedded SmolLM2's (real chat template, real token boundaries); the
weights are random and seeded, so outputs are deterministic but meaningless.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from listrank.backends.embedded import embedded_model_dir
from listrank.backends.hf import HFBackend

TINY_ARCHITECTURES = ("llama", "qwen2", "gemma")


@lru_cache(maxsize=1)
def embedded_tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(embedded_model_dir()))


def tiny_model(arch: str = "llama", *, seed: int = 0, layers: int = 2) -> Any:
    """A randomly initialised causal LM of the given family, small enough for unit tests."""
    import torch
    from transformers import AutoModelForCausalLM, GemmaConfig, LlamaConfig, Qwen2Config

    vocab = len(embedded_tokenizer())
    common: dict[str, Any] = {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": vocab,
        "max_position_embeddings": 8192,
        "pad_token_id": 2,
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    configs = {"llama": LlamaConfig, "qwen2": Qwen2Config, "gemma": GemmaConfig}
    if arch not in configs:
        raise ValueError(f"unknown tiny architecture {arch!r}; choose from {TINY_ARCHITECTURES}")
    if arch == "gemma":
        common["head_dim"] = 16
    config = configs[arch](**common)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    model.eval()
    return model


def tiny_backend(arch: str = "llama", *, seed: int = 0, **options: Any) -> HFBackend:
    """An HFBackend around ``tiny_model`` (CPU)."""
    return HFBackend(
        f"tiny-{arch}",
        model_obj=tiny_model(arch, seed=seed),
        tokenizer=embedded_tokenizer(),
        device="cpu",
        **options,
    )
