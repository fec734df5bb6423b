"""The documentation's configuration table is generated from the declarations (a test fails
when they disagree), and a toy component, added as one file plus its registration, appears in
``config show``, ``config check``, the table, routing, the cache key and the plan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from listrank import registry
from listrank.backends.base import answer_identity
from listrank.cli import main
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.schema import effective, options_table, table_in
from listrank.strategies.planning import check_trace

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_documented_table_is_the_declarations() -> None:
    documented = table_in(DOCS.read_text(encoding="utf-8"))
    assert documented is not None, "the table markers are missing from docs/configuration.md"
    assert documented == options_table(), "regenerate it: listrank config table"


def test_the_table_names_every_declared_option() -> None:
    table = options_table()
    for kind in ("backend", "method", "strategy"):
        for name in registry.names(kind):
            for option in registry.get(kind, name).declared():
                if not option.internal:
                    assert f"| `[{kind}]` | {name} | `{option.name}` |" in table


@pytest.fixture
def toys() -> Iterator[None]:
    registry.register("backend", "toy", "tests.unit.toy_components:ToyBackend")
    registry.register("method", "toy-scorer", "tests.unit.toy_components:ToyScorer")
    yield
    registry._BUILTIN["backend"].pop("toy")
    registry._BUILTIN["method"].pop("toy-scorer")


def test_a_toy_component_appears_everywhere(
    toys: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "toy.toml"
    config.write_text(
        '[backend]\nname = "toy"\ntemperature = 0.5\n'
        '[method]\nname = "toy-scorer"\nbonus = 3\n'
        '[strategy]\nname = "single"\n'
    )
    assert main(["config", "check", str(config)]) == 0
    assert "backend toy, method toy-scorer" in capsys.readouterr().out
    assert main(["config", "show", "--config", str(config)]) == 0
    shown = capsys.readouterr().out
    assert "bonus = 3" in shown and "temperature = 0.5" in shown and "lanes = 1" in shown
    table = options_table()
    assert "| `[method]` | toy-scorer | `bonus` | int | `1` | >= 0 | yes |" in table
    assert "| `[backend]` | toy | `temperature` |" in table

    cfg = PipelineConfig.from_file(config)
    assert effective(cfg)["method"]["bonus"] == 3
    reranker = cfg.build()
    assert answer_identity(reranker.backend)["params"] == {"temperature": 0.5}
    ranking = reranker.rerank("apples", ["apples and pears", "a b c d e f g", "x"])
    assert ranking.docids == ["1", "0", "2"]  # 7 words; 3 words + bonus 3; 1 word
    assert check_trace(ranking.trace).ok  # one call per candidate, as declared

    bad = tmp_path / "bad.toml"
    bad.write_text('[method]\nname = "toy-scorer"\nbonus = "lots"\n')
    assert main(["config", "check", str(bad)]) == 2
    assert "option 'bonus' of method toy-scorer must be int" in capsys.readouterr().err
