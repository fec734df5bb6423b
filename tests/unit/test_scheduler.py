"""Many queries at once: rerank_many gives what rerank gives per query, whatever the
interleaving; calls of queries waiting at a stage are merged; failures stay per query."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from listrank import Reranker
from listrank.backends.base import Feeding, GenerationRequest, LogprobRequest
from listrank.backends.fake import FakeBackend
from listrank.errors import QueriesFailedError, RetryExhaustedError
from listrank.types import Ranking

STRATEGIES = {
    "single": {"window": 12},
    "sliding": {"window": 4, "step": 2},
    "tournament": {},
    "tourrank": {"window": 4},
    "jointrank": {"block_size": 4, "replication": 2},
    "setwise": {},
    "tdpart": {"window": 5, "pivot": 2},
}


def _digest(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:12], 16)


def _prompt(r: GenerationRequest | LogprobRequest) -> str:
    return "".join(m["content"] for m in r.messages) + r.assistant_prefix


class ScriptedBackend(FakeBackend):
    """Answers depend only on the prompt (so any interleaving must give the same rankings);
    every call sleeps a random time, so calls finish in random order. ``concurrent``
    selects how the scheduler treats it (merged stage calls, or calls in flight at once)."""

    def __init__(self, *, concurrent: bool, seed: int = 0, poison: str = "") -> None:
        super().__init__(responder=self._answer, logprob_responder=self._scores)
        self.feeding = Feeding("concurrent", 16) if concurrent else Feeding("batched")
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.poison = poison

    def _sleep(self, requests: Sequence[GenerationRequest | LogprobRequest]) -> None:
        if self.poison and any(self.poison in _prompt(r) for r in requests):
            raise RetryExhaustedError("scripted: retries ran out")
        with self._lock:
            delay = self._rng.random() * 0.004
        time.sleep(delay)

    def generate(self, requests: Sequence[GenerationRequest]) -> list:  # type: ignore[type-arg]
        self._sleep(requests)
        with self._lock:
            return super().generate(requests)

    def next_token_logprobs(self, requests: Sequence[LogprobRequest]) -> list:  # type: ignore[type-arg]
        self._sleep(requests)
        with self._lock:
            return super().next_token_logprobs(requests)

    @staticmethod
    def _answer(r: GenerationRequest) -> str:
        n = _prompt(r).count("\n[")
        order = sorted(range(1, n + 1), key=lambda i: _digest(_prompt(r), str(i)))
        return " > ".join(f"[{i}]" for i in order)

    @staticmethod
    def _scores(r: LogprobRequest) -> dict[str, float]:
        return {t: -(_digest(_prompt(r), t) % 1000) / 100 for t in r.tokens}


def _requests(n: int, size: int = 12, seed: int = 1) -> list[tuple[str, list[str]]]:
    rng = random.Random(seed)
    return [
        (
            f"query {q} {rng.random():.6f}",
            [f"passage {q}-{d} {rng.random():.6f}" for d in range(size)],
        )
        for q in range(n)
    ]


def _same(a: Ranking, b: Ranking, *, tol: float = 0.0) -> None:
    assert [r.candidate.docid for r in a.ranked] == [r.candidate.docid for r in b.ranked]
    for x, y in zip(a.ranked, b.ranked, strict=True):
        assert x.score == pytest.approx(y.score, abs=tol)
    assert [(c.docids, c.output, c.stage) for c in a.trace.calls] == [
        (c.docids, c.output, c.stage) for c in b.trace.calls
    ]


@pytest.mark.parametrize("concurrent", [False, True], ids=["merged", "concurrent"])
@pytest.mark.parametrize("method", ["rankgpt", "first"])
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_rerank_many_equals_rerank_per_query(strategy: str, method: str, concurrent: bool) -> None:
    backend = ScriptedBackend(concurrent=concurrent, seed=hash((strategy, method)) & 0xFFFF)
    rr = Reranker(backend, method=method, strategy=strategy, **STRATEGIES[strategy])
    reqs = _requests(7)
    one = [rr.rerank(q, c) for q, c in reqs]
    many = rr.rerank_many(reqs, max_in_flight=4)
    for a, b in zip(one, many, strict=True):
        _same(a, b)


def test_wrappers_keep_working_under_the_scheduler(tmp_path: Path) -> None:
    """Calibration priors, permutation averaging, the call cache and fusion."""

    def build(cache: str) -> Reranker:
        return Reranker(
            ScriptedBackend(concurrent=False),
            method="first",
            strategy="sliding",
            window=4,
            step=2,
            calibrate=True,
            permutations=3,
            fusion="rrf",
            cache=tmp_path / cache,
        )

    reqs = _requests(6)
    alone = build("alone.sqlite")
    one = [alone.rerank(q, c) for q, c in reqs]
    many = build("many.sqlite").rerank_many(reqs, max_in_flight=6)
    for a, b in zip(one, many, strict=True):
        _same(a, b)
        assert a.ranked[0].score != 0.0
    again = build("many.sqlite").rerank_many(reqs, max_in_flight=6)
    calls = [c for r in again for c in r.trace.calls]
    assert calls and all(c.cached for c in calls)  # every call came from the cache


def test_calibration_prior_is_measured_once_for_many_queries() -> None:
    backend = ScriptedBackend(concurrent=False)
    rr = Reranker(backend, method="first", strategy="sliding", window=4, step=2, calibrate=True)
    rr.rerank_many(_requests(6), max_in_flight=6)
    priors = [r for r in backend.history if "N/A" in _prompt(r)]
    assert len(priors) == 1  # one block size, one content-free call


def test_queries_waiting_at_a_stage_share_one_backend_call() -> None:
    backend = ScriptedBackend(concurrent=False)
    rr = Reranker(backend, method="rankgpt", strategy="sliding", window=4, step=2)
    assert rr._gate is not None
    rr._gate.linger_s = 30.0  # only "everyone is waiting" dispatches, however slow the machine
    rr.rerank_many(_requests(6, size=10), max_in_flight=6)
    assert backend.batches == [6, 6, 6, 6]  # 4 windows per query, each wave one call
    backend.batches.clear()
    rr.rerank_many(_requests(6, size=10), max_in_flight=3)
    # refills start as slots free up, so how waves line up depends on thread timing; what
    # holds is that no call exceeds the in-flight limit and every window is judged once
    assert sum(backend.batches) == 6 * 4 and max(backend.batches) <= 3
    assert backend.batches[:4] == [3, 3, 3, 3]  # the first three queries start together


@pytest.mark.parametrize("concurrent", [False, True], ids=["merged", "concurrent"])
def test_a_failed_query_does_not_lose_the_others(concurrent: bool) -> None:
    reqs = _requests(5)
    poison = reqs[2][1][3]  # a passage only query 2 shows
    backend = ScriptedBackend(concurrent=concurrent, poison=poison)
    rr = Reranker(backend, method="rankgpt", strategy="sliding", window=4, step=2)
    from listrank.types import Query

    named = [(Query(q, qid=f"q{i}"), c) for i, (q, c) in enumerate(reqs)]
    with pytest.raises(QueriesFailedError, match="q2") as info:
        rr.rerank_many(named, max_in_flight=5)
    assert info.value.qids == ["q2"]
    assert list(info.value.errors) == [2]
    assert isinstance(info.value.errors[2], RetryExhaustedError)
    mixed = rr.rerank_many(named, max_in_flight=5, return_exceptions=True)
    assert isinstance(mixed[2], RetryExhaustedError)
    clean = Reranker(
        ScriptedBackend(concurrent=concurrent),
        method="rankgpt",
        strategy="sliding",
        window=4,
        step=2,
    )
    for i in (0, 1, 3, 4):
        _same(clean.rerank(*named[i]), mixed[i])
        _same(mixed[i], info.value.results[i])


def test_the_input_is_pulled_lazily_and_ordered_output_is_bounded() -> None:
    pulled = [0]

    def source() -> Iterator[tuple[str, list[str]]]:
        for q, c in _requests(40, size=6):
            pulled[0] += 1
            yield q, c

    rr = Reranker(ScriptedBackend(concurrent=True), method="rankgpt", strategy="single", window=6)
    seen = []
    for outcome in rr.rerank_stream(source(), max_in_flight=3, ordered=True):
        # never more than max_in_flight running plus max_in_flight held back, plus this one
        assert pulled[0] - len(seen) <= 3 + 3 + 1
        seen.append(outcome.index)
    assert seen == list(range(40))


def test_async_forms() -> None:
    backend = ScriptedBackend(concurrent=True)
    rr = Reranker(backend, method="rankgpt", strategy="sliding", window=4, step=2)
    reqs = _requests(4)
    one = [rr.rerank(q, c) for q, c in reqs]

    async def main() -> tuple[list[Ranking], list[int]]:
        many = await rr.arerank_many(reqs, max_in_flight=4)
        indices = [o.index async for o in rr.arerank_stream(reqs, max_in_flight=4)]
        return many, indices

    many, indices = asyncio.run(main())
    for a, b in zip(one, many, strict=True):
        _same(a, b)
    assert sorted(indices) == [0, 1, 2, 3]


def test_icr_on_the_tiny_model_gives_the_same_rankings() -> None:
    from listrank.testing import tiny_backend

    rr = Reranker(tiny_backend(batch_size=4), method="icr", strategy="sliding", window=4, step=2)
    reqs = _requests(3, size=6)
    one = [rr.rerank(q, c) for q, c in reqs]
    many = rr.rerank_many(reqs, max_in_flight=3)
    for a, b in zip(one, many, strict=True):
        _same(a, b, tol=1e-4)


def test_requests_in_flight_in_service_threads_share_backend_calls() -> None:
    """The service's workers call rerank_in_flight: arriving together, they share calls."""
    release = threading.Event()

    class Held(ScriptedBackend):
        def generate(self, requests: Sequence[GenerationRequest]) -> list:  # type: ignore[type-arg]
            release.wait(timeout=30)  # the first call waits until every request is in
            return super().generate(requests)

    backend = Held(concurrent=False)
    rr = Reranker(backend, method="rankgpt", strategy="single", window=12)
    assert rr._gate is not None
    rr._gate.linger_s = 30.0
    reqs = _requests(4)
    got: dict[int, Ranking] = {}
    threads = [
        threading.Thread(target=lambda i=i: got.__setitem__(i, rr.rerank_in_flight(*reqs[i])))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    while rr._gate._workers < 4:
        time.sleep(0.01)
    release.set()
    for t in threads:
        t.join(timeout=30)
    assert sum(backend.batches) == 4 and len(backend.batches) < 4  # not one call per request
    for i, (q, c) in enumerate(reqs):
        _same(rr.rerank(q, c), got[i])


def test_the_gate_keeps_what_methods_read_from_the_backend() -> None:
    """The answer budget and ICR's passage spans read these from the backend they are given."""
    from listrank.pipeline.gate import GatedBackend

    class Inner:
        name, model_name, context_length = "inner", "m", 100
        exact_token_counts = False

        def count_tokens(self, text: str) -> int:
            return len(text)

        def generate(self, requests: Any) -> list[Any]:
            return []

        def defang(self, text: str) -> str:
            return text.replace("<s>", "(s)")

    gated = GatedBackend(Inner())
    assert gated.exact_token_counts is False
    assert gated.defang("a <s> b") == "a (s) b"
