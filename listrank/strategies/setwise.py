"""Setwise heapsort (Zhuang et al.): a c-ary max-heap whose comparisons are LLM judgements.

Each comparison is one block ``[parent, child_1, …, child_c]``; the block's top-1 wins. Heapify
sifts down all nodes of one heap level in lockstep (their subtrees are disjoint), so each
lockstep step is one stage with many blocks; then the top ``top_k`` are popped one at a time,
and the heap is not re-sorted after the last of them (as in the reference). Items not popped
follow in heap-array order, which puts every item after the heap ancestors that beat it.

The paper sifts one node at a time; sifting a whole level at once asks the same questions
(the subtrees are disjoint, so no comparison depends on another of its level) in fewer
sequential stages; ``parallel=False`` keeps the reference's one-block-per-stage schedule. The
block ``[parent, children…]`` and its winner are the reference's.
"""

from __future__ import annotations

from listrank.errors import ConfigError
from listrank.options import Option
from listrank.strategies.base import BlockJudge, Strategy, StrategyResult
from listrank.strategies.planning import simulate
from listrank.types import Plan


class Setwise(Strategy):
    name = "setwise"
    OPTIONS = (
        Option("children", int, 3, "children per heap node", changes_answers=True, ge=1),
        Option("top_k", int, 10, "items popped off the heap", changes_answers=True, ge=1),
        Option(
            "parallel",
            bool,
            True,
            "sift a heap level in one stage (False: as the paper)",
            changes_answers=False,
        ),
    )

    def __init__(self, *, children: int = 3, top_k: int = 10, parallel: bool = True) -> None:
        if children < 1:
            raise ConfigError("children must be >= 1")
        if top_k < 1:
            raise ConfigError("top_k must be >= 1")
        self.children, self.top_k, self.parallel = children, top_k, parallel

    def _kids(self, node: int, size: int) -> list[int]:
        first = node * self.children + 1
        return list(range(first, min(first + self.children, size)))

    def _sift(self, heap: list[int], nodes: list[int], size: int, judge: BlockJudge) -> None:
        """Sift every node in ``nodes`` down to its place, one lockstep stage per level."""
        active = [v for v in nodes if self._kids(v, size)]
        while active:
            slots = [[v, *self._kids(v, size)] for v in active]
            judgements = judge([[heap[s] for s in block] for block in slots])
            nxt = []
            for block, judgement in zip(slots, judgements, strict=True):
                winner = block[judgement.order[0]]
                if winner != block[0]:
                    heap[block[0]], heap[winner] = heap[winner], heap[block[0]]
                    if self._kids(winner, size):
                        nxt.append(winner)
            active = nxt

    def rank(self, n: int, judge: BlockJudge) -> StrategyResult:
        heap = list(range(n))
        size = n
        if n >= 2:
            depth_of = [0] * n
            for v in range(1, n):
                depth_of[v] = depth_of[(v - 1) // self.children] + 1
            if self.parallel:
                for level in range(max(depth_of), -1, -1):
                    self._sift(heap, [v for v in range(n) if depth_of[v] == level], size, judge)
            else:  # the reference's schedule: one node at a time, last parent first
                for v in range((n - 2) // self.children, -1, -1):
                    self._sift(heap, [v], size, judge)
        top: list[int] = []
        while size:
            top.append(heap[0])
            if len(top) == self.top_k:
                # the k-th item is out: re-sorting the heap would only decide position k+1
                return StrategyResult(top + heap[1:size])
            size -= 1
            heap[0] = heap[size]
            self._sift(heap, [0], size, judge)
        return StrategyResult(top)

    def plan(self, n: int) -> Plan:
        # worst case: the parent always loses to its first child, whose subtree is the
        # deepest; best case: the parent always wins. Exact when the two agree.
        worst = simulate(lambda j: self.rank(n, j), lambda b: [1, 0, *range(2, len(b))])
        best = simulate(lambda j: self.rank(n, j), lambda b: list(range(len(b))))
        exact = (best.calls, best.depth) == (worst.calls, worst.depth)
        return Plan(self.name, n, worst.calls, worst.depth, worst.block_sizes, exact=exact)
