"""A Gaussian posterior over item strengths from every block judged so far (Plackett–Luce
likelihood, Laplace approximation), and each item's probability of being in the top k.

Model: item i has strength θᵢ with prior N(mᵢ, s²). A block's order o₁ > o₂ > … is read as
Plackett–Luce: o₁ is chosen first from the whole block with probability e^θ(o₁) / Σ e^θ, then
o₂ from the rest, and so on. Items only placed by repair (``filled``) are never chosen: they
stay in the sets they lose to, so a setwise answer (one winner, the rest filled) says exactly
"the winner beats the set". The MAP strengths come from Newton's method on the (concave) log
posterior; the posterior is approximated by a Gaussian there, with each item's variance the
diagonal of the inverse negative Hessian.

Top-k membership follows AcuRank (soyoung97/AcuRank): find the threshold t at which the
expected number of items above it is k, Σᵢ P(θᵢ > t) = k, and take pᵢ = P(θᵢ > t). Items with
pᵢ near 0 or 1 are settled; the rest are what further calls should be spent on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from threadpoolctl import threadpool_limits

_NORMAL = NormalDist()
_MAX_STEP = 4.0
"""Largest Newton move of any strength per iteration (the first steps from a flat prior can
overshoot)."""


@dataclass(frozen=True)
class Observation:
    """One judged block: its items best first, and those only placed by repair."""

    order: tuple[int, ...]
    filled: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Posterior:
    mean: tuple[float, ...]
    sd: tuple[float, ...]


def rank_prior(n: int, weight: float) -> list[float]:
    """Prior means from the input (first-stage) order: normal quantiles of the rank, scaled by
    ``weight`` (0: the input order carries no information)."""
    return [weight * _NORMAL.inv_cdf(1.0 - (r + 0.5) / n) for r in range(n)]


def _steps(n: int, observations: Sequence[Observation]) -> tuple[np.ndarray, np.ndarray]:
    """Every Plackett–Luce step as a row: (mask of the set chosen from, the item chosen)."""
    rows: list[list[int]] = []
    chosen: list[int] = []
    for obs in observations:
        order = list(obs.order)
        for j, item in enumerate(order[:-1]):
            if item not in obs.filled:
                rows.append(order[j:])
                chosen.append(item)
    mask = np.zeros((len(rows), n))
    for r, pool in enumerate(rows):
        mask[r, pool] = 1.0
    return mask, np.bincount(np.asarray(chosen, dtype=int), minlength=n).astype(float)


def fit(
    n: int,
    observations: Sequence[Observation],
    prior_mean: Sequence[float],
    prior_sd: float = 1.0,
    *,
    sharpness: float = 1.0,
    iterations: int = 100,
    tol: float = 1e-8,
) -> Posterior:
    """The Laplace-approximated posterior given every observation (their order does not
    matter). ``sharpness`` weighs every judgement (a judge that is rarely wrong earns more
    than Plackett–Luce's unit temperature credits it with). Newton steps on the concave log
    posterior, all steps at once as matrices: gradient = wins − Σ_steps p − prior term,
    Hessian = −(diag(Σ p) − PᵀP) − prior."""
    with threadpool_limits(1, user_api="blas"):  # 100×100 solves: threads only cost
        return _fit(n, observations, prior_mean, prior_sd, sharpness, iterations, tol)


def _fit(
    n: int,
    observations: Sequence[Observation],
    prior_mean: Sequence[float],
    prior_sd: float,
    sharpness: float,
    iterations: int,
    tol: float,
) -> Posterior:
    m = np.asarray(prior_mean, dtype=float)
    precision = 1.0 / prior_sd**2
    mask, wins = _steps(n, observations)
    theta = m.copy()
    eye = np.eye(n)
    hessian = -precision * eye
    for _ in range(iterations):
        row_max = np.where(mask > 0, theta, -np.inf).max(axis=1, keepdims=True)
        weights = mask * np.exp(np.minimum(theta - row_max, 0.0))  # no row underflows to 0
        probs = weights / weights.sum(axis=1, keepdims=True)
        grad = sharpness * (wins - probs.sum(axis=0)) - precision * (theta - m)
        hessian = -sharpness * (np.diag(probs.sum(axis=0)) - probs.T @ probs) - precision * eye
        step = np.linalg.solve(hessian, grad)
        step *= min(1.0, _MAX_STEP / max(float(np.max(np.abs(step))), 1e-300))  # damped
        theta = theta - step
        if np.max(np.abs(step)) < tol:
            break
    cov = np.linalg.inv(-hessian)
    sd = np.sqrt(np.clip(np.diag(cov), 1e-12, None))
    return Posterior(tuple(float(x) for x in theta), tuple(float(x) for x in sd))


def top_k_probabilities(posterior: Posterior, k: int) -> list[float]:
    """P(item above the threshold t with Σ P(θᵢ > t) = k), by bisection on t."""
    mean, sd = np.asarray(posterior.mean), np.asarray(posterior.sd)
    n = len(mean)
    if k >= n:
        return [1.0] * n
    if k <= 0:
        return [0.0] * n

    from scipy.special import ndtr  # imported here: plans and configs load without scipy

    def above(t: float) -> np.ndarray:
        return np.asarray(ndtr((mean - t) / sd))

    lo, hi = float((mean - 10 * sd).min()), float((mean + 10 * sd).max())
    for _ in range(60):
        mid = (lo + hi) / 2
        if above(mid).sum() > k:
            lo = mid
        else:
            hi = mid
    return [float(x) for x in above((lo + hi) / 2)]
