"""The answer budget: a complete ranking always fits, counted with the model's own tokenizer or
bounded without one; answers cut at the budget are counted as truncated."""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from listrank.evaluation.summary import RunSummary
from listrank.prompting.budget import answer_budget, answer_token_bound
from listrank.prompting.templates import identifiers_for
from listrank.testing import embedded_tokenizer

Count = Callable[[str], int]


def _tiktoken(name: str) -> Count | None:
    import tiktoken

    for candidate in (f"{name}_offline", name):
        try:
            enc = tiktoken.get_encoding(candidate)
        except Exception:  # the BPE file is not available offline
            continue
        return lambda s: len(enc.encode(s))
    return None


@pytest.fixture(scope="module")
def smol() -> Any:
    return embedded_tokenizer()


def _counter(name: str, smol: Any) -> Count:
    if name == "smollm2":
        return lambda s: len(smol.encode(s, add_special_tokens=False))
    count = _tiktoken(name)
    if count is None:
        pytest.skip(f"tiktoken encoding {name} is not available offline")
    return count


def _answers(ids: list[str], rng: random.Random) -> Iterator[str]:
    yield " > ".join(f"[{i}]" for i in ids)
    yield " > ".join(f"[{i}]" for i in reversed(ids))
    for _ in range(6):
        perm = ids[:]
        rng.shuffle(perm)
        yield " > ".join(f"[{i}]" for i in perm)
        yield ">".join(f"[{i}]" for i in perm)
        yield ", ".join(f"[{i}]" for i in perm)


@pytest.mark.parametrize("tokenizer", ["smollm2", "cl100k_base", "o200k_base"])
@pytest.mark.parametrize("scheme", ["numeric", "alpha"])
def test_tokenizer_free_bound_holds(tokenizer: str, scheme: str, smol: Any) -> None:
    count = _counter(tokenizer, smol)
    rng = random.Random(0)
    top = 100 if scheme == "numeric" else len(string.ascii_uppercase)
    for n in range(2, top + 1):
        ids = identifiers_for(scheme, n)
        bound = answer_token_bound(ids)
        exact = answer_budget(ids, count)
        for answer in _answers(ids, rng):
            used = count(answer)
            assert used <= bound, (n, answer)
            assert used <= exact, (n, answer)


def test_twenty_passage_bound_exceeds_measured_answers(smol: Any) -> None:
    ids = identifiers_for("numeric", 20)
    # the old estimate (ceil(chars / 3.5) + 8) sent 45; the full answer is 79-90 tokens
    assert answer_token_bound(ids) >= 90
    assert answer_budget(ids, lambda s: len(smol.encode(s, add_special_tokens=False))) >= 90


# -- a server that enforces max_tokens ------------------------------------------------------

openai = pytest.importorskip("openai")

from listrank.pipeline.reranker import Reranker  # noqa: E402
from listrank.types import Candidate, Ranking  # noqa: E402
from tests.support.fake_openai import FakeOpenAIServer  # noqa: E402


def _pieces(smol: Any) -> Callable[[str], list[str]]:
    def split(text: str) -> list[str]:
        return [smol.decode([i]) for i in smol.encode(text, add_special_tokens=False)]

    return split


def _rerank(srv: FakeOpenAIServer, **options: Any) -> tuple[RunSummary, Ranking]:
    # a model name tiktoken does not know: the backend can only estimate its tokens
    reranker = Reranker(
        backend="openai",
        model="local-gguf-model",
        base_url=srv.url,
        api_key="sk-test",
        window=20,
        step=10,
        **options,
    )
    cands = [Candidate(docid=f"d{i}", text=f"passage number {i}") for i in range(40)]
    ranking = reranker.rerank("what is a query", cands)
    summary = RunSummary()
    summary.add(ranking)
    return summary, ranking


def test_loopback_server_enforcing_max_tokens_returns_full_permutations(smol: Any) -> None:
    with FakeOpenAIServer(answer_tokens=_pieces(smol)) as srv:
        summary, ranking = _rerank(srv)
        budgets = [int(s.body["max_tokens"]) for s in srv.requests]
    assert summary.calls == 3
    assert all(b >= 90 for b in budgets), budgets
    assert summary.truncated == 0 and summary.missing_ids == 0 and summary.repaired == 0
    for call in ranking.trace.calls:
        assert call.repair.missing == 0 and not call.repair.truncated


def test_forced_tiny_budget_is_counted_as_truncated(smol: Any) -> None:
    with FakeOpenAIServer(answer_tokens=_pieces(smol)) as srv:
        summary, ranking = _rerank(srv, max_new_tokens=45)
    assert summary.truncated == 3
    assert summary.as_dict()["truncated_outputs"] == 3
    assert "cut at the answer budget 3" in summary.format()
    assert all(c.repair.truncated and c.repair.missing > 0 for c in ranking.trace.calls)


def test_hf_backend_reports_answers_stopped_by_the_budget() -> None:
    pytest.importorskip("torch")
    from listrank.backends.base import GenerationRequest
    from listrank.testing import tiny_backend

    backend = tiny_backend("llama")
    msgs = [{"role": "user", "content": "rank [1] a [2] b"}]
    short, longer = backend.generate(
        [GenerationRequest(msgs, 2), GenerationRequest(msgs, 40)]  # type: ignore[list-item]
    )
    # a random tiny model rarely ends by itself: two tokens is always a cut answer
    assert short.truncated and short.completion_tokens == 2
    assert longer.truncated == (longer.completion_tokens >= 40)
