"""The setwise method with its own prompt on the real embedded SmolLM2: one label generated,
and the label logits read, on a small block and through the setwise heap."""

from __future__ import annotations

import pytest

from listrank import Reranker
from listrank.backends.hf import HFBackend
from listrank.methods.setwise import SetwiseMethod
from listrank.types import Candidate, Query

pytestmark = pytest.mark.integration

CANDIDATES = [
    Candidate("bread", "Sourdough bread is leavened with wild yeast and bacteria."),
    Candidate("paris", "Paris is the capital and largest city of France."),
    Candidate("tides", "Tides are caused by the gravity of the Moon and the Sun."),
    Candidate("berlin", "Berlin is the capital of Germany."),
    Candidate("lyon", "Lyon is a large city in France, known for its food."),
    Candidate("rome", "Rome is the capital city of Italy."),
    Candidate("snow", "Snow forms when water vapour freezes in clouds."),
]
QUERY = "What is the capital of France?"


@pytest.fixture(scope="module")
def smollm2() -> HFBackend:
    return HFBackend()


def test_generation_and_likelihood_read_the_same_answer(smollm2: HFBackend) -> None:
    block = [CANDIDATES[:4]]
    (gen,) = SetwiseMethod(smollm2).judge(Query(QUERY), block)
    (lik,) = SetwiseMethod(smollm2, scoring="likelihood").judge(Query(QUERY), block)
    # generation: a label was read (the model answered in the asked format), only it counts
    assert sorted(gen.order) == [0, 1, 2, 3]
    assert 1 <= gen.record.completion_tokens <= 4
    assert not gen.record.repair.malformed, gen.record.output
    assert gen.filled == frozenset(set(range(4)) - {gen.order[0]})
    # likelihood: every label scored (log-probabilities), the order follows the scores
    assert lik.scores is not None and all(s < 0 for s in lik.scores)
    assert not lik.filled and lik.record.completion_tokens == 0
    assert list(lik.order) == sorted(range(4), key=lambda i: -lik.scores[i])  # type: ignore[index]
    # greedy decoding's first token is the arg-max the label logits rank first
    assert gen.record.output.lstrip()[0] == "ABCD"[lik.order[0]]
    assert gen.order[0] == lik.order[0]


@pytest.mark.parametrize("scoring", ["generation", "likelihood"])
def test_setwise_heap_on_the_embedded_model(smollm2: HFBackend, scoring: str) -> None:
    reranker = Reranker(
        smollm2, method="setwise", strategy="setwise", scoring=scoring, children=3, top_k=2
    )
    ranking = reranker.rerank(QUERY, CANDIDATES)
    assert sorted(ranking.docids) == sorted(c.docid for c in CANDIDATES)
    assert ranking.trace.plan is not None
    assert len(ranking.trace.calls) <= ranking.trace.plan.calls
    assert all(len(c.docids) <= 4 for c in ranking.trace.calls)
