"""Passages in scripts written without spaces (Chinese, Japanese, Thai) shrink to fit the
context like any other text: budgets count script-aware words and the model's tokens."""

from __future__ import annotations

import pytest

from listrank.backends.apitokens import EstimateCounter
from listrank.pipeline.reranker import Reranker
from listrank.prompting.budget import count_words, passage_text, truncate_words
from listrank.types import Candidate
from tests.support.cjk_passages import PASSAGES, QUERY


def test_unspaced_text_has_one_word_per_character() -> None:
    assert count_words("東京は日本") == 5
    assert truncate_words("東京は日本の首都です", 4) == "東京は日"
    assert truncate_words("two words and more", 2) == "two words"  # spaced text as before
    assert truncate_words("東京 Tokyo 日本", 3) == "東京 Tokyo"
    assert count_words("x" * 100) > 1  # a space-free run in any script can shrink
    # a cut never separates a character from its combining marks
    assert count_words("กิกิกิ") == 3  # Thai: base + vowel mark, three times
    assert truncate_words("กิกิกิ", 2) == "กิกิ"


def test_the_api_estimate_counts_unspaced_scripts_per_character() -> None:
    est = EstimateCounter()
    assert est.count("东京是日本的首都") >= 8  # not a quarter token per character
    assert est.count("a" * 35) == 10


@pytest.mark.parametrize("context", [2000])
def test_twenty_cjk_passages_rerank_with_correct_shrinking(tiny_hf: object, context: int) -> None:
    backend = tiny_hf.__class__.__new__(tiny_hf.__class__)  # type: ignore[call-overload]
    backend.__dict__.update(tiny_hf.__dict__)
    backend._context_length = context  # type: ignore[attr-defined]
    reranker = Reranker(backend=backend, strategy="single", window=20)
    cands = [Candidate(docid=f"d{i}", text=t) for i, t in enumerate(PASSAGES)]
    ranking = reranker.rerank(QUERY, cands)
    assert sorted(r.candidate.docid for r in ranking.ranked) == sorted(c.docid for c in cands)
    (call,) = ranking.trace.calls
    assert call.prompt_tokens <= context
    prompt = "".join(m["content"] for m in call.messages or ())
    # every passage is in the prompt, as a non-empty prefix of its own text
    shown = [p for p in PASSAGES if passage_text(Candidate("x", p))[:3] in prompt]
    assert len(shown) == 20
    full = sum(1 for p in PASSAGES if p in prompt)
    assert full < 20  # it really had to shrink
