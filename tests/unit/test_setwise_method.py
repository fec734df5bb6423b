"""The setwise method: one passage label per block, by generation or by label logits."""

from __future__ import annotations

import random
import re

import pytest

from listrank import Reranker
from listrank.backends.base import GenerationRequest, LogprobRequest
from listrank.backends.fake import FakeBackend
from listrank.errors import CapabilityError, ConfigError
from listrank.methods.setwise import SetwiseMethod, first_label
from listrank.types import Candidate, Query
from tests.support.reference_setwise import ReferenceHeapsort

N, K = 30, 5
GRADES = {f"d{i}": random.Random(i).random() for i in range(N)}
CANDIDATES = [Candidate(docid=d, text=f"doc {d}") for d in GRADES]
TRUTH = sorted(GRADES, key=lambda d: -GRADES[d])
_SETWISE = re.compile(r'Passage ([A-Z]): "doc (\S+)"')
_LISTWISE = re.compile(r"^\[(\d+)\] doc (\S+)$", re.MULTILINE)


def scripted(request: GenerationRequest) -> str:
    """A judge that knows the grades and answers whichever prompt it is shown."""
    text = request.messages[-1]["content"]
    if labelled := _SETWISE.findall(text):
        return " " + max(labelled, key=lambda ld: GRADES[ld[1]])[0]
    numbered = sorted(_LISTWISE.findall(text), key=lambda nd: -GRADES[nd[1]])
    return " > ".join(f"[{num}]" for num, _ in numbered)


def scripted_logprobs(request: LogprobRequest) -> dict[str, float]:
    labelled = dict(_SETWISE.findall(request.messages[-1]["content"]))
    return {t: GRADES[labelled[t.strip()]] - 2.0 for t in request.tokens}


def test_first_label() -> None:
    assert first_label(" B", 4) == (1, 0)
    assert first_label(" Passage C is best", 4) == (2, 0)
    assert first_label(" Z, no: B", 4) == (1, 1)
    assert first_label(" none of them", 4) == (None, 0)
    assert first_label("Apple", 4) == (None, 0)  # a capital inside a word is no label


def test_prompt_is_the_papers() -> None:
    backend = FakeBackend(["B"])
    method = SetwiseMethod(backend)
    method.judge(Query("what is x"), [CANDIDATES[:3]])
    (request,) = backend.history
    assert isinstance(request, GenerationRequest)
    text = request.messages[-1]["content"]
    assert text.startswith('Given a query "what is x", which of the following passages is the')
    assert 'Passage A: "doc d0"\n\nPassage B: "doc d1"' in text
    assert text.endswith("Output only the passage label of the most relevant passage:")
    assert request.assistant_prefix == "Passage"


def test_generation_winner_first_losers_in_input_order_and_filled() -> None:
    method = SetwiseMethod(FakeBackend([" C", "no idea", " F"]))
    good, bad, out = method.judge(Query("q"), [CANDIDATES[:4]] * 3)
    assert good.order == (2, 0, 1, 3) and good.filled == {0, 1, 3}
    assert not good.record.repair.repaired and good.record.completion_tokens == 1
    # no label: input order, nothing counts as a win, counted as malformed
    assert bad.order == (0, 1, 2, 3) and bad.filled == {0, 1, 2, 3}
    assert bad.record.repair.malformed
    assert out.order == (0, 1, 2, 3) and out.record.repair.out_of_range == 1


def test_likelihood_reads_the_label_tokens_after_the_prefix() -> None:
    backend = FakeBackend(logprob_responder=scripted_logprobs)
    (j,) = SetwiseMethod(backend, scoring="likelihood").judge(Query("q"), [CANDIDATES[:4]])
    (request,) = backend.history
    assert isinstance(request, LogprobRequest)
    assert list(request.tokens) == [" A", " B", " C", " D"]
    assert j.order == tuple(sorted(range(4), key=lambda i: -GRADES[f"d{i}"]))
    assert j.scores is not None and not j.filled and j.record.completion_tokens == 0


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="scoring"):
        SetwiseMethod(FakeBackend(), scoring="votes")
    with pytest.raises(ConfigError, match="at most 26"):
        SetwiseMethod(FakeBackend([])).judge(Query("q"), [[*CANDIDATES, *CANDIDATES[:1]]])

    class GenerateOnly:
        name, model_name, context_length = "gen", "m", 1000

        def count_tokens(self, text: str) -> int:
            return 1

        def count_prompt_tokens(self, messages: object, assistant_prefix: str = "") -> int:
            return 1

        def generate(self, requests: object) -> list[object]:
            return []

    with pytest.raises(CapabilityError, match="next_token_logprobs"):
        SetwiseMethod(GenerateOnly(), scoring="likelihood")


@pytest.mark.parametrize("children", [3, 9])
def test_scripted_judge_same_top_k_as_full_ranking_fewer_output_tokens(children: int) -> None:
    runs = {}
    for label, method, template in [
        ("setwise", "setwise", "setwise"),
        ("full ranking", "rankgpt", "rankgpt_single"),
    ]:
        reranker = Reranker(
            backend=FakeBackend(responder=scripted),
            method=method,
            strategy="setwise",
            template=template,
            children=children,
            top_k=K,
        )
        runs[label] = reranker.rerank("q", CANDIDATES)
    setwise, full = runs["setwise"], runs["full ranking"]
    assert setwise.docids[:K] == full.docids[:K] == TRUTH[:K]
    assert setwise.trace.completion_tokens < full.trace.completion_tokens / 3
    assert all(c.completion_tokens == 1 for c in setwise.trace.calls)
    # the same heap questions as the paper's heapsort, none after the k-th item is out
    reference = ReferenceHeapsort([GRADES[c.docid] for c in CANDIDATES], children)
    assert [CANDIDATES[i].docid for i in reference.top(N, K)] == TRUTH[:K]
    assert len(setwise.trace.calls) == len(full.trace.calls) == len(reference.blocks)


def test_likelihood_with_the_setwise_strategy() -> None:
    reranker = Reranker(
        backend=FakeBackend(logprob_responder=scripted_logprobs),
        method="setwise",
        strategy="setwise",
        scoring="likelihood",
        top_k=K,
    )
    ranking = reranker.rerank("q", CANDIDATES)
    assert ranking.docids[:K] == TRUTH[:K]
    assert ranking.trace.completion_tokens == 0


def test_likelihood_can_be_calibrated_generation_cannot() -> None:
    backend = FakeBackend(["B"], logprob_responder=scripted_logprobs)
    with pytest.raises(ConfigError, match="calibration needs a method that scores"):
        Reranker(backend=backend, method="setwise", strategy="setwise", calibrate=True)
    reranker = Reranker(
        backend=backend, method="setwise", strategy="setwise", scoring="likelihood", calibrate=True
    )
    assert reranker.method.name == "setwise+calibrated"
