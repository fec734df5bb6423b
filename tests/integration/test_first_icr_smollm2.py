"""FIRST and ICR on the real embedded SmolLM2, on a small block."""

from __future__ import annotations

import pytest

from listrank import Reranker
from listrank.backends.hf import HFBackend
from listrank.types import Candidate

pytestmark = pytest.mark.integration

CANDIDATES = [
    Candidate("paris", "Paris is the capital and largest city of France."),
    Candidate("bread", "Sourdough bread is leavened with wild yeast and bacteria."),
    Candidate("berlin", "Berlin is the capital of Germany."),
    Candidate("tides", "Tides are caused by the gravity of the Moon and the Sun."),
    Candidate("lyon", "Lyon is a large city in France, known for its food."),
]


@pytest.fixture(scope="module")
def smollm2() -> HFBackend:
    return HFBackend()


@pytest.mark.parametrize("method", ["first", "icr"])
def test_method_on_the_embedded_model(smollm2: HFBackend, method: str) -> None:
    reranker = Reranker(smollm2, method=method, strategy="single")
    ranking = reranker.rerank("What is the capital of France?", CANDIDATES)
    assert sorted(ranking.docids) == sorted(c.docid for c in CANDIDATES)
    (call,) = ranking.trace.calls
    assert call.scores is not None and len(call.scores) == len(CANDIDATES)
    assert call.prompt_tokens > 50 and call.latency_s > 0
    if method == "first":
        assert call.extra["missing_identifiers"] == []
