from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
# beside the repository (a main checkout) or further up (a worktree); or named explicitly
DATA = Path(
    os.environ.get("LISTRANK_SHARED_DATA")
    or next(
        (p / "shared" / "data" for p in REPO.parents if (p / "shared" / "data").is_dir()),
        REPO.parent / "shared" / "data",
    )
).resolve()


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
