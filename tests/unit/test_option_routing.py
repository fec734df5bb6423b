"""Options reach only the layer they are meant for: a config section's option goes to its own
component, a flat keyword two layers in use both take is an error naming both, and
``strategy_seed=`` names the layer (before, ``[strategy] seed`` also set the backend's seed)."""

from __future__ import annotations

import pytest

from listrank import Reranker
from listrank.errors import ConfigError
from listrank.pipeline.config import PipelineConfig

LOOPBACK = "http://127.0.0.1:9/v1"  # never contacted: building the backend sends nothing


def test_an_ambiguous_flat_option_names_both_layers() -> None:
    with pytest.raises(ConfigError) as err:
        Reranker(backend="openai", model="m", base_url=LOOPBACK, strategy="jointrank", seed=3)
    message = str(err.value)
    assert "backend openai and strategy jointrank both take it" in message
    assert "strategy_seed=" in message and "[strategy] seed" in message


def test_a_qualified_flat_option_reaches_only_its_layer() -> None:
    reranker = Reranker(
        backend="openai", model="m", base_url=LOOPBACK, strategy="jointrank", strategy_seed=3
    )
    assert reranker.strategy.seed == 3  # type: ignore[attr-defined]
    assert reranker.backend.seed == 0  # type: ignore[attr-defined]


def test_a_sectioned_option_reaches_only_its_section() -> None:
    cfg = PipelineConfig.from_dict(
        {
            "backend": {"name": "openai", "model": "m", "base_url": LOOPBACK},
            "strategy": {"name": "jointrank", "seed": 3},
        }
    )
    reranker = cfg.build()
    assert reranker.strategy.seed == 3  # type: ignore[attr-defined]
    assert reranker.backend.seed == 0  # type: ignore[attr-defined]  # not the strategy's
    cfg = PipelineConfig.from_dict(
        {
            "backend": {"name": "openai", "model": "m", "base_url": LOOPBACK, "seed": 7},
            "strategy": {"name": "jointrank"},
        }
    )
    reranker = cfg.build()
    assert reranker.backend.seed == 7 and reranker.strategy.seed == 0  # type: ignore[attr-defined]


def test_an_option_in_the_wrong_section_names_the_right_one() -> None:
    cfg = PipelineConfig.from_dict({"strategy": {"name": "sliding", "batch_size": 4}})
    with pytest.raises(ConfigError, match=r"backend hf takes it: put it under \[backend\]"):
        cfg.build()
