"""Pure scoring functions: recency, Ebbinghaus retention, utility, fusion, MMR.

Everything here is a function of numbers (and numpy arrays); nothing reads a clock, a store or a model,
so it is unit-tested with fixed times. Conventions: times in Unix seconds, durations in days, every
score returned is higher-is-better.

Forgetting curve: retention R = exp(-t / S), with t the time since the memory was last recalled (or
created) and S its strength in days. S starts at ``base * (1 + importance)`` and is multiplied by a
factor >= 1 at each recall, so a stronger or more important memory always fades *slower* (MemoryBank
divides the other way round in places, which makes strong memories fade faster).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DAY = 86_400.0


def recency(created_at: np.ndarray | float, now: float, half_life_days: float) -> np.ndarray:
    """0.5 ** (age / half-life), 1 for a memory made now; future timestamps count as age 0."""
    age = np.maximum(0.0, (now - np.asarray(created_at, dtype=np.float64)) / DAY)
    return np.power(0.5, age / half_life_days)


def initial_strength(importance: float, base_days: float) -> float:
    """Strength S (days) of a new memory: more important memories start stronger."""
    return base_days * (1.0 + max(0.0, min(1.0, importance)))


def grow_strength(strength: float, growth: float, max_days: float, elapsed_days: float | None = None) -> float:
    """Strength after one recall; never smaller than before (a recall never speeds up forgetting).

    Spacing effect (as in SM-2 and FSRS): the gain ``S * (growth - 1)`` is scaled by ``min(1, t/S)``,
    t = days since the last recall, so a burst of recalls in one sitting barely strengthens a memory
    while a recall after a long gap multiplies S by ``growth``. ``elapsed_days=None`` means a full gap.
    """
    spacing = 1.0 if elapsed_days is None else min(1.0, max(0.0, elapsed_days) / max(strength, 1e-9))
    return min(max_days, max(strength, strength * (1.0 + (max(1.0, growth) - 1.0) * spacing)))


def retention(last_access: np.ndarray | float, strength: np.ndarray | float, now: float) -> np.ndarray:
    """Ebbinghaus retention exp(-t/S), 0..1; t = days since last access, S = strength in days."""
    t = np.maximum(0.0, (now - np.asarray(last_access, dtype=np.float64)) / DAY)
    s = np.maximum(np.asarray(strength, dtype=np.float64), 1e-9)
    return np.exp(-t / s)


def utility(
    successes: np.ndarray | float, trials: np.ndarray | float, prior_a: float = 1.0, prior_b: float = 1.0
) -> np.ndarray:
    """Posterior mean success rate under a Beta(a, b) prior, 0..1; a memory never used scores a/(a+b)."""
    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    return (s + prior_a) / (n + prior_a + prior_b)


def utility_upper_bound(successes: float, trials: int, z: float = 1.0) -> float:
    """Optimistic (mean + z * sd) utility under Beta(1, 1); pruning uses it so that luck is not punished."""
    a = successes + 1.0
    b = trials - successes + 1.0
    mean = a / (a + b)
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
    return min(1.0, mean + z * sd)


def standardise(values: np.ndarray, mean: float | None = None, std: float | None = None) -> np.ndarray:
    """(x - mean) / std with the array's own statistics unless given; a constant array maps to zeros."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x
    m = float(x.mean()) if mean is None else mean
    s = float(x.std()) if std is None else std
    if s <= 1e-12:
        return np.zeros_like(x)
    return (x - m) / s


def minmax(values: np.ndarray) -> np.ndarray:
    """Scale to 0..1; a constant array maps to ones (every candidate equally relevant)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    if hi - lo <= 1e-12:
        return np.ones_like(x)
    return (x - lo) / (hi - lo)


def fuse(
    dense: np.ndarray,
    keyword_z: np.ndarray | None,
    dense_weight: float = 1.0,
    keyword_weight: float = 1.0,
) -> np.ndarray:
    """Fused relevance: weighted sum of standardised dense similarity and standardised BM25 scores.

    The dense similarities are standardised over the candidates; ``keyword_z`` comes standardised
    already, each against the statistics of its whole keyword index (BM25 scores of different indexes
    are not comparable raw). Standardising, rather than reciprocal-rank fusion, keeps how far ahead the
    best match is; on LoCoMo it beat RRF (see benchmarks/locomo_retrieval.py).
    """
    fused = dense_weight * standardise(dense)
    if keyword_z is not None and keyword_weight > 0:
        fused = fused + keyword_weight * np.asarray(keyword_z, dtype=np.float64)
    return fused


def rrf(rankings: Sequence[Sequence[str]], k: int = 60, weights: Sequence[float] | None = None) -> dict[str, float]:
    """Reciprocal-rank fusion of several rankings (best first): id -> sum of w / (k + rank)."""
    scores: dict[str, float] = {}
    for i, ranking in enumerate(rankings):
        w = 1.0 if weights is None else weights[i]
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + w / (k + rank + 1)
    return scores


def neighbour_boost(
    scores: np.ndarray, threads: Sequence[str | None], seqs: Sequence[int | None], boost: float
) -> np.ndarray:
    """Each candidate gains ``boost`` times the best score among its candidate neighbours (same thread, seq±1).

    Conversations answer a question in the turn after it: a strong hit lends weight to the turns beside it.
    """
    if boost <= 0 or len(scores) == 0:
        return scores
    pos: dict[tuple[str, int], int] = {}
    for i, (thread, seq) in enumerate(zip(threads, seqs, strict=True)):
        if thread is not None and seq is not None:
            pos[(thread, seq)] = i
    out = scores.copy()
    for (thread, seq), i in pos.items():
        best = None
        for j in (pos.get((thread, seq - 1)), pos.get((thread, seq + 1))):
            if j is not None and (best is None or scores[j] > best):
                best = scores[j]
        if best is not None:
            out[i] += boost * best
    return out


def mix(parts: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Weighted sum of score parts (each 0..1, higher is better)."""
    total: np.ndarray | None = None
    for name, w in weights.items():
        if w == 0 or name not in parts:
            continue
        term = w * np.asarray(parts[name], dtype=np.float64)
        total = term if total is None else total + term
    if total is None:
        n = len(next(iter(parts.values()))) if parts else 0
        return np.zeros(n)
    return total


def mmr(scores: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> list[int]:
    """Maximal marginal relevance: pick ``k`` indices trading score (lam) against similarity to picks.

    ``scores`` should be 0..1-ish; ``vectors`` are unit rows (a zero row counts as dissimilar to all).
    """
    n = len(scores)
    if n == 0 or k <= 0:
        return []
    sims = vectors @ vectors.T
    chosen: list[int] = []
    best_sim = np.full(n, -np.inf)
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        redundancy = np.where(np.isfinite(best_sim), best_sim, 0.0)
        value = lam * scores - (1.0 - lam) * redundancy
        value = np.where(available, value, -np.inf)
        i = int(np.argmax(value))
        chosen.append(i)
        available[i] = False
        best_sim = np.maximum(best_sim, sims[i])
    return chosen


def pack_by_tokens(token_counts: Sequence[int], budget: int | None) -> list[int]:
    """Indices (in order) of the items that fit a token budget, greedily; items too big are skipped."""
    if budget is None:
        return list(range(len(token_counts)))
    chosen, used = [], 0
    for i, t in enumerate(token_counts):
        if used + t <= budget:
            chosen.append(i)
            used += t
    return chosen
