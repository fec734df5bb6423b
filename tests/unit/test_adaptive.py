"""The adaptive strategy: exact top-k under an oracle, budgets, stages, plans, trace reasons,
every kind of judgement (orders, setwise winners), and the posterior it rests on."""

from __future__ import annotations

import random

import pytest

from listrank import Reranker
from listrank.backends.fake import FakeBackend
from listrank.errors import ConfigError
from listrank.strategies.adaptive import Adaptive
from listrank.strategies.oracle import OracleJudge
from listrank.strategies.planning import check_trace, describe_plan, scripted_judgement
from listrank.strategies.posterior import Observation, fit, rank_prior, top_k_probabilities
from listrank.types import Judgement


def _query(seed: int, n: int = 100) -> tuple[list[float], list[int]]:
    """Hidden grades in a noisy first-stage order (as the strategies benchmark draws them)."""
    rng = random.Random(seed)
    grades = [rng.random() for _ in range(n)]
    first_stage = sorted(range(n), key=lambda i: -(grades[i] + rng.gauss(0, 0.3)))
    shown = [grades[i] for i in first_stage]
    return shown, sorted(range(n), key=lambda i: -shown[i])


@pytest.mark.parametrize("seed", range(6))
def test_an_exact_judge_gives_the_exact_top_10_in_7_calls_and_3_stages(seed: int) -> None:
    grades, truth = _query(seed)
    judge = OracleJudge(grades, seed=seed)
    result = Adaptive().rank(100, judge)
    assert result.order[:10] == truth[:10]
    assert sorted(result.order) == list(range(100))
    assert judge.calls <= 7 and judge.depth <= 3
    assert result.scores is not None and len(result.scores) == 100
    assert all(a >= b for a, b in zip(result.scores, result.scores[1:], strict=False))


def test_budget_caps_the_calls() -> None:
    grades, _ = _query(1)
    for budget in (3, 5, 6):
        judge = OracleJudge(grades, seed=1)
        result = Adaptive(budget=budget).rank(100, judge)
        assert judge.calls <= budget
        assert sorted(result.order) == list(range(100))


def test_one_block_holding_everything_is_one_call() -> None:
    grades, truth = _query(2, n=15)
    judge = OracleJudge(grades)
    assert Adaptive().rank(15, judge).order == truth
    assert judge.calls == 1 and Adaptive().plan(15).calls == 1


def test_every_stage_is_one_judge_call_of_disjoint_blocks() -> None:
    grades, _ = _query(3)
    judge = OracleJudge(grades, grade_noise=0.2, seed=3)
    Adaptive(max_blocks_per_stage=2).rank(100, judge)
    first, *later = judge.stages
    assert sorted(i for b in first for i in b) == list(range(100))  # everyone once
    for stage in later:
        items = [i for b in stage for i in b]
        assert len(items) == len(set(items)) and len(stage) <= 2


def test_setwise_winners_only_still_find_the_best() -> None:
    """A judge that names only the winner (the rest repair-filled, as setwise generation
    answers): winners never get credit for the filled order."""
    grades, truth = _query(4)
    oracle = OracleJudge(grades)

    def winners(blocks: list[list[int]]) -> list[Judgement]:
        out = []
        for j in oracle(blocks):
            best = j.order[0]
            order = (best, *(i for i in range(len(j.order)) if i != best))
            out.append(
                Judgement(order, scripted_judgement(order).record, filled=frozenset(order[1:]))
            )
        return out

    result = Adaptive().rank(100, winners)  # type: ignore[arg-type]
    assert result.order[0] == truth[0]
    assert sorted(result.order) == list(range(100))


def test_plan_reports_the_worst_and_the_expected_case() -> None:
    plan = Adaptive().plan(100)
    assert not plan.exact
    assert (plan.calls, plan.depth) == (7, 3)
    assert plan.block_sizes == (20,) * 7
    assert plan.expected_calls is not None and 5 <= plan.expected_calls <= 7
    assert plan.expected_depth is not None and 1 <= plan.expected_depth <= 3
    text = describe_plan(plan)
    assert "at most 7" in text and "expected" in text and "judge noise" in text
    capped = Adaptive(budget=6).plan(100)
    assert (capped.calls, capped.depth) == (6, 2)


def test_through_the_reranker_the_trace_says_why_each_block_was_chosen() -> None:
    def answer(request: object) -> str:  # a judge that keeps every block's shown order
        n = sum(1 for m in request.messages if m["content"].startswith("["))  # type: ignore[attr-defined]
        return " > ".join(f"[{i + 1}]" for i in range(n))

    rr = Reranker(FakeBackend(responder=answer), method="rankgpt", strategy="adaptive")
    cands = [f"passage {i}" for i in range(60)]
    ranking = rr.rerank("query", cands)
    assert sorted(ranking.docids) == sorted(str(i) for i in range(60))
    reasons = [c.extra["block"] for c in ranking.trace.calls]
    assert all(r.startswith("stage 1: first round") for r in reasons[:3])
    assert any("uncertain" in r and r.startswith("stage 2") for r in reasons[3:])
    assert check_trace(ranking.trace).ok


def test_many_queries_share_the_stage_calls() -> None:
    backend = FakeBackend(responder=lambda r: "[1] > [2]")
    rr = Reranker(backend, method="rankgpt", strategy="adaptive", block_size=5)
    assert rr._gate is not None
    rr._gate.linger_s = 30.0
    reqs = [(f"query {q}", [f"passage {q} {i}" for i in range(12)]) for q in range(4)]
    many = rr.rerank_many(reqs, max_in_flight=4)
    depth = max(r.trace.depth for r in many)
    assert len(backend.batches) == depth  # one merged backend call per stage wave
    assert sum(backend.batches) == sum(len(r.trace.calls) for r in many)


def test_bad_options_are_config_errors() -> None:
    for bad in ({"budget": 0}, {"stages": 0}, {"tol": 0.7}, {"final": "mean"}, {"top_k": 0}):
        with pytest.raises(ConfigError):
            Adaptive(**bad)  # type: ignore[arg-type]


def test_posterior_without_judgements_is_the_prior() -> None:
    prior = rank_prior(5, 0.5)
    post = fit(5, [], prior)
    assert post.mean == pytest.approx(prior)
    assert post.sd == pytest.approx([1.0] * 5)
    assert sum(top_k_probabilities(post, 2)) == pytest.approx(2.0, abs=1e-6)


def test_posterior_follows_the_judged_order_and_shrinks_its_uncertainty() -> None:
    flat = [0.0] * 4
    once = fit(4, [Observation((2, 0, 3, 1))], flat)
    assert sorted(range(4), key=lambda i: -once.mean[i]) == [2, 0, 3, 1]
    twice = fit(4, [Observation((2, 0, 3, 1))] * 2, flat)
    assert all(b < a for a, b in zip(once.sd, twice.sd, strict=True))
    # a repair-filled item never wins: only "2 beats the rest" is learned
    winner = fit(4, [Observation((2, 0, 3, 1), frozenset({0, 3, 1}))], flat)
    assert winner.mean[2] > max(winner.mean[i] for i in (0, 1, 3))
    assert winner.mean[0] == pytest.approx(winner.mean[1]) == pytest.approx(winner.mean[3])
