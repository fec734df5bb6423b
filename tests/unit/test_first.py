"""FIRST single-token scoring: order from identifier logits, top-k gaps, NaNs, ties, batching."""

from __future__ import annotations

import math
import re

import pytest
import torch

from listrank import Reranker
from listrank.backends.base import LogprobRequest
from listrank.backends.fake import FakeBackend
from listrank.backends.hf import HFBackend
from listrank.errors import ConfigError, TemplateError
from listrank.methods.first import FirstMethod
from listrank.prompting.templates import PromptTemplate, load_template
from listrank.testing import tiny_backend
from listrank.types import Candidate, Query

QUERY = Query("which animals bark at night")


def _block(n: int, offset: int = 0) -> list[Candidate]:
    return [
        Candidate(f"d{offset + i}", f"doc{offset + i} text about animal {i} sound")
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def tiny() -> HFBackend:
    return tiny_backend("llama")


def test_order_equals_argsort_of_reference_logits(tiny: HFBackend) -> None:
    method = FirstMethod(tiny)
    blocks = [_block(7), _block(4, offset=10)]  # different lengths: padded in one batch
    judgements = method.judge(QUERY, blocks)
    template = load_template("first_alpha")
    for block, judgement in zip(blocks, judgements, strict=True):
        prompt = template.render(QUERY.text, [c.text for c in block])
        text = tiny.prompt_text(prompt.messages, prompt.assistant_prefix)
        ids = tiny.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = tiny.model(ids).logits[0, -1]
        letter_ids = [tiny.token_ids(letter)[0] for letter in prompt.identifiers]
        reference = logits[letter_ids]
        expected = sorted(range(len(block)), key=lambda i: -float(reference[i]))
        assert list(judgement.order) == expected
        assert judgement.scores is not None
        logprobs = torch.log_softmax(logits, -1)[letter_ids]
        assert judgement.scores == pytest.approx(logprobs.tolist(), abs=1e-4)
        assert judgement.filled == frozenset()
        assert judgement.record.prompt_tokens == ids.shape[1]


def test_multi_token_identifiers_are_rejected_with_their_ids(tiny: HFBackend) -> None:
    numeric = PromptTemplate.from_dict(
        {
            "name": "first_numeric",
            "methods": ["first"],
            "identifiers": "numeric",
            "answer_prefix": "[",
            "messages": [{"role": "user", "content": "{passages}\nQuery: {query}. Rank."}],
        }
    )
    with pytest.raises(TemplateError) as info:
        FirstMethod(tiny, template=numeric, max_block=12)
    message = str(info.value)
    assert "'10' -> " + str(tiny.token_ids("10")) in message
    assert "'12'" in message and "'9'" not in message
    # single-digit identifiers are single tokens for this tokenizer: accepted
    assert FirstMethod(tiny, template=numeric, max_block=9).max_block_size == 9


def test_alpha_blocks_over_26_are_refused() -> None:
    fake = FakeBackend(logprob_responder=lambda r: {})
    with pytest.raises(ConfigError, match="between 2 and 26"):
        FirstMethod(fake, max_block=27)
    with pytest.raises(ConfigError, match="at most 26 candidates"):
        FirstMethod(fake).judge(QUERY, [_block(27)])


def test_template_for_another_method_is_refused() -> None:
    with pytest.raises(ConfigError, match="not for FIRST"):
        FirstMethod(FakeBackend(), template="rankgpt")


def test_identifiers_missing_from_top_k_go_last_in_input_order() -> None:
    fake = FakeBackend(logprob_responder=lambda r: {"C": -0.1, "A": -1.0})
    (judgement,) = FirstMethod(fake).judge(QUERY, [_block(5)])
    assert judgement.order == (2, 0, 1, 3, 4)
    assert judgement.filled == frozenset({1, 3, 4})
    assert judgement.record.extra["missing_identifiers"] == ["B", "D", "E"]
    assert judgement.scores is not None and judgement.scores[:1] == (-1.0,)
    assert all(math.isnan(judgement.scores[i]) for i in (1, 3, 4))


def test_nan_and_ties_are_deterministic_and_counted() -> None:
    scores = {"A": -1.0, "B": math.nan, "C": -1.0, "D": -0.5, "E": -1.0}
    fake = FakeBackend(logprob_responder=lambda r: dict(scores))
    (judgement,) = FirstMethod(fake).judge(QUERY, [_block(5)])
    # D best; A, C, E tie and keep input order; the NaN goes last
    assert judgement.order == (3, 0, 2, 4, 1)
    assert judgement.filled == frozenset({1})
    assert judgement.record.extra["nan_identifiers"] == ["B"]
    assert judgement.record.extra["ties"] == 2
    assert judgement.record.output == ""  # no generated text: the scores are the answer
    assert judgement.record.scores is not None and judgement.record.scores[3] == -0.5


def test_all_blocks_of_a_stage_go_in_one_backend_call() -> None:
    fake = FakeBackend(logprob_responder=lambda r: {t: -float(i) for i, t in enumerate(r.tokens)})
    judgements = FirstMethod(fake).judge(QUERY, [_block(3), _block(5), _block(2)])
    assert fake.batches == [3]
    assert [len(j.order) for j in judgements] == [3, 5, 2]
    request = fake.history[0]
    assert isinstance(request, LogprobRequest)
    assert request.assistant_prefix == "[" and list(request.tokens) == ["A", "B", "C"]


def _score_by_doc_number(request: LogprobRequest) -> dict[str, float]:
    """Higher doc number = more relevant, read from the prompt the method built."""
    text = request.messages[-1]["content"]
    found = dict(re.findall(r"\[([A-Z])\] doc(\d+)", text))
    return {ident: float(found[ident]) for ident in request.tokens}


@pytest.mark.parametrize(
    ("strategy", "options"), [("single", {}), ("sliding", {"window": 6, "step": 3})]
)
def test_reranker_with_strategies_returns_permutation_and_full_trace(
    strategy: str, options: dict[str, int]
) -> None:
    fake = FakeBackend(logprob_responder=_score_by_doc_number)
    reranker = Reranker(fake, method="first", strategy=strategy, **options)
    candidates = [Candidate(f"d{i}", f"doc{i} some text") for i in range(12)]
    ranking = reranker.rerank("query", candidates)
    assert sorted(ranking.docids) == sorted(c.docid for c in candidates)
    # single window sees all 12; a sliding sweep bubbles the best to the top
    assert ranking.docids[0] == "d11"
    if strategy == "single":
        assert ranking.docids == [f"d{i}" for i in range(11, -1, -1)]
    plan = reranker.strategy.plan(12)
    assert ranking.trace.n_calls == plan.calls
    for record in ranking.trace.calls:
        assert record.method == "first" and record.scores is not None
        assert len(record.scores) == len(record.docids)
        assert record.extra["missing_identifiers"] == []
