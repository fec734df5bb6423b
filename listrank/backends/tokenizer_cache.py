"""The planning tokenizer of a local model (folder or ``.gguf`` file), found without transformers
where it can be:

1. a snapshot of the tokenizer transformers built for it (its ``tokenizers`` backend, chat
   template and special tokens) under ``<cache>/tokenizers/``, keyed by the model files'
   identity (path, size, modification time) and the transformers version; the hf backend
   writes one whenever it loads a model from a path;
2. a folder whose tokenizer transformers loads as it is (``tokenizer.json`` with a generic
   tokenizer class and nothing it would add or patch): read directly;
3. otherwise transformers builds the tokenizer once (the tokenizer only, no weights) and the
   snapshot is written, so the next plan is fast.

Besides the tokenizer, a model's *facts* are kept: the context length its config declares and
its layer count (ICR's layer ranges), as the hf backend reads them from the loaded model.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from listrank.backends.embedded import cache_dir
from listrank.backends.plan_tokenizer import PlanningTokenizer
from listrank.errors import ModelLoadError

SNAPSHOT_FORMAT = 1
SPECIAL_ATTRIBUTES = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)
"""transformers' named special tokens (the chat template sees them as variables)."""
_IDENTITY_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
    "config.json",
)
_GENERIC_CLASSES = (None, "TokenizersBackend", "PreTrainedTokenizerFast")
_PATCHED_VOCAB = 100_000
"""transformers may patch the pre-tokenizer regex of a vocabulary larger than this."""

Facts = dict[str, int | None]
"""``context``: the config's max_position_embeddings; ``layers``: decoder layers."""


def _transformers_version() -> str:
    try:
        return metadata.version("transformers")
    except metadata.PackageNotFoundError:
        return "none"


def identity(source: Path) -> str:
    """A key that changes when any file the tokenizer is built from changes."""
    path = source.expanduser().resolve()
    files = [path] if path.is_file() else [path / n for n in _IDENTITY_FILES]
    stats = [
        (f.name, st.st_size, st.st_mtime_ns)
        for f in files
        if f.is_file() and (st := f.stat()) is not None
    ]
    raw = json.dumps([SNAPSHOT_FORMAT, _transformers_version(), str(path), stats])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def snapshot_file(source: Path) -> Path:
    return cache_dir() / "tokenizers" / f"{identity(source)}.json"


def snapshot_of(tokenizer: Any, facts: Mapping[str, int | None]) -> dict[str, Any]:
    """What a planning tokenizer needs of a transformers tokenizer, as JSON data."""
    return {
        "format": SNAPSHOT_FORMAT,
        "tokenizer": tokenizer.backend_tokenizer.to_str(),
        "chat_template": getattr(tokenizer, "chat_template", None),
        "special_tokens_map": {k: str(v) for k, v in tokenizer.special_tokens_map.items()},
        "all_special_tokens": [str(t) for t in tokenizer.all_special_tokens],
        "split_special_tokens": bool(getattr(tokenizer, "split_special_tokens", False)),
        "facts": dict(facts),
    }


def save_snapshot(source: Path, tokenizer: Any, facts: Mapping[str, int | None]) -> None:
    """Write the snapshot of ``source`` unless it is there; a cache that cannot be written
    (read-only home, full disk) only costs the next plan its speed."""
    target = snapshot_file(source)
    if target.exists():
        return
    try:
        data = json.dumps(snapshot_of(tokenizer, facts))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tok-", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except (OSError, AttributeError, TypeError, ValueError):
        return


def _from_snapshot(data: Mapping[str, Any]) -> tuple[PlanningTokenizer, Facts]:
    import tokenizers

    tok = PlanningTokenizer(
        tokenizers.Tokenizer.from_str(data["tokenizer"]),
        chat_template=data["chat_template"],
        special_tokens_map=data["special_tokens_map"],
        all_special_tokens=data["all_special_tokens"],
        split_special_tokens=bool(data.get("split_special_tokens", False)),
    )
    return tok, dict(data["facts"])


