"""Checks a local model path before transformers sees it, so a typo or an empty folder says
what was looked for instead of a hub-name or tokenizer-dependency message."""

from __future__ import annotations

import os
import re
from pathlib import Path

from listrank.errors import ModelLoadError

CONFIG_FILES = ("config.json",)
WEIGHT_PATTERNS = ("model.safetensors", "model-*.safetensors", "pytorch_model*.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_LOOKED_FOR = (
    f"{' / '.join(CONFIG_FILES)}, weights ({', '.join(WEIGHT_PATTERNS)}) and a tokenizer "
    f"({', '.join(TOKENIZER_FILES)})"
)


def looks_local(model: str) -> bool:
    """A path rather than a hub name ("org/name"): absolute, relative with ./ or ~, a .gguf
    file, or anything that exists on disk."""
    return (
        model.startswith(("/", ".", "~"))
        or model.endswith(".gguf")
        or os.sep + os.sep in model
        or not _HUB_NAME.match(model)
        or Path(model).exists()
    )


def check_local_model(model: str) -> None:
    """Raise ModelLoadError naming what is missing; return quietly for hub names."""
    if not looks_local(model):
        return
    path = Path(model).expanduser()
    if not path.exists():
        raise ModelLoadError(
            f"model path {model!r} does not exist; expected a folder with {_LOOKED_FOR}, "
            "a .gguf file, or a hub name like 'Qwen/Qwen2.5-7B-Instruct'"
        )
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelLoadError(
                f"model path {model!r} is a file but not a .gguf; pass the folder that holds "
                f"{_LOOKED_FOR}, or a .gguf file"
            )
        return
    missing = []
    if not any((path / f).is_file() for f in CONFIG_FILES):
        missing.append("config.json")
    if not any(next(path.glob(p), None) for p in (*WEIGHT_PATTERNS, "*.gguf")):
        missing.append(f"weights ({', '.join(WEIGHT_PATTERNS)})")
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        missing.append(f"a tokenizer ({', '.join(TOKENIZER_FILES)})")
    if "config.json" in missing and next(path.glob("*.gguf"), None) is not None:
        gguf = next(path.glob("*.gguf"))
        raise ModelLoadError(f"{model!r} holds no config.json; pass the GGUF file itself: {gguf}")
    if missing:
        found = sorted(p.name for p in path.iterdir())[:8]
        raise ModelLoadError(
            f"model folder {model!r} holds no model: missing {'; '.join(missing)}; "
            f"found: {', '.join(found) if found else 'nothing (empty folder)'}"
        )


def hub_folder(name: str) -> Path | None:
    """The Hugging Face cache's folder of hub model ``name`` at the revision the cache calls
    ``main`` (what an offline load reads), or None when it is not cached."""
    cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if not cache:
        home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
        cache = str(Path(home) / "hub")
    repo = Path(cache).expanduser() / f"models--{name.replace('/', '--')}"
    try:
        commit = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    folder = repo / "snapshots" / commit
    return folder if commit and folder.is_dir() else None
