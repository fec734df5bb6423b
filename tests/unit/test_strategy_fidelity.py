"""Options that reproduce the reference implementations, and where listrank departs."""

from __future__ import annotations

import json
import random

import pytest

from listrank.cli import main
from listrank.errors import ConfigError
from listrank.strategies.oracle import OracleJudge
from listrank.strategies.setwise import Setwise
from listrank.strategies.tdpart import AUTHORS_BUDGET, TDPart
from listrank.strategies.tourrank import TourRank
from tests.support.reference_setwise import ReferenceHeapsort


def first_stage_like(n: int, seed: int) -> list[float]:
    """Grades that agree with the input order up to noise, as a BM25 list does."""
    rng = random.Random(seed)
    return [-i + rng.gauss(0, n / 6) for i in range(n)]


def test_tourrank_tiebreak_input_is_points_then_input_order() -> None:
    # 7 items, window 4: stage 1 groups {0, 2, 4, 6} and {1, 3, 5} keep 2 each; stage 2 pairs
    # keep 1. With these grades 0 and 3 score 2 points, 2 and 5 score 1, and 6, 1, 4 score 0:
    # 6 placed 3rd of 4 (place 0.5), 1 last of 3 (0.67), 4 last of 4 (0.75).
    grades = [10.0, 4.0, 9.0, 6.0, 7.0, 5.0, 8.0]
    place = TourRank(window=4, tournaments=1).rank(7, OracleJudge(grades)).order
    original = TourRank(window=4, tournaments=1, tiebreak="input").rank(7, OracleJudge(grades))
    assert place == [0, 3, 2, 5, 6, 1, 4]
    assert original.order == [0, 3, 2, 5, 1, 4, 6]


def test_tourrank_tiebreak_is_validated() -> None:
    with pytest.raises(ConfigError, match="tiebreak"):
        TourRank(tiebreak="random")


@pytest.mark.parametrize(("c", "seed"), [(3, 0), (3, 1), (9, 2), (2, 3)])
def test_setwise_asks_the_references_questions_and_stops_at_k(c: int, seed: int) -> None:
    n, k = 100, 10
    grades = [random.Random(seed * 1000 + i).random() for i in range(n)]
    reference = ReferenceHeapsort(grades, c)
    expected_top = reference.top(n, k)
    sequential, parallel = OracleJudge(grades), OracleJudge(grades)
    seq = Setwise(children=c, top_k=k, parallel=False).rank(n, sequential)
    par = Setwise(children=c, top_k=k).rank(n, parallel)
    assert seq.order[:k] == par.order[:k] == expected_top
    # the same blocks, in the same order, one per stage: nothing judged after the k-th item
    assert [s[0] for s in sequential.stages] == reference.blocks
    assert all(len(s) == 1 for s in sequential.stages)
    # heap levels at once: the same questions in fewer stages
    assert sorted(b for s in parallel.stages for b in s) == sorted(reference.blocks)
    assert parallel.depth < sequential.depth


def test_setwise_top_k_1_spends_only_the_heapify() -> None:
    grades = [random.Random(i).random() for i in range(40)]
    one, two = OracleJudge(grades), OracleJudge(grades)
    Setwise(top_k=1, parallel=False).rank(40, one)
    Setwise(top_k=2, parallel=False).rank(40, two)
    # top_k=1 stops right after heapify (parents 12 … 0 of a 3-ary heap of 40, each at least
    # once); top_k=2 asks the same questions and then re-sifts the root
    assert one.calls >= 13 and one.stages == two.stages[: one.calls]
    assert two.calls > one.calls  # the second item needs the root re-sifted


@pytest.mark.parametrize("seed", range(5))
def test_tdpart_with_the_authors_budget(seed: int) -> None:
    n = 100
    grades = first_stage_like(n, seed)
    judge = OracleJudge(grades)
    strategy = TDPart(budget=AUTHORS_BUDGET)
    order = strategy.rank(n, judge).order
    assert sorted(order) == list(range(n))
    assert order[:10] == sorted(range(n), key=lambda i: -grades[i])[:10]
    # the scan is sequential: one block per stage, and it stops at the budget
    assert all(len(s) == 1 for s in judge.stages)
    plan = strategy.plan(n)
    assert not plan.exact and judge.calls <= plan.calls and judge.depth <= plan.depth
    unbudgeted = OracleJudge(grades)
    TDPart().rank(n, unbudgeted)
    assert judge.calls <= unbudgeted.calls and judge.depth > unbudgeted.depth