def load_snapshot(source: Path) -> tuple[PlanningTokenizer, Facts] | None:
    try:
        data = json.loads(snapshot_file(source).read_text(encoding="utf-8"))
        if data.get("format") != SNAPSHOT_FORMAT:
            return None
        return _from_snapshot(data)
    except Exception:  # absent, damaged, or unreadable by this tokenizers version: rebuilt
        return None


def _content(token: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a string or an AddedToken dict."""
    if isinstance(token, Mapping):
        token = token.get("content")
    return token if isinstance(token, str) else None


def config_facts(config: Mapping[str, Any]) -> Facts:
    """Context and layers from a config.json, as the loaded model's config reads them."""
    context = config.get("max_position_embeddings", config.get("n_positions"))
    layers = config.get("num_hidden_layers", config.get("n_layer"))
    text = config.get("text_config")
    if layers is None and isinstance(text, Mapping):
        layers = text.get("num_hidden_layers")
    return {
        "context": int(context) if isinstance(context, int) else None,
        "layers": int(layers) if isinstance(layers, int) else None,
    }


def _direct_files(folder: Path) -> tuple[dict[str, Any], dict[str, Any], Any] | None:
    """(tokenizer_config, config, chat template) of a folder whose tokenizer transformers
    loads from ``tokenizer.json`` as it is, by what its files say; else None."""
    tj, tc = folder / "tokenizer.json", folder / "tokenizer_config.json"
    if not (tj.is_file() and tc.is_file() and (folder / "config.json").is_file()):
        return None
    if any(
        (folder / n).exists()
        for n in ("special_tokens_map.json", "chat_template.json", "additional_chat_templates")
    ):
        return None
    try:
        config = json.loads(tc.read_text(encoding="utf-8"))
        model_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or not isinstance(model_config, dict):
        return None
    if config.get("tokenizer_class") not in _GENERIC_CLASSES:
        return None  # a model-specific class rebuilds the backend from vocab and merges
    if any(config.get(k) for k in ("split_special_tokens", "do_lower_case")):
        return None  # settings transformers applies to the backend after loading it
    if "add_prefix_space" in config:
        return None  # settings transformers applies to the backend after loading it
    if not isinstance(config.get("extra_special_tokens", []) or [], list):
        return None  # named extra tokens join the template variables
    jinja = folder / "chat_template.jinja"
    if jinja.is_file() and config.get("chat_template"):
        return None  # two templates: leave the choice to transformers
    template: Any = (
        jinja.read_text(encoding="utf-8") if jinja.is_file() else config.get("chat_template")
    )
    if isinstance(template, list):  # named templates, as transformers keeps them
        template = {t["name"]: t["template"] for t in template}
    return config, model_config, template


def readable_directly(source: Path) -> bool:
    """Whether a plan can read this tokenizer without transformers or a snapshot (by its
    files; ``read_directly`` checks the tokens too)."""
    return source.is_dir() and _direct_files(source) is not None


def read_directly(folder: Path) -> tuple[PlanningTokenizer, Facts] | None:
    """A folder's tokenizer read without transformers when transformers would load its
    ``tokenizer.json`` unchanged; None when it would rebuild, add to or patch it."""
    found = _direct_files(folder)
    if found is None:
        return None
    config, model_config, template = found
    extra = config.get("extra_special_tokens", config.get("additional_special_tokens")) or []
    if not isinstance(extra, list):
        return None
    import tokenizers

    backend = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    if backend.get_vocab_size() > _PATCHED_VOCAB:
        return None
    named = {a: c for a in SPECIAL_ATTRIBUTES if (c := _content(config.get(a))) is not None}
    extras = [c for t in extra if (c := _content(t)) is not None]
    added = {t.content for t in backend.get_added_tokens_decoder().values()}
    declared = [_content(t) for t in (config.get("added_tokens_decoder") or {}).values()]
    if any(t not in added for t in [*named.values(), *extras, *declared]):
        return None  # transformers would add these tokens
    everything = list(dict.fromkeys([*named.values(), *extras]))
    tok = PlanningTokenizer(
        backend,
        chat_template=template,
        special_tokens_map=named,
        all_special_tokens=everything,
    )
    return tok, config_facts(model_config)


_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
_GGUF_SCALARS.update({10: "<Q", 11: "<q", 12: "<d"})
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def _gguf_value(fh: Any, kind: int) -> Any:
    """One metadata value of a GGUF file (arrays skipped: None)."""
    if kind == _GGUF_STRING:
        (size,) = struct.unpack("<Q", fh.read(8))
        return fh.read(size).decode("utf-8", "replace")
    if kind == _GGUF_ARRAY:
        item, count = struct.unpack("<IQ", fh.read(12))
        for _ in range(count):
            _gguf_value(fh, item)
        return None
    fmt = _GGUF_SCALARS[kind]
    return struct.unpack(fmt, fh.read(struct.calcsize(fmt)))[0]


def gguf_facts(path: Path) -> Facts | None:
    """Context length and block count from a GGUF file's metadata (what transformers maps to
    max_position_embeddings and num_hidden_layers), read without its tensors; None when the
    file does not say (then transformers reads its config)."""
    wanted: dict[str, int] = {}
    arch = None
    try:
        with path.open("rb") as fh:
            magic, version = fh.read(4), struct.unpack("<I", fh.read(4))[0]
            if magic != b"GGUF" or version < 2:
                return None
            _, count = struct.unpack("<QQ", fh.read(16))
            for _ in range(count):
                (size,) = struct.unpack("<Q", fh.read(8))
                key = fh.read(size).decode("utf-8", "replace")
                value = _gguf_value(fh, struct.unpack("<I", fh.read(4))[0])
                if key == "general.architecture":
                    arch = value
                elif arch and key in (f"{arch}.context_length", f"{arch}.block_count"):
                    wanted[key.rpartition(".")[2]] = int(value)
                if len(wanted) == 2:
                    return {"context": wanted["context_length"], "layers": wanted["block_count"]}
    except (OSError, KeyError, struct.error, ValueError, TypeError):
        return None
    return None


def build_with_transformers(source: Path, *, save: bool = True) -> tuple[PlanningTokenizer, Facts]:
    """The tokenizer (no weights) and config through transformers, snapshotted for next time
    (``save``; a hub name is not: its files are not ours to key by)."""
    try:
        from transformers import AutoConfig, AutoTokenizer
    except ImportError as exc:
        raise ModelLoadError(
            f"planning on {source} needs its tokenizer once from transformers: "
            "pip install 'listrank[hf]'"
        ) from exc
    from listrank.backends.quiet import quiet_loading

    folder, extra = (
        (str(source.parent), {"gguf_file": source.name}) if source.is_file() else (str(source), {})
    )
    # a GGUF's facts from its header: transformers would parse the whole file again
    facts = gguf_facts(source) if source.is_file() else None
    try:
        with quiet_loading():
            tokenizer = AutoTokenizer.from_pretrained(folder, **extra)
            config = AutoConfig.from_pretrained(folder, **extra) if facts is None else None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load the tokenizer of {str(source)!r}: {exc}") from exc
    if facts is None:
        text = getattr(config, "text_config", None)
        layers = getattr(config, "num_hidden_layers", None)
        facts = {
            "context": getattr(config, "max_position_embeddings", None),
            "layers": layers or getattr(text, "num_hidden_layers", None),
        }
    if save:
        save_snapshot(source, tokenizer, facts)
    return _from_snapshot(snapshot_of(tokenizer, facts))


def planning_tokenizer(source: Path) -> tuple[PlanningTokenizer, Facts]:
    """The planning tokenizer and facts of a local folder or ``.gguf`` file (steps above)."""
    found = load_snapshot(source)
    if found is None and source.is_dir():
        found = read_directly(source)
    return found if found is not None else build_with_transformers(source)
