"""A persistent, content-addressed cache of model calls, as a backend that wraps another one.

The key is a SHA-256 of everything that decides the answer: backend name, model, every option
the backend declares as answer-changing (``backends.base.answer_identity``: sampling, guided
decoding, device and precision, server URLs, extra request fields, ...), and the exact prompt
(messages, assistant prefix, and either the generation limits, the requested tokens, or the
attention prefix, suffixes, segments and layers). ``CachedBackend(inner, path)`` has exactly the
capabilities ``inner`` has (generate, next-token logprobs, prefix attention), so every method
benefits; answers served from the file are marked ``cached=True``. Failed calls (``error`` set)
are never stored. The SQLite file is owner-only (0600, also when it already existed), and each
answer is committed as soon as it arrives, so a killed run keeps what it paid for.

The file is never trusted: every row stores a SHA-256 over its key and value, and a row whose
checksum, JSON or shape is wrong is a miss (recomputed, overwritten, counted in ``rejected``).
A file that is not a database, fails SQLite's quick check, or holds another schema is moved
aside (``PATH.corrupt-N``) with a one-line warning and a fresh cache is started. A file that is
merely locked by another process is never taken for corrupt: each access waits for the lock
(SQLite's busy timeout, :data:`BUSY_TIMEOUT_S`); a lock held longer fails the open with a
ConfigError saying so, and mid-run turns that one lookup into a miss (or skips storing that
one answer) with a warning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from listrank.backends.base import (
    AttentionRequest,
    AttentionResult,
    GenerationRequest,
    GenerationResult,
    LogprobRequest,
    LogprobResult,
    answer_identity,
)
from listrank.backends.wrapping import ForwardingBackend
from listrank.errors import ConfigError
from listrank.types import ChatMessage

logger = logging.getLogger("listrank.cache")

SCHEMA = "listrank-call-cache/2"
BUSY_TIMEOUT_S = 30.0
"""How long an access waits for another process's lock on the file."""


