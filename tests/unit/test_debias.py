"""Calibration, permutation averaging and fusion against a judge with a known position bias."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from listrank import Candidate, ConfigError, Reranker
from listrank.backends.fake import FakeBackend
from listrank.methods.base import Method
from listrank.methods.calibration import CalibratedMethod, CalibrationPool
from listrank.methods.wrappers import PermutationAveraged
from listrank.pipeline.fusion import Fusion
from listrank.strategies.window import SingleWindow, SlidingWindow
from listrank.types import CallRecord, Judgement, Query, RankedCandidate


class BiasedScorer(Method):
    """Scores = hidden relevance (the number in the text; 0 for content-free) + slot bias."""

    name = "biased"
    produces_scores = True

    def __init__(self, bias: Sequence[float]) -> None:
        self.bias = bias
        self.calls = 0

    def estimate_prompt_tokens(self, query: Query, block: Sequence[Candidate]) -> int:
        return len(block)

    def judge(self, query: Query, blocks: Sequence[Sequence[Candidate]]) -> list[Judgement]:
        out = []
        for block in blocks:
            self.calls += 1
            rel = [0.0 if c.text == "N/A" else float(c.text.split()[-1]) for c in block]
            scores = tuple(r + self.bias[i] for i, r in enumerate(rel))
            order = tuple(sorted(range(len(block)), key=lambda i: (-scores[i], i)))
            rec = CallRecord(self.name, tuple(c.docid for c in block), 1, 1, "", 0.0, scores=scores)
            out.append(Judgement(order, rec, scores=scores))
        return out


def cands(rels: Sequence[float]) -> list[Candidate]:
    return [Candidate(docid=f"d{i}", text=f"passage {r}") for i, r in enumerate(rels)]


RELS = [0.1, 0.9, 0.4, 0.7, 0.2, 0.6, 0.3, 0.8]
TRUE = [f"d{i}" for i in sorted(range(len(RELS)), key=lambda i: -RELS[i])]
FIRST_SLOT_BIAS = [5.0, 0.5, 0.3, 0.2, 0.1, 0.0, 0.0, 0.0]


def test_bias_breaks_the_plain_judge() -> None:
    r = Reranker(
        backend=FakeBackend(), method=BiasedScorer(FIRST_SLOT_BIAS), strategy=SingleWindow()
    )
    assert r.rerank("q", cands(RELS)).docids != TRUE


def test_calibration_recovers_the_true_order() -> None:
    inner = BiasedScorer(FIRST_SLOT_BIAS)
    r = Reranker(backend=FakeBackend(), method=inner, strategy=SingleWindow(), calibrate=True)
    assert r.plan(8).calls == 2  # the block plus one content-free prior
    ranking = r.rerank("q", cands(RELS))
    assert ranking.docids == TRUE
    assert ranking.trace.n_calls == 2 and inner.calls == 2
    again = r.rerank("q2", cands(RELS))  # prior computed once per block size
    assert again.docids == TRUE and again.trace.n_calls == 1 and inner.calls == 3
    assert again.trace.calls[0].extra["prior"] == tuple(FIRST_SLOT_BIAS)


def test_calibration_needs_scores() -> None:
    class OrderOnly(BiasedScorer):
        produces_scores = False

    with pytest.raises(ConfigError, match="scores each position"):
        CalibratedMethod(OrderOnly([0.0] * 8))


def test_permutation_averaging_recovers_the_true_order() -> None:
    inner = BiasedScorer(FIRST_SLOT_BIAS)
    method = PermutationAveraged(inner, k=8)  # cyclic: every candidate in every slot once
    r = Reranker(backend=FakeBackend(), method=method, strategy=SingleWindow())
    assert r.plan(8).calls == 8
    ranking = r.rerank("q", cands(RELS))
    assert ranking.docids == TRUE
    assert ranking.trace.n_calls == 8 == inner.calls
    assert len(ranking.trace.calls) == 1  # one record per block, standing for 8 calls
    assert sorted(map(tuple, ranking.trace.calls[0].extra["permutations"])) == sorted(
        tuple((p + j) % 8 for p in range(8)) for j in range(8)
    )


def test_random_design_is_seeded_and_mostly_right() -> None:
    method = PermutationAveraged(BiasedScorer(FIRST_SLOT_BIAS), k=40, seed=1, design="random")
    ranking = Reranker(backend=FakeBackend(), method=method, strategy=SingleWindow()).rerank(
        "q", cands(RELS)
    )
    assert ranking.docids[:4] == TRUE[:4]


def test_averaging_with_sliding_windows_and_option_names() -> None:
    rels = [i / 30 for i in range(30)]
    r = Reranker(
        backend=FakeBackend(),
        method=BiasedScorer([3.0] + [0.0] * 9),
        strategy=SlidingWindow(window=10, step=5),
        permutations=10,
    )
    ranking = r.rerank("q", cands(rels))
    assert ranking.docids[:3] == ["d29", "d28", "d27"]
    assert ranking.trace.n_calls == r.plan(30).calls == 5 * 10


def test_shuffles_are_reproducible() -> None:
    a = PermutationAveraged(BiasedScorer(FIRST_SLOT_BIAS), k=5, seed=7, design="random")
    b = PermutationAveraged(BiasedScorer(FIRST_SLOT_BIAS), k=5, seed=7, design="random")
    q, block = Query("q"), cands(RELS)
    assert a.judge(q, [block])[0].order == b.judge(q, [block])[0].order


def ranked(docids: Sequence[str]) -> list[RankedCandidate]:
    n = len(docids)
    return [RankedCandidate(Candidate(d, ""), float(n - i)) for i, d in enumerate(docids)]


def test_rrf_weights_move_between_the_two_orders() -> None:
    first = [Candidate(f"d{i}", "", score=10.0 - i) for i in range(5)]
    llm = ranked(["d4", "d3", "d2", "d1", "d0"])
    assert [r.candidate.docid for r in Fusion("rrf", weight=1.0).fuse(first, llm)] == [
        "d4",
        "d3",
        "d2",
        "d1",
        "d0",
    ]
    assert [r.candidate.docid for r in Fusion("rrf", weight=0.0).fuse(first, llm)] == [
        "d0",
        "d1",
        "d2",
        "d3",
        "d4",
    ]
    half = Fusion("rrf", weight=0.5, k=60).fuse(first, llm)
    assert half[0].score == pytest.approx(0.5 / 61 + 0.5 / 65)


def test_linear_fusion_normalizes_scores() -> None:
    first = [
        Candidate("a", "", score=100.0),
        Candidate("b", "", score=0.0),
        Candidate("c", "", score=50.0),
    ]
    llm = ranked(["b", "c", "a"])  # llm scores 3, 2, 1 -> 1.0, 0.5, 0.0
    fused = {r.candidate.docid: r.score for r in Fusion("linear", weight=0.25).fuse(first, llm)}
    assert fused == pytest.approx({"a": 0.75, "b": 0.25, "c": 0.5})


def test_fusion_in_the_pipeline_and_bad_settings() -> None:
    backend = FakeBackend(["[3] > [2] > [1]"])
    r = Reranker(backend=backend, fusion="rrf", fusion_weight=0.0)
    ranking = r.rerank("q", ["a", "b", "c"])
    assert ranking.docids == ["0", "1", "2"] and "fusion" in ranking.trace.stage_latency_s
    with pytest.raises(ConfigError):
        Fusion("max")
    with pytest.raises(ConfigError):
        Fusion("rrf", weight=2.0)


class ContentFreeMisleads(BiasedScorer):
    """Like a small LLM: the slot bias on real passages is not the one it shows on "N/A"
    passages (there it prefers the last slot), so a content-free prior over-corrects."""

    def judge(self, query: Query, blocks: Sequence[Sequence[Candidate]]) -> list[Judgement]:
        out = []
        for j, block in zip(super().judge(query, blocks), blocks, strict=True):
            if all(c.text == "N/A" for c in block):
                n = len(block)
                scores = tuple(3.0 * i / (n - 1) for i in range(n))
                order = tuple(sorted(range(n), key=lambda i: (-scores[i], i)))
                j = Judgement(order, j.record, scores=scores)
            out.append(j)
        return out


def pool(rels: Sequence[float]) -> CalibrationPool:
    return CalibrationPool(queries=("q1", "q2"), passages=tuple(f"text {r}" for r in rels))


def test_content_free_prior_fails_where_reference_prior_recovers_the_order() -> None:
    def rerank(**kw: object) -> list[str]:
        method = ContentFreeMisleads(FIRST_SLOT_BIAS)
        r = Reranker(backend=FakeBackend(), method=method, strategy=SingleWindow(), **kw)  # type: ignore[arg-type]
        return r.rerank("q", cands(RELS)).docids

    assert rerank(calibrate=True) != TRUE
    # a pool of equally relevant passages: its mean per slot is exactly constant + bias
    assert rerank(calibrate="reference", calibration_pool=pool([0.5] * 20)) == TRUE


def test_reference_prior_from_a_varied_pool_is_the_bias_up_to_sampling_noise() -> None:
    rels = [i / 99 for i in range(100)]
    method = CalibratedMethod(
        ContentFreeMisleads(FIRST_SLOT_BIAS), calibration="reference", pool=pool(rels), blocks=400
    )
    prior = method.prior(8)
    assert len(method.prior_records) == 400
    mean_rel = sum(rels) / len(rels)
    for p, b in zip(prior, FIRST_SLOT_BIAS, strict=True):
        assert abs(p - (b + mean_rel)) < 0.05
    # another block size gets its own prior; a known one costs nothing
    method.prior(8)
    method.prior(4)
    assert sorted(method.priors) == [4, 8] and len(method.prior_records) == 800


def test_reference_prior_calls_are_planned_counted_and_seeded() -> None:
    inner = ContentFreeMisleads(FIRST_SLOT_BIAS)
    r = Reranker(
        backend=FakeBackend(),
        method=inner,
        strategy=SingleWindow(),
        calibrate="reference",
        calibration_pool=pool([0.5] * 20),
        calibration_blocks=5,
    )
    assert r.plan(8).calls == 1 + 5
    ranking = r.rerank("q", cands(RELS))
    assert ranking.trace.n_calls == 6 == inner.calls
    assert ranking.trace.calls[0].extra["calibration"] == "reference"
    assert r.plan(8).calls == 1  # the prior for 8 is known now

    def drawn(seed: int) -> list[tuple[str, list[str]]]:
        m = CalibratedMethod(inner, calibration="reference", pool=pool(RELS * 3), seed=seed)
        return [(q, [c.text for c in b]) for q, b in m._prior_blocks(8)]

    assert drawn(1) == drawn(1) and drawn(1) != drawn(2)


def test_small_pool_is_drawn_with_replacement() -> None:
    m = CalibratedMethod(BiasedScorer([0.0] * 8), calibration="reference", pool=pool([0.5] * 3))
    assert all(len(b) == 8 for _, b in m._prior_blocks(8))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"calibrate": "reference"}, "needs calibration_pool"),
        ({"calibrate": "platt"}, "unknown calibration"),
        ({"calibrate": True, "calibration_pool": pool([0.5])}, "only used by"),
        ({"calibration_pool": pool([0.5])}, "without calibrate"),
        ({"calibrate": "reference", "calibration_pool": []}, "at least one"),
    ],
)
def test_calibration_option_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Reranker(
            backend=FakeBackend(),
            method=BiasedScorer([0.0] * 8),
            strategy=SingleWindow(),
            **options,  # type: ignore[arg-type]
        )


def test_concurrent_queries_share_one_prior_charged_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    r = Reranker(
        backend=FakeBackend(),
        method=ContentFreeMisleads(FIRST_SLOT_BIAS),
        strategy=SingleWindow(),
        calibrate="reference",
        calibration_pool=pool([0.5] * 20),
        calibration_blocks=5,
    )
    with ThreadPoolExecutor(8) as ex:
        rankings = list(ex.map(lambda i: r.rerank(f"q{i}", cands(RELS)), range(8)))
    assert all(x.docids == TRUE for x in rankings)
    assert sum(x.trace.n_calls for x in rankings) == 8 + 5
    assert isinstance(r.method, CalibratedMethod) and len(r.method.prior_records) == 5
