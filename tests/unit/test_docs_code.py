"""The docs' Python examples run as written: the README's quick start, the pandas/PyTerrier
block of the guide and the LangChain/LlamaIndex block of the serve page, on the tiny random
model standing in for the embedded one (same loading path, other weights)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python_blocks(page: str) -> list[str]:
    text = (ROOT / page).read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


def block_with(page: str, marker: str) -> str:
    (found,) = [b for b in python_blocks(page) if marker in b]
    return found


@pytest.fixture
def tiny_embedded(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Reranker() loads the tiny model's folder where it would load the embedded model's."""
    monkeypatch.setattr("listrank.backends.hf.embedded_model_dir", lambda: tiny_model_dir)
    return tiny_model_dir


def test_readme_quick_start_runs(tiny_embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exec(block_with("README.md", "from listrank import Reranker"), {})
    printed = capsys.readouterr().out.strip()
    assert sorted(eval(printed)) == ["0", "1"]  # the two docids, in the new order


def test_guide_pandas_and_pyterrier_block_runs(tiny_embedded: Path) -> None:
    pytest.importorskip("pyterrier")
    scope: dict[str, object] = {}
    exec(block_with("docs/guide.md", "rerank_many(df)"), scope)
    out, reranked = scope["out"], scope["reranked"]
    assert sorted(out["docno"]) == ["d1", "d2", "d3"]  # type: ignore[index]
    assert sorted(reranked["docno"]) == ["d1", "d2", "d3"]  # type: ignore[index]


def test_serve_page_integration_block_runs(
    tiny_embedded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("langchain_core")
    pytest.importorskip("llama_index.core")
    monkeypatch.chdir(tmp_path)
    Path("pipeline.toml").write_text('[method]\nname = "icr"\n')
    scope: dict[str, object] = {}
    exec(block_with("docs/serve.md", "ListrankRerank"), scope)
    assert len(scope["best"]) == 1 and len(scope["top"]) == 1  # type: ignore[arg-type]
