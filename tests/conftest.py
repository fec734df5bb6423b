from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    """The test collections: $LISTRANK_SHARED_DATA, else the nearest shared/data beside the repo
    or beside one of its parent folders (a checkout may sit a level deeper than the data)."""
    if os.environ.get("LISTRANK_SHARED_DATA"):
        return Path(os.environ["LISTRANK_SHARED_DATA"]).resolve()
    for folder in REPO.parents:
        if (folder / "shared" / "data").is_dir():
            return (folder / "shared" / "data").resolve()
    return (REPO.parent / "shared" / "data").resolve()


DATA = _shared_data()


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"test collections not found at {DATA}")
    return DATA


@pytest.fixture(scope="session")
def tiny_hf():  # type: ignore[no-untyped-def]
    from listrank.testing import tiny_backend

    return tiny_backend("llama")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny random model saved as a normal folder, for CLI tests that take --model PATH."""
    from listrank.testing import embedded_tokenizer, tiny_model

    folder = tmp_path_factory.mktemp("tiny-model")
    tiny_model("llama").save_pretrained(folder)
    embedded_tokenizer().save_pretrained(folder)
    yield folder


@pytest.fixture(scope="session")
def gguf_tokenizer_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A listrank cache folder holding only the embedded GGUF's tokenizer snapshot (no
    converted model), as a plan before any run leaves it: built once per session (it imports
    transformers and reads the GGUF)."""
    from listrank.backends import tokenizer_cache
    from listrank.backends.embedded import gguf_path

    cache = tmp_path_factory.mktemp("gguf-cache")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LISTRANK_CACHE_DIR", str(cache))
        assert tokenizer_cache.load_snapshot(gguf_path()) is None  # a miss: built, then kept
        tokenizer_cache.planning_tokenizer(gguf_path())
        assert tokenizer_cache.snapshot_file(gguf_path()).exists()
    return cache
