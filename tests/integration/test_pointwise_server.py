"""Pointwise scores from the llama.cpp server (logprobs over the OpenAI API) against the
in-process transformers backend, on the embedded SmolLM2 and real DL19 passages.

Both load the same Q4_1 weights; transformers dequantizes them to fp32 while llama.cpp
multiplies quantized blocks, so each label's log-probability differs by a few hundredths of a
nat and up to 0.16 (see test_openai_server.py), and P(Yes)/(P(Yes)+P(No)), whose slope in
the logprob difference is at most 1/4, by up to about 0.04.

Over the API a score needs both labels in the server's top 20, and llama.cpp reports logprobs
without the logit_bias that would put them there: a pair with a label missing is unscored
(NaN, counted), never guessed. SmolLM2 answers the generic question with "Yes"/"No" high in
its top 20, so that template is compared here; under the Qwen3-Reranker format it puts
neither "yes" nor "no" in its top 20 (a format it was not trained on), so those pairs come
back unscored over llama.cpp and that template is compared on vLLM (test-vllm) instead."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import llama_server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.server,
    pytest.mark.skipif(
        not llama_server.llama_cpp_available(),
        reason="llama-cpp-python[server] is not installed in this venv "
        "(scripts/build_llama_server.sh <venv> installs it)",
    ),
]

RUN = next(
    (
        parent / "shared" / "data" / "trec-dl19-passage" / "dl19.bm25.top100.normalized.jsonl"
        for parent in Path(__file__).resolve().parents
        if (parent / "shared" / "data").is_dir()
    ),
    Path("shared/data/trec-dl19-passage/dl19.bm25.top100.normalized.jsonl"),
)
N_QUERIES, N_CANDIDATES, WORDS = 3, 5, 30
SCORE_TOLERANCE = 0.08
"""Twice the largest gap seen between the two backends' scores (0.04)."""


@pytest.fixture(scope="module")
def server() -> Iterator[llama_server.LlamaServer]:
    srv = llama_server.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    if not RUN.exists():
        pytest.skip(f"test collection not found at {RUN.resolve()}")
    with RUN.open() as f:
        return [json.loads(line) for _, line in zip(range(N_QUERIES), f, strict=False)]


def test_api_scores_match_the_hf_backend(
    server: llama_server.LlamaServer, rows: list[dict[str, Any]]
) -> None:
    template = "pointwise"
    from listrank.backends.hf import HFBackend
    from listrank.backends.openai import OpenAIBackend
    from listrank.methods.pointwise import PointwiseMethod
    from listrank.types import Candidate, Query

    api = OpenAIBackend(
        llama_server.ALIAS,
        base_url=server.url,
        tokenizer="hf:embedded",
        use_completions=True,
        context_length=8192,
        timeout=300.0,
        extra_body={"repeat_penalty": 1.0},
    )
    hf = HFBackend(context_length=8192)
    served = PointwiseMethod(api, template=template, max_passage_words=WORDS)
    local = PointwiseMethod(hf, template=template, max_passage_words=WORDS)
    gaps, unscored = [], 0
    for row in rows:
        query = Query(row["query"], str(row["qid"]))
        blocks = [[Candidate(str(c["docid"]), c["text"])] for c in row["candidates"][:N_CANDIDATES]]
        for a, b in zip(served.judge(query, blocks), local.judge(query, blocks), strict=True):
            assert a.scores is not None and b.scores is not None
            assert a.record.prompt_tokens == b.record.prompt_tokens  # the same prompt
            assert not math.isnan(b.scores[0])  # hf reads every label from the full logits
            if math.isnan(a.scores[0]):
                unscored += 1
                assert a.filled == frozenset({0}) and a.record.extra["unscored"]
                continue
            gaps.append(abs(a.scores[0] - b.scores[0]))
    assert len(gaps) >= len(rows) * N_CANDIDATES // 2, f"only {len(gaps)} pairs scored"
    assert max(gaps) < SCORE_TOLERANCE, gaps
