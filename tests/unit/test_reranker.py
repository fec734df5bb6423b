from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import listrank
from listrank import (
    Candidate,
    CapabilityError,
    ConfigError,
    InputError,
    PromptTooLongError,
    Reranker,
    UnknownComponentError,
)
from listrank.backends.base import GenerationRequest
from listrank.backends.fake import FakeBackend


def by_length(request: GenerationRequest) -> str:
    """A judge that prefers longer passages: ids from the prompt, ordered by text length."""
    found = re.findall(r"^\[(\d+)\] (.*)$", request.messages[-1]["content"], re.M)
    if not found:  # multi-turn template: one user turn per passage
        found = [
            (m.group(1), m.group(2))
            for msg in request.messages
            if (m := re.match(r"^\[(\d+)\] (.*)$", msg["content"], re.S))
        ]
    ranked = sorted(found, key=lambda f: -len(f[1]))
    return " > ".join(f"[{i}]" for i, _ in ranked)


def test_public_surface_is_sorted_and_importable() -> None:
    assert listrank.__all__ == sorted(listrank.__all__)
    for name in listrank.__all__:
        assert hasattr(listrank, name)


@pytest.mark.parametrize("template", ["rankgpt", "rankgpt_single"])
def test_sliding_window_orders_by_the_judge(template: str) -> None:
    texts = ["x" * (i * 7 % 23 + 1) for i in range(30)]
    backend = FakeBackend(responder=by_length)
    r = Reranker(backend=backend, template=template, window=10, step=5)
    ranking = r.rerank("q", texts)
    lengths = [len(c.candidate.text) for c in ranking.ranked]
    assert lengths[0] == max(lengths)
    assert sorted(ranking.docids) == sorted(str(i) for i in range(30))
    assert ranking.trace.n_calls == r.plan(30).calls == 5
    assert [c.stage for c in ranking.trace.calls] == [0, 1, 2, 3, 4]
    assert ranking.trace.calls[-1].extra["block"] == "positions 0-9"
    assert backend.batches == [1] * 5  # sliding windows are sequential


def test_repairs_reach_the_trace() -> None:
    backend = FakeBackend(["[2] > [2] > [7]", "no idea"])
    ranking = Reranker(backend=backend, window=3, step=2).rerank("q", ["a", "b", "c", "d"])
    first, second = ranking.trace.calls
    assert first.repair.duplicates == 1 and first.repair.out_of_range == 1
    assert second.repair.malformed
    assert ranking.trace.repaired_calls == 2 and ranking.trace.malformed_calls == 1
    assert sorted(ranking.docids) == ["0", "1", "2", "3"]


def test_candidates_as_objects_and_mappings() -> None:
    backend = FakeBackend(["[2] > [1]"])
    cands = [Candidate("d1", "one", score=3.0), {"docid": "d2", "text": "two"}]
    ranking = Reranker(backend=backend).rerank("q", cands)
    assert ranking.docids == ["d2", "d1"]
    assert [r.score for r in ranking.ranked] == [2.0, 1.0]


def test_empty_candidates_make_no_call() -> None:
    backend = FakeBackend()
    assert len(Reranker(backend=backend).rerank("q", [])) == 0
    assert backend.history == []


@pytest.mark.parametrize(
    ("query", "cands", "field"),
    [
        ("", ["a"], "query"),
        ("   ", ["a"], "query"),
        ("q", [Candidate("x", "a"), Candidate("x", "b")], "candidates"),
        ("q", [3], "candidates"),
        ("q", [{"docid": "a", "txt": "oops"}], "candidates"),
    ],
)
def test_bad_input_is_typed(query: str, cands: list[object], field: str) -> None:
    with pytest.raises(InputError) as err:
        Reranker(backend=FakeBackend(["[1]"])).rerank(query, cands)  # type: ignore[arg-type]
    assert err.value.field == field


def test_unknown_names_and_options() -> None:
    with pytest.raises(UnknownComponentError, match="sliding"):
        Reranker(backend=FakeBackend(), strategy="zigzag")
    with pytest.raises(UnknownComponentError, match="hf"):
        Reranker(backend="nope")
    with pytest.raises(ConfigError, match="unknown option 'windw'"):
        Reranker(backend=FakeBackend(), windw=3)


def test_missing_capability_names_backends_that_have_it() -> None:
    class LogprobsOnly:
        name = "logprobs-only"
        model_name = "m"
        context_length = 100

        def count_tokens(self, text: str) -> int:
            return 1

        def count_prompt_tokens(self, messages: object, assistant_prefix: str = "") -> int:
            return 1

    with pytest.raises(CapabilityError, match="hf"):
        Reranker(backend=LogprobsOnly())


def test_prompt_budget_shrinks_passages_then_fails_clearly() -> None:
    long = " ".join(["word"] * 400)
    backend = FakeBackend(["[1] > [2]"], context_length=700)
    ranking = Reranker(backend=backend, window=2).rerank("q", [long, long])
    assert ranking.trace.calls[0].prompt_tokens <= 700
    shown = backend.history[0].messages  # type: ignore[union-attr]
    assert sum(m["content"].count("word") for m in shown) < 800  # truncated from 300 words
    tiny = FakeBackend(["[1]"], context_length=60)
    with pytest.raises(PromptTooLongError, match="window"):
        Reranker(backend=tiny, window=2).rerank("q", [long, long])


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 45),
    window=st.integers(2, 12),
    outputs=st.lists(st.text(alphabet="[]0123456789> ab", max_size=40), max_size=50),
)
def test_no_candidate_is_ever_lost_or_duplicated(n: int, window: int, outputs: list[str]) -> None:
    backend = FakeBackend(outputs, responder=lambda r: "garbage")
    r = Reranker(backend=backend, window=window, step=max(1, window // 2))
    ranking = r.rerank("q", [f"passage {i}" for i in range(n)])
    assert sorted(ranking.docids, key=int) == [str(i) for i in range(n)]
