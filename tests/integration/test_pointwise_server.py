"""Pointwise scores from the llama.cpp server (logprobs over the OpenAI API) against the
in-process transformers backend, on the embedded SmolLM2 and real DL19 passages.

Both load the same Q4_1 weights; transformers dequantizes them to fp32 while llama.cpp
multiplies quantized blocks, so each label's log-probability differs by a few hundredths of a
nat (see test_openai_server.py) and P(yes)/(P(yes)+P(no)), whose slope in the logprob
difference is at most 1/4, by about a hundredth."""

from __future__ import annotations

import json
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

RUN = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "data"
    / "trec-dl19-passage"
    / "dl19.bm25.top100.normalized.jsonl"
)
N_QUERIES, N_CANDIDATES, WORDS = 3, 5, 30
SCORE_TOLERANCE = 0.03
"""Twice the largest gap seen between the two backends' scores."""


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


@pytest.mark.parametrize("template", ["pointwise", "qwen3_reranker"])
def test_api_scores_match_the_hf_backend(
    server: llama_server.LlamaServer, rows: list[dict[str, Any]], template: str
) -> None:
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
    gaps = []
    for row in rows:
        query = Query(row["query"], str(row["qid"]))
        blocks = [[Candidate(str(c["docid"]), c["text"])] for c in row["candidates"][:N_CANDIDATES]]
        for a, b in zip(served.judge(query, blocks), local.judge(query, blocks), strict=True):
            assert a.scores is not None and b.scores is not None
            assert a.record.prompt_tokens == b.record.prompt_tokens  # the same prompt
            gaps.append(abs(a.scores[0] - b.scores[0]))
    assert max(gaps) < SCORE_TOLERANCE, gaps
