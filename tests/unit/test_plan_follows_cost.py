"""A run that follows its plan is never reported off plan: every method × {plain,
permutations=3, calibrate, both} × every strategy on a scripted backend, ``check_trace(...).ok``.
(Before, a wrapper's trace records, each standing for several calls, were compared with the
plan's calls: ``calls 5 (plan = 15) … DIFFERS FROM PLAN``.)"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from listrank import Reranker, registry
from listrank.backends.base import (
    AttentionRequest,
    AttentionResult,
    GenerationRequest,
    LogprobRequest,
)
from listrank.backends.fake import FakeBackend
from listrank.errors import CapabilityError, ConfigError
from listrank.strategies.planning import check_trace
from listrank.types import ChatMessage

N = 12
CANDIDATES = [{"docid": f"d{i}", "text": f"passage {i} on topic {i % 3} " * 2} for i in range(N)]
QUERY = "which passage is on topic 1?"
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "permutations=3": {"permutations": 3},
    "calibrate": {"calibrate": True},
    "both": {"permutations": 3, "calibrate": True},
}
STRATEGY_OPTIONS: dict[str, dict[str, Any]] = {
    "single": {"window": 8},
    "sliding": {"window": 6, "step": 3},
    "tournament": {"top_k": 2},
    "setwise": {"top_k": 2},
    "tourrank": {"window": 6, "tournaments": 1},
    "jointrank": {"block_size": 6, "replication": 2},
    "tdpart": {"window": 6, "pivot": 3},
}
SCORES_EACH_SLOT = {
    name
    for name in registry.names("method")
    if getattr(registry.get("method", name).load(), "produces_scores", False) is True
}


class ScriptedAttention(FakeBackend):
    """The fake plus prefix attention, one "token" per character (for ICR, no model)."""

    num_layers = 2

    def prompt_text(self, messages: Sequence[ChatMessage], assistant_prefix: str = "") -> str:
        return "\n".join(m["content"] for m in messages) + assistant_prefix

    def prefix_attention(self, requests: Sequence[AttentionRequest]) -> list[AttentionResult]:
        self.batches.append(len(requests))
        rng = random.Random(len(self.history))
        out = []
        for r in requests:
            self.history.append(r)  # type: ignore[arg-type]
            scores = [[rng.random() for _ in r.prefix] for _ in r.suffixes]
            spans = [tuple(s) for s in r.segments]
            suffix_tokens = [len(s) for s in r.suffixes]
            out.append(AttentionResult(scores, spans, len(r.prefix), suffix_tokens, 0.0))  # type: ignore[arg-type]
        return out


def scripted() -> FakeBackend:
    rng = random.Random(0)

    def respond(request: GenerationRequest) -> str:
        ids = list(range(1, 21))
        rng.shuffle(ids)
        return " > ".join(f"[{i}]" for i in ids)

    def logprobs(request: LogprobRequest) -> dict[str, float]:
        return {t: -rng.random() for t in request.tokens}

    return ScriptedAttention(responder=respond, logprob_responder=logprobs)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("method", registry.names("method"))
@pytest.mark.parametrize("strategy", registry.names("strategy"))
def test_a_run_that_follows_its_plan_is_on_plan(strategy: str, method: str, variant: str) -> None:
    backend = scripted()
    options = {**STRATEGY_OPTIONS.get(strategy, {}), **VARIANTS[variant]}
    if "calibrate" in options and method not in SCORES_EACH_SLOT and strategy != "pointwise":
        with pytest.raises(ConfigError, match="calibration needs a method that scores"):
            Reranker(backend=backend, method=method, strategy=strategy, **options)
        return
    try:
        reranker = Reranker(backend=backend, method=method, strategy=strategy, **options)
    except CapabilityError as exc:  # a pairing the strategy refuses by design
        pytest.skip(str(exc))
    planned = reranker.plan(N)
    ranking = reranker.rerank(QUERY, CANDIDATES)
    result = check_trace(ranking.trace)
    assert result.ok, str(result)
    assert ranking.trace.plan == planned  # the plan the run carries is the one `plan` gives
    # what the records stand for adds up to the requests the backend really received
    assert result.calls == len(backend.history)
