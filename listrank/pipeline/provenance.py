"""What a run's output depends on, as digests: every file that feeds it and the pipeline.

A resumed run (the rerank journal, batch shards) may reuse earlier results only when all of
these are unchanged. Each input gets a label ("input", "corpus", "template file …") so a
mismatch can say what changed. Covered:

- the named inputs of the command (input, corpus, topics, …);
- every pipeline option, at any depth, whose value names an existing file (a template or
  preset file, a calibration pool, a few-shot file, a model file …); files over
  :data:`HASH_LIMIT` bytes (model weights) are identified by size and modification time;
- the shipped templates and presets (a default template is one of them);
- the effective pipeline itself (config content, not the config file's name) and the
  listrank version, since a new version may render or parse differently;
- the OpenAI environment variables that choose the model and server.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from listrank.errors import InputError
from listrank.pipeline.config import PipelineConfig
from listrank.prompting.library import shipped_dir

HASH_LIMIT = 256 << 20
"""Files larger than this are identified by (size, mtime), not read (model weights)."""
_ENV = ("OPENAI_MODEL", "OPENAI_BASE_URL")
_NOT_CONTENT = ("cache",)
"""Pipeline sections that change how answers are fetched, never what they are."""


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (an InputError naming the file when it cannot be read)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > HASH_LIMIT:
            st = p.stat()
            return f"stat:{st.st_size}:{st.st_mtime_ns}"
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    return h.hexdigest()


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """(option path, string) for every string inside an option value."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _strings(v, f"{where}[{i}]")


def _is_file(text: str) -> bool:
    if not text or len(text) > 4096 or "\0" in text:
        return False
    try:
        return os.path.isfile(text)
    except (OSError, ValueError):
        return False


def pipeline_content(pipeline: PipelineConfig) -> dict[str, Any]:
    """The pipeline as data (what it does, not where it came from), JSON-normalised."""
    data = {
        "backend": [pipeline.backend.name, dict(pipeline.backend.options)],
        "model": pipeline.model,
        "method": [pipeline.method.name, dict(pipeline.method.options)],
        "strategy": [pipeline.strategy.name, dict(pipeline.strategy.options)],
        "extra": {k: dict(v) for k, v in pipeline.extra.items() if k not in _NOT_CONTENT},
    }
    loaded: dict[str, Any] = json.loads(json.dumps(data, sort_keys=True, default=str))
    return loaded


def _shipped() -> str:
    h = hashlib.sha256()
    for folder in ("prompts", "presets"):
        for p in sorted(shipped_dir(folder).glob("*.toml")):
            h.update(f"{folder}/{p.name}\0".encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("listrank")
    except PackageNotFoundError:
        return "unknown"


def provenance(pipeline: PipelineConfig, inputs: Mapping[str, str | Path | None]) -> dict[str, str]:
    """label -> digest of everything the output depends on (see the module docstring)."""
    out: dict[str, str] = {}
    for label, path in inputs.items():
        if path is not None:
            out[label] = file_digest(path)
    content = pipeline_content(pipeline)
    for where, text in _strings(content, ""):
        if _is_file(text):
            out[f"file {text!r} ({where})"] = file_digest(text)
    out["shipped templates and presets"] = _shipped()
    out["pipeline"] = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    out["listrank version"] = _version()
    for name in _ENV:
        if os.environ.get(name):
            out[f"${name}"] = hashlib.sha256(os.environ[name].encode()).hexdigest()
    return out
