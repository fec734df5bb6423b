"""Helpers for tests, yours too: a tiny random transformers model built in code (no download)."""

from listrank.testing.tiny import TINY_ARCHITECTURES, embedded_tokenizer, tiny_backend, tiny_model

__all__ = ["TINY_ARCHITECTURES", "embedded_tokenizer", "tiny_backend", "tiny_model"]