def test_tdpart_budget_stops_scanning_and_sets_unscanned_items_aside() -> None:
    # every chunk item beats the pivot: the first chunk fills the budget, the other chunks
    # are never judged and their items follow the pivot's round unjudged
    judge = OracleJudge([float(i) for i in range(100)])  # input order is worst first
    order = TDPart(budget=20).rank(100, judge).order
    judged = {x for s in judge.stages for b in s for x in b}
    assert len(judged) == 20 + 19  # the first window and one chunk
    unscanned = [x for x in order if x not in judged]
    assert unscanned == list(range(39, 100))
    assert sorted(order) == list(range(100))


@pytest.mark.parametrize(
    ("n", "budget", "reached"),
    [(100, 20, True), (250, 20, True), (57, 10, True), (20, 20, True), (100, 35, False)],
)
def test_tdpart_budget_plan_bounds_every_run_and_is_reached(
    n: int, budget: int, reached: bool
) -> None:
    strategy = TDPart(budget=budget)
    plan = strategy.plan(n)
    assert plan.calls == plan.depth == len(plan.block_sizes)
    # the costliest single round: nothing beats the pivot until the last chunk, all of which
    # does, so every chunk is scanned and the survivors still need a final sort
    last = (n - 20) % 19 or 19
    grades = [1000.0 - i if i < 20 else -float(i) for i in range(n)]
    grades[n - last :] = [2000.0 + i for i in range(last)]
    adversary = OracleJudge(grades)
    strategy.rank(n, adversary)
    assert adversary.calls <= plan.calls and adversary.depth <= plan.depth
    if reached:
        assert (adversary.calls, adversary.depth) == (plan.calls, plan.depth)
    for seed in range(5):
        noisy = OracleJudge(first_stage_like(n, seed), swap_prob=0.3, seed=seed)
        strategy.rank(n, noisy)
        assert noisy.calls <= plan.calls and noisy.depth <= plan.depth
    for seed in range(5):  # random input order: the budget fills early
        rng = random.Random(seed)
        shuffled = OracleJudge([rng.random() for _ in range(n)])
        strategy.rank(n, shuffled)
        assert shuffled.calls <= plan.calls and shuffled.depth <= plan.depth


def test_tdpart_budget_is_validated() -> None:
    with pytest.raises(ConfigError, match="budget"):
        TDPart(pivot=10, budget=5)


def _grade_responder(grades: dict[str, float]) -> object:
    from listrank.backends.base import GenerationRequest

    def respond(request: GenerationRequest) -> str:
        # the passages are "doc <id>": rank the block's identifiers by hidden grade
        text = request.messages[-1]["content"]
        ids = [line.split("]")[0].lstrip("[") for line in text.splitlines() if line.startswith("[")]
        docs = [line.split()[-1] for line in text.splitlines() if line.startswith("[")]
        ranked = sorted(range(len(ids)), key=lambda i: -grades[docs[i]])
        return " > ".join(f"[{ids[i]}]" for i in ranked)

    return respond


def test_listrank_plan_matches_a_tdpart_budget_run(capsys: pytest.CaptureFixture[str]) -> None:
    from listrank import Reranker
    from listrank.backends.fake import FakeBackend
    from listrank.strategies.planning import check_trace
    from listrank.types import Candidate

    n = 100
    argv = ["plan", "--backend", "fake", "--strategy", "tdpart", "--n", str(n), "--json"]
    assert main([*argv, "-O", "budget=20"]) == 0
    cli_plan = json.loads(capsys.readouterr().out)
    strategy_plan = TDPart(budget=20).plan(n)
    assert (cli_plan["calls"], cli_plan["depth"]) == (strategy_plan.calls, strategy_plan.depth)
    assert cli_plan["exact"] is False

    grades = {f"d{i}": g for i, g in enumerate(first_stage_like(n, 7))}
    backend = FakeBackend(responder=_grade_responder(grades))  # type: ignore[arg-type]
    reranker = Reranker(
        backend=backend, method="rankgpt", strategy="tdpart", template="rankgpt_single", budget=20
    )
    candidates = [Candidate(docid=d, text=f"doc {d}") for d in grades]
    ranking = reranker.rerank("q", candidates)
    check = check_trace(ranking.trace)
    assert check.ok, str(check)
    assert (check.planned_calls, check.planned_depth) == (cli_plan["calls"], cli_plan["depth"])
    assert len(ranking.trace.calls) == ranking.trace.depth  # one call per stage
    top = sorted(grades, key=lambda d: -grades[d])[:10]
    assert ranking.docids[:10] == top
