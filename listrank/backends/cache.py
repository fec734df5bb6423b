"""A persistent, content-addressed cache of model calls, as a backend that wraps another one.

The key is a SHA-256 of everything that decides the answer: backend name, model, decoding
parameters and the exact prompt (messages, assistant prefix, and either the generation limits or
the requested tokens). ``CachedBackend(inner, path)`` has exactly the capabilities ``inner`` has,
so every method benefits; answers served from the file are marked ``cached=True``. Failed calls
(``error`` set) are never stored. The SQLite file is created readable by its owner only, and each
answer is committed as soon as it arrives, so a killed run keeps what it paid for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from listrank.backends.base import (
    GenerationRequest,
    GenerationResult,
    LogprobRequest,
    LogprobResult,
)
from listrank.errors import ConfigError
from listrank.types import ChatMessage

_DECODING_ATTRS = ("temperature", "top_p", "top_k", "seed", "dtype", "logprobs_top_k")
"""Backend attributes that change answers; whichever the inner backend has join the key."""

R = TypeVar("R")


class CallCache:
    """key -> JSON value in one SQLite table; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # create the file ourselves so it is owner-only from the first byte on
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open call cache {self.path}: {exc}") from exc
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO calls (key, value) VALUES (?, ?)",
                (key, json.dumps(value, sort_keys=True)),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM calls").fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


class CachedBackend:
    """Wraps a backend with a :class:`CallCache`. ``CachedBackend(inner, path)`` returns an
    object with ``generate`` / ``next_token_logprobs`` only where ``inner`` has them, so
    capability checks see the same backend. Other attributes are forwarded unchanged (and
    uncached), e.g. a tokenizer for attention-based methods."""

    def __new__(cls, inner: Any, cache: str | Path | CallCache, **kwargs: Any) -> CachedBackend:
        if cls is not CachedBackend:
            return super().__new__(cls)
        gen, lp = hasattr(inner, "generate"), hasattr(inner, "next_token_logprobs")
        target: type[CachedBackend] = (
            _CachedBoth
            if gen and lp
            else _CachedGenerate
            if gen
            else _CachedLogprobs
            if lp
            else cls
        )
        return super().__new__(target)

    def __init__(
        self,
        inner: Any,
        cache: str | Path | CallCache,
        *,
        key_params: Mapping[str, Any] | None = None,
    ) -> None:
        self.inner = inner
        self.cache = cache if isinstance(cache, CallCache) else CallCache(cache)
        self.name: str = inner.name
        self.model_name: str = inner.model_name
        params = {a: getattr(inner, a) for a in _DECODING_ATTRS if hasattr(inner, a)}
        params.update(key_params or {})
        self._base = {"backend": self.name, "model": self.model_name, "params": params}

    def __getattr__(self, attr: str) -> Any:
        # only reached for attributes this wrapper lacks
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

    def key(self, kind: str, prompt: Mapping[str, Any]) -> str:
        blob = json.dumps(
            {**self._base, "kind": kind, "prompt": prompt}, sort_keys=True, default=str
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _through(
        self,
        kind: str,
        prompts: Sequence[Mapping[str, Any]],
        requests: Sequence[Any],
        call: Callable[[list[Any]], list[R]],
        load: Callable[[dict[str, Any]], R],
    ) -> list[R]:
        """Answer each request from the cache, send only the misses (as one batch)."""
        keys = [self.key(kind, p) for p in prompts]
        out: list[R | None] = []
        missing: list[int] = []
        for i, k in enumerate(keys):
            hit = self.cache.get(k)
            if hit is None:
                out.append(None)
                missing.append(i)
            else:  # no time was spent on it this run
                out.append(dataclasses.replace(load(hit), cached=True, latency_s=0.0))  # type: ignore[type-var]
        if missing:
            fresh = call([requests[i] for i in missing])
            for i, result in zip(missing, fresh, strict=True):
                out[i] = result
                if getattr(result, "error", None) is None:
                    self.cache.put(keys[i], dataclasses.asdict(result))  # type: ignore[call-overload]
        return [r for r in out if r is not None]


class _CachedGenerate(CachedBackend):
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        prompts = [
            {
                "messages": _messages(r.messages),
                "assistant_prefix": r.assistant_prefix,
                "max_new_tokens": r.max_new_tokens,
                "stop": list(r.stop),
            }
            for r in requests
        ]
        return self._through(
            "generate", prompts, requests, self.inner.generate, lambda d: GenerationResult(**d)
        )


class _CachedLogprobs(CachedBackend):
    def next_token_logprobs(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        prompts = [
            {
                "messages": _messages(r.messages),
                "assistant_prefix": r.assistant_prefix,
                "tokens": list(r.tokens),
            }
            for r in requests
        ]
        return self._through(
            "logprobs",
            prompts,
            requests,
            self.inner.next_token_logprobs,
            lambda d: LogprobResult(**d),
        )

    def token_ids(self, text: str) -> list[int]:
        return list(self.inner.token_ids(text))


class _CachedBoth(_CachedGenerate, _CachedLogprobs):
    pass