def _busy(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "busy": another process holds the file, not damage."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


R = TypeVar("R")


def checksum(key: str, value: str) -> str:
    return hashlib.sha256(f"{key}\0{value}".encode()).hexdigest()


class CallCache:
    """key -> JSON value in one SQLite table; safe to share between threads."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.rejected = 0
        """Rows that were present but failed their checksum, JSON or shape check."""
        self.moved_aside: list[Path] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # create the file ourselves so it is owner-only from the first byte on, and tighten
            # a file that already existed with a looser mode
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            os.chmod(self.path, 0o600)
            self._db = self._open()
        except (OSError, sqlite3.Error) as exc:
            if _busy(exc):
                raise ConfigError(
                    f"call cache {self.path} is locked by another process (waited "
                    f"{self.busy_timeout_s:g} s); let it finish or use another --cache file"
                ) from None
            raise ConfigError(f"cannot open call cache {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(str(self.path), timeout=self.busy_timeout_s, check_same_thread=False)

    def _open(self) -> sqlite3.Connection:
        db = self._connect()
        try:
            problem = self._problem(db)
        except sqlite3.DatabaseError as exc:
            if _busy(exc):
                db.close()
                raise
            problem = str(exc)
        if problem is None:
            return db
        db.close()
        self._move_aside(problem)
        db = self._connect()
        self._problem(db)
        return db

    @staticmethod
    def _problem(db: sqlite3.Connection) -> str | None:
        """None when ``db`` is (or has just become) a listrank cache; else what is wrong."""
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute(
                "CREATE TABLE calls (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                "checksum TEXT NOT NULL)"
            )
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA,))
            db.commit()
            return None
        if "meta" not in tables:
            return "it holds another schema"
        row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        if row is None or row[0] != SCHEMA:
            return f"it holds another schema ({row[0] if row else 'none'!s:.60})"
        (check,) = db.execute("PRAGMA quick_check(1)").fetchone()
        if check != "ok":
            return f"SQLite's check failed ({str(check).splitlines()[0][:80]})"
        return None

    def _move_aside(self, problem: str) -> None:
        n = 1
        while self.path.with_name(f"{self.path.name}.corrupt-{n}").exists():
            n += 1
        target = self.path.with_name(f"{self.path.name}.corrupt-{n}")
        os.replace(self.path, target)
        for suffix in ("-journal", "-wal", "-shm"):  # SQLite's side files belong to the old one
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        self.moved_aside.append(target)
        logger.warning(
            "listrank: call cache %s is unusable (%s); moved to %s, starting a new one",
            self.path,
            problem.splitlines()[0] if problem else "corrupt",
            target.name,
        )

    def _recover(self, exc: sqlite3.Error) -> None:
        """The file broke under us (a corrupt page read mid-run): set it aside, start over."""
        try:
            self._db.close()
            self._move_aside(str(exc))
            self._db = self._open()
        except (OSError, sqlite3.Error) as again:
            raise ConfigError(f"call cache {self.path} is unusable: {again}") from again

    def get(self, key: str) -> Any | None:
        """The stored value, or None for a miss (absent, or present but not trustworthy)."""
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT value, checksum FROM calls WHERE key = ?", (key,)
                ).fetchone()
            except sqlite3.DatabaseError as exc:
                if _busy(exc):
                    logger.warning("listrank: call cache %s is locked: a miss", self.path)
                else:
                    self._recover(exc)
                row = None
        if row is None:
            self.misses += 1
            return None
        value, stored = row
        try:
            if not isinstance(value, str) or stored != checksum(key, value):
                raise ValueError("checksum mismatch")
            loaded = json.loads(value)
            if loaded is None:  # None means "miss" to the caller
                raise ValueError("null value")
        except (ValueError, RecursionError):
            self.reject()
            return None
        self.hits += 1
        return loaded

    def reject(self) -> None:
        """Count a present-but-unusable row as a miss (the caller recomputes and overwrites)."""
        self.misses += 1
        self.rejected += 1
        return None

    def put(self, key: str, value: Any) -> None:
        text = json.dumps(value, sort_keys=True)  # -inf logprobs are answers too
        with self._lock:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO calls (key, value, checksum) VALUES (?, ?, ?)",
                    (key, text, checksum(key, text)),
                )
                self._db.commit()
            except sqlite3.DatabaseError as exc:
                if _busy(exc):
                    logger.warning("listrank: call cache %s is locked: answer not kept", self.path)
                    with contextlib.suppress(sqlite3.Error):
                        self._db.rollback()
                else:
                    self._recover(exc)

    def __len__(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM calls").fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


class CachedBackend(ForwardingBackend):
    """Wraps a backend with a :class:`CallCache`. ``CachedBackend(inner, path)`` has exactly the
    capabilities of ``inner`` (``backends.wrapping``), so capability checks see the same
    backend; its model calls are answered from the file where they can be. Other attributes
    are forwarded unchanged (and uncached), e.g. a tokenizer."""

    def __init__(
        self,
        inner: Any,
        cache: str | Path | CallCache,
        *,
        key_params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(inner)
        self.cache = cache if isinstance(cache, CallCache) else CallCache(cache)
        base = answer_identity(inner)  # every declared answer-changing option in effect
        base["params"].update(key_params or {})
        self._base = base

    def call(self, kind: str, requests: Sequence[Any]) -> list[Any]:
        prompt, load, label = _KINDS[kind]
        fn = getattr(self.inner, kind)
        return self._through(label, [prompt(r) for r in requests], requests, fn, load)

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
        load: Callable[[Any], R],
    ) -> list[R]:
        """Answer each request from the cache, send only the misses (as one batch). A stored
        value that does not rebuild a well-formed result is a miss like any other."""
        keys = [self.key(kind, p) for p in prompts]
        out: list[R | None] = []
        missing: list[int] = []
        for i, k in enumerate(keys):
            hit = self.cache.get(k)
            result: R | None = None
            if hit is not None:
                try:
                    result = load(hit)
                except (TypeError, ValueError, KeyError, AttributeError):
                    self.cache.reject()
            if result is None:
                out.append(None)
                missing.append(i)
            else:  # no time was spent on it this run
                out.append(_as_cached(result))
        if missing:
            fresh = call([requests[i] for i in missing])
            for i, answer in zip(missing, fresh, strict=True):
                out[i] = answer
                if getattr(answer, "error", None) is None:
                    self.cache.put(keys[i], dataclasses.asdict(answer))  # type: ignore[call-overload]
        return [r for r in out if r is not None]


def _as_cached(result: R) -> R:
    """Marked as served from the file; results without a ``cached`` field say it in ``extra``."""
    names = {f.name for f in dataclasses.fields(result)}  # type: ignore[arg-type]
    if "cached" in names:
        return dataclasses.replace(result, cached=True, latency_s=0.0)  # type: ignore[type-var]
    extra = {**getattr(result, "extra", {}), "cached": True}
    return dataclasses.replace(result, latency_s=0.0, extra=extra)  # type: ignore[type-var]


def _fields(d: Any, cls: type[Any]) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise TypeError("a cached value must be an object")
    names = {f.name for f in dataclasses.fields(cls)}
    if set(d) - names:
        raise KeyError("unknown fields")
    return d


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("not an integer")
    return v


def _num(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError("not a number")
    return float(v)


def _load_generation(d: Any) -> GenerationResult:
    d = _fields(d, GenerationResult)
    if not isinstance(d["text"], str):
        raise TypeError("text must be a string")
    return GenerationResult(
        text=d["text"],
        prompt_tokens=_int(d["prompt_tokens"]),
        completion_tokens=_int(d["completion_tokens"]),
        latency_s=_num(d["latency_s"]),
        truncated=bool(d.get("truncated", False)),
        reasoning=str(d.get("reasoning", "")),
        reasoning_tokens=None if d.get("reasoning_tokens") is None else _int(d["reasoning_tokens"]),
    )


def _load_logprobs(d: Any) -> LogprobResult:
    d = _fields(d, LogprobResult)
    lp = d["logprobs"]
    if not isinstance(lp, dict):
        raise TypeError("logprobs must be an object")
    extra = d.get("extra", {})
    if not isinstance(extra, dict):
        raise TypeError("extra must be an object")
    return LogprobResult(
        logprobs={str(k): _num(v) for k, v in lp.items()},
        prompt_tokens=_int(d["prompt_tokens"]),
        latency_s=_num(d["latency_s"]),
        extra=extra,
    )


def _load_attention(d: Any) -> AttentionResult:
    d = _fields(d, AttentionResult)
    extra = d.get("extra", {})
    if not isinstance(extra, dict):
        raise TypeError("extra must be an object")
    return AttentionResult(
        scores=[[_num(x) for x in row] for row in d["scores"]],
        token_spans=[(_int(a), _int(b)) for a, b in d["token_spans"]],
        prefix_tokens=_int(d["prefix_tokens"]),
        suffix_tokens=[_int(n) for n in d["suffix_tokens"]],
        latency_s=_num(d["latency_s"]),
        extra=extra,
    )


def _generation_prompt(r: GenerationRequest) -> dict[str, Any]:
    return {
        "messages": _messages(r.messages),
        "assistant_prefix": r.assistant_prefix,
        "max_new_tokens": r.max_new_tokens,
        "stop": list(r.stop),
        # only when set, so keys of calls without thinking settings stay as they were
        **({"thinking": r.thinking} if r.thinking is not None else {}),
        **({"prefill": True} if r.prefill else {}),
    }


def _logprob_prompt(r: LogprobRequest) -> dict[str, Any]:
    return {
        "messages": _messages(r.messages),
        "assistant_prefix": r.assistant_prefix,
        "tokens": list(r.tokens),
    }


def _attention_prompt(r: AttentionRequest) -> dict[str, Any]:
    return {
        "prefix": r.prefix,
        "suffixes": list(r.suffixes),
        "segments": [list(s) for s in r.segments],
        "layers": None if r.layers is None else list(r.layers),
    }


_KINDS: dict[str, tuple[Callable[[Any], dict[str, Any]], Callable[[Any], Any], str]] = {
    "generate": (_generation_prompt, _load_generation, "generate"),
    "next_token_logprobs": (_logprob_prompt, _load_logprobs, "logprobs"),
    "prefix_attention": (_attention_prompt, _load_attention, "attention"),
}
"""Model call -> (what of a request goes into the key, how a stored value is rebuilt, the
kind stored in the key)."""
