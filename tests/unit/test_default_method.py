"""The default method follows the model: ICR on the embedded SmolLM2 (which cannot follow
RankGPT's answer format), RankGPT on a named model; a method once named stays named."""

from __future__ import annotations

from listrank import Reranker
from listrank.pipeline.config import PipelineConfig


def test_the_embedded_model_defaults_to_icr_and_a_named_model_to_rankgpt() -> None:
    assert PipelineConfig().method.name == "icr"
    assert PipelineConfig().with_overrides(model="some/model").method.name == "rankgpt"
    assert PipelineConfig().with_overrides(backend="openai").method.name == "rankgpt"
    assert PipelineConfig.from_dict({"backend": {"model": "m"}}).method.name == "rankgpt"
    assert PipelineConfig.from_dict({"method": {"max_passage_words": 50}}).method.name == "icr"


def test_a_named_method_does_not_follow_the_model() -> None:
    named = PipelineConfig().with_overrides(method="icr").with_overrides(model="some/model")
    assert named.method.name == "icr"
    from_file = PipelineConfig.from_dict({"method": {"name": "first"}})
    assert from_file.with_overrides(model="some/model").method.name == "first"
    assert PipelineConfig().with_overrides(method="setwise").method.name == "setwise"


def test_the_default_follows_a_model_given_after_the_options() -> None:
    cfg = PipelineConfig.from_dict({"method": {"max_passage_words": 50}})
    moved = cfg.with_overrides(model="some/model")
    assert moved.method.name == "rankgpt" and moved.method.options == {"max_passage_words": 50}


def test_python_defaults_match() -> None:
    assert Reranker("fake").method.name == "rankgpt"  # a backend that is not the embedded model
