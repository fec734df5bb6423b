"""Block designs for JointRank: which overlapping blocks of items get judged together.

Every builder is seeded and reproducible: the same (v, k, r, seed) gives the same blocks. The
order of items inside a block is shuffled too, so no item is always shown first.

Designs (v items, blocks of k, each item in r blocks):

- ``equi-replicate``: r shuffled passes over all items cut into blocks of k; a block that
  straddles two passes is completed with items not already in it. Exact replication needs
  r·v divisible by k; otherwise it falls back to ``replicate``.
- ``replicate``: the same construction with ⌈r·v/k⌉ blocks, so every item appears at least r
  times (a few appear r+1 times).
- ``random``: ⌈r·v/k⌉ independent random k-subsets, repaired so every item is in at least r
  blocks (the pairs that meet stay irregular, unlike the pass-based designs).
- ``latin-square``: v = k²; the rows and columns of a k×k grid (2k blocks, r = 2). Any two
  items share at most one block; items in one row or column are compared directly.
- ``triangular``: v = k(k+1)/2; items are the pairs of k+1 symbols, block i holds the pairs
  containing symbol i (k+1 blocks, r = 2).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from math import isqrt

from listrank.errors import ConfigError

DESIGNS = ("equi-replicate", "replicate", "random", "latin-square", "triangular")


@dataclass(frozen=True)
class Design:
    name: str
    """The design actually built (``replicate`` when ``equi-replicate`` had to fall back)."""
    v: int
    blocks: tuple[tuple[int, ...], ...]

    def replication(self) -> Counter[int]:
        """How many blocks each item is in (items in none are absent)."""
        return Counter(i for b in self.blocks for i in b)

    def uncovered(self) -> list[int]:
        """Items that are in no block."""
        seen = self.replication()
        return [i for i in range(self.v) if i not in seen]


def _shuffled(items: list[int], rng: random.Random) -> list[int]:
    out = list(items)
    rng.shuffle(out)
    return out


def _passes(v: int, k: int, count: int, rng: random.Random) -> list[list[int]]:
    """``count`` blocks of k cut from consecutive shuffled passes over range(v).

    A block that straddles two passes takes the rest of the old pass plus random items not yet
    in it; those items open the next pass, so every slot belongs to exactly one pass and
    count·k ≥ r·v slots cover every item at least r times."""
    blocks: list[list[int]] = []
    pool = _shuffled(list(range(v)), rng)
    while len(blocks) < count:
        if len(pool) >= k:
            blocks.append(pool[:k])
            pool = pool[k:]
            continue
        in_block = set(pool)
        extra = rng.sample([i for i in range(v) if i not in in_block], k - len(pool))
        blocks.append(pool + extra)
        taken = set(extra)
        pool = _shuffled([i for i in range(v) if i not in taken], rng)
    return [_shuffled(b, rng) for b in blocks]


def _small(v: int, r: int, rng: random.Random) -> list[list[int]]:
    """Everything fits one block: r shuffled copies, so position bias averages out."""
    return [_shuffled(list(range(v)), rng) for _ in range(r)]


def replicate(v: int, k: int, r: int, rng: random.Random) -> list[list[int]]:
    if v <= k:
        return _small(v, r, rng)
    return _passes(v, k, -(-r * v // k), rng)


def equi_replicate(v: int, k: int, r: int, rng: random.Random) -> list[list[int]] | None:
    """None when r·v is not a multiple of k (exact replication impossible)."""
    if v <= k:
        return _small(v, r, rng)
    if (r * v) % k:
        return None
    return _passes(v, k, r * v // k, rng)


def random_blocks(v: int, k: int, r: int, rng: random.Random) -> list[list[int]]:
    """⌈r·v/k⌉ independent random k-subsets, then repaired so every item is in at least r
    blocks: while some item u is short, a block without u gives up one item x that is in more
    than r blocks (one exists: there are at least r·v slots and u fills fewer than r of them;
    x is in more blocks than u, so some block holds x but not u). Each swap lowers the total
    shortfall by one and leaves x with at least r, so the repair ends. The reference draws the
    subsets only, which leaves items in no block (they then rank last whatever they are)."""
    if v <= k:
        return _small(v, r, rng)
    blocks = [rng.sample(range(v), k) for _ in range(-(-r * v // k))]
    count = Counter(i for b in blocks for i in b)
    for u in range(v):
        while count[u] < r:
            for b in rng.sample(blocks, len(blocks)):  # a random block that can give one up
                spare = [pos for pos, x in enumerate(b) if count[x] > r] if u not in b else []
                if spare:
                    pos = rng.choice(spare)
                    count[b[pos]] -= 1
                    b[pos] = u
                    count[u] += 1
                    break
            else:  # impossible by the argument above; never loop forever
                raise AssertionError(f"random design cannot cover item {u}")
    return blocks


def latin_square(v: int, k: int, rng: random.Random) -> list[list[int]]:
    if k * k != v:
        root = isqrt(v)
        hint = f"; block_size={root} would fit" if root * root == v else ""
        raise ConfigError(f"the latin-square design needs v = k²; got v={v}, k={k}{hint}")
    cells = _shuffled(list(range(v)), rng)
    rows = [cells[i * k : (i + 1) * k] for i in range(k)]
    cols = [[rows[i][j] for i in range(k)] for j in range(k)]
    return [_shuffled(b, rng) for b in rows + cols]


def triangular(v: int, k: int, rng: random.Random) -> list[list[int]]:
    if k * (k + 1) // 2 != v:
        raise ConfigError(f"the triangular design needs v = k(k+1)/2; got v={v}, k={k}")
    items = iter(_shuffled(list(range(v)), rng))
    # item for each unordered pair {a, b} of k+1 symbols; block a = all pairs containing a
    pair = {(a, b): next(items) for a in range(k + 1) for b in range(a + 1, k + 1)}
    blocks = [[pair[min(a, b), max(a, b)] for b in range(k + 1) if b != a] for a in range(k + 1)]
    return [_shuffled(b, rng) for b in blocks]


def build_design(name: str, v: int, k: int, r: int = 2, *, seed: int = 0) -> Design:
    """Blocks of the named design for v items, block size k, replication r."""
    if name not in DESIGNS:
        raise ConfigError(f"unknown design {name!r}; choose one of: {', '.join(DESIGNS)}")
    if k < 2:
        raise ConfigError("block_size must be >= 2")
    if r < 1:
        raise ConfigError("replication must be >= 1")
    if v < 0:
        raise ConfigError("the number of items must be >= 0")
    if v < 2:
        return Design(name, v, ())
    rng = random.Random(f"{name}:{v}:{k}:{r}:{seed}")
    builders: dict[str, Callable[[], list[list[int]] | None]] = {
        "equi-replicate": lambda: equi_replicate(v, k, r, rng),
        "replicate": lambda: replicate(v, k, r, rng),
        "random": lambda: random_blocks(v, k, r, rng),
        "latin-square": lambda: latin_square(v, k, rng),
        "triangular": lambda: triangular(v, k, rng),
    }
    blocks = builders[name]()
    if blocks is None:
        name, blocks = "replicate", replicate(v, k, r, rng)
    return Design(name, v, tuple(tuple(b) for b in blocks))
