"""A planning build (``Reranker.planning``, what ``listrank plan`` builds) plans exactly as the
real Reranker: the same calls, depth and prompt tokens, on every backend and method; its
backend runs no model call."""

from __future__ import annotations

from pathlib import Path

import pytest

from listrank import Reranker
from listrank.errors import BackendError, ConfigError
from listrank.pipeline.config import PipelineConfig
from listrank.strategies.planning import placeholder_candidates
from listrank.types import Query

QUERY = "what does a planning tokenizer count"
CASES = [
    ("icr", "sliding", {}),
    ("first", "sliding", {"window": 10, "step": 5}),
    ("rankgpt", "tdpart", {}),
    ("setwise", "setwise", {}),
    ("pointwise", "pointwise", {}),
    ("first", "sliding", {"calibrate": True}),
    ("rankgpt", "sliding", {"permutations": 2, "max_passage_words": 30}),
]


@pytest.mark.parametrize(("method", "strategy", "options"), CASES)
def test_plans_equal_the_real_rerankers(
    tiny_model_dir: Path, method: str, strategy: str, options: dict[str, object]
) -> None:
    cands = placeholder_candidates(40, 60)
    args = {"model": str(tiny_model_dir), "method": method, "strategy": strategy}
    real = Reranker(**args, device="cpu", **options).plan(40, QUERY, cands)
    planned = Reranker.planning(**args, device="cpu", **options).plan(40, QUERY, cands)
    assert planned == real
    assert planned.prompt_tokens > 0


def test_openai_plans_equal_without_the_sdk_or_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    cands = placeholder_candidates(30, 80)
    for tokenizer in (None, "estimate", "hf:embedded"):
        args = {"model": "gpt-4o-mini", "tokenizer": tokenizer}
        real = Reranker("openai", **args, api_key="sk-test").plan(30, QUERY, cands)
        assert Reranker.planning("openai", **args).plan(30, QUERY, cands) == real


def test_the_stand_in_refuses_model_calls(tiny_model_dir: Path) -> None:
    reranker = Reranker.planning(model=str(tiny_model_dir), method="first")
    with pytest.raises(BackendError, match="planning stand-in"):
        reranker.rerank(Query("q"), placeholder_candidates(3, 5))
    assert getattr(reranker.backend, "planning", False)


def test_a_stand_in_keeps_the_backends_capabilities_and_errors(tiny_model_dir: Path) -> None:
    from listrank.errors import CapabilityError

    with pytest.raises(CapabilityError, match="attention"):
        Reranker.planning("openai", model="gpt-4o-mini", method="icr")
    with pytest.raises(CapabilityError, match="attention"):
        Reranker.planning("vllm", model=str(tiny_model_dir), method="icr")
    with pytest.raises(ConfigError, match="needs model"):
        Reranker.planning("openai")


def test_a_planning_build_counts_only_the_prefilters_cut_off(tiny_model_dir: Path) -> None:
    cfg = PipelineConfig.from_dict(
        {
            "backend": {"model": str(tiny_model_dir)},
            "method": {"name": "rankgpt"},
            "prefilter": {"type": "cross-encoder", "model": "no/such-model", "k": 20},
        }
    )
    reranker = cfg.build(planning=True)
    assert reranker.plan(100).n == 20
    with pytest.raises(ConfigError, match="prefilter"):
        PipelineConfig.from_dict(
            {"prefilter": {"type": "cross-encoder", "model": "m", "k": 0}}
        ).build(planning=True)


def test_an_llm_prefilter_on_its_own_backend_is_planned_too(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    cfg = PipelineConfig.from_dict(
        {
            "backend": {"model": str(tiny_model_dir)},
            "method": {"name": "rankgpt"},
            "prefilter": {
                "type": "llm",
                "k": 20,
                "backend": "openai",
                "model": "served-smollm2",
                "tokenizer": "hf:embedded",  # pointwise reads token ids: the served model's
            },
        }
    )
    plan = cfg.build(planning=True).plan(60, QUERY, placeholder_candidates(60, 40))
    assert [p.strategy for p in plan.parts] == ["pointwise", "sliding"]
    assert [p.n for p in plan.parts] == [60, 20]
    assert plan.prompt_tokens > 0


def test_a_hub_name_is_read_from_the_hugging_face_cache(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub cache's layout: models--org--name/refs/main names the snapshot folder."""
    import shutil

    from listrank.backends.model_path import hub_folder

    repo = tmp_path / "hub" / "models--org--tiny"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert hub_folder("org/tiny") == repo / "snapshots" / "abc123"
    assert hub_folder("org/absent") is None
    cands = placeholder_candidates(30, 50)
    real = Reranker(model=str(tiny_model_dir), method="first", device="cpu")
    planned = Reranker.planning(model="org/tiny", method="first")
    assert planned.backend.model_name == "org/tiny"
    assert planned.plan(30, QUERY, cands) == real.plan(30, QUERY, cands)
