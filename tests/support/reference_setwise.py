"""The setwise paper's heapsort written out plainly, to check listrank's against."""

from __future__ import annotations

from collections.abc import Sequence


class ReferenceHeapsort:
    """The setwise paper's heapsort, one comparison at a time: heapify from the last parent
    down to the root (sifting recursively), then swap the root out and re-heapify, stopping as
    soon as the k-th item is out. Records every block it shows."""

    def __init__(self, grades: Sequence[float], c: int) -> None:
        self.grades, self.c = grades, c
        self.blocks: list[tuple[int, ...]] = []

    def _heapify(self, arr: list[int], size: int, i: int) -> None:
        kids = list(range(self.c * i + 1, min(self.c * i + self.c + 1, size)))
        if not kids:
            return
        slots = [i, *kids]
        self.blocks.append(tuple(arr[s] for s in slots))
        best = max(slots, key=lambda s: self.grades[arr[s]])
        if best != i:
            arr[i], arr[best] = arr[best], arr[i]
            self._heapify(arr, size, best)

    def top(self, n: int, k: int) -> list[int]:
        arr = list(range(n))
        for i in range(n // self.c, -1, -1):
            self._heapify(arr, n, i)
        out = []
        for last in range(n - 1, -1, -1):
            arr[0], arr[last] = arr[last], arr[0]
            out.append(arr[last])
            if len(out) == k:
                break
            self._heapify(arr, last, 0)
        return out
