"""Unit tests of the pure scoring functions, with fixed times."""

from __future__ import annotations

import numpy as np
import pytest

from memory.scoring import (
    DAY,
    fuse,
    grow_strength,
    initial_strength,
    minmax,
    mix,
    mmr,
    neighbour_boost,
    pack_by_tokens,
    recency,
    retention,
    rrf,
    standardise,
    utility,
    utility_upper_bound,
)

T0 = 1_700_000_000.0


def test_retention_decreases_with_time_and_increases_with_strength() -> None:
    days = np.arange(0, 60)
    r = retention(T0, 7.0, T0 + days * DAY)  # type: ignore[arg-type]
    r = np.array([float(retention(T0, 7.0, T0 + d * DAY)) for d in days])
    assert r[0] == pytest.approx(1.0)
    assert np.all(np.diff(r) < 0)
    weak, strong = (float(retention(T0, s, T0 + 10 * DAY)) for s in (5.0, 50.0))
    assert strong > weak  # a stronger memory never fades faster (MemoryBank's bug)
    assert float(retention(T0, 7.0, T0 + 7 * DAY)) == pytest.approx(np.exp(-1))
    assert float(retention(T0 + DAY, 7.0, T0)) == pytest.approx(1.0)  # future access: no decay


def test_strength_grows_with_spacing_never_shrinks_and_is_capped() -> None:
    s = initial_strength(0.5, 7.0)
    assert s == pytest.approx(10.5) and initial_strength(1.0, 7.0) > initial_strength(0.0, 7.0)
    assert grow_strength(s, 1.5, 3650, elapsed_days=0.0) == pytest.approx(s)  # a burst gains nothing
    assert grow_strength(s, 1.5, 3650, elapsed_days=s) == pytest.approx(1.5 * s)  # a full gap: x1.5
    half = grow_strength(s, 1.5, 3650, elapsed_days=s / 2)
    assert s < half < 1.5 * s
    assert grow_strength(3000.0, 1.5, 3650) == 3650
    for growth in (0.5, 1.0, 2.0):  # growth < 1 is clamped: recall never weakens a memory
        assert grow_strength(s, growth, 3650) >= s


def test_recency_half_life() -> None:
    assert float(recency(T0, T0, 30.0)) == pytest.approx(1.0)
    assert float(recency(T0, T0 + 30 * DAY, 30.0)) == pytest.approx(0.5)
    assert float(recency(T0, T0 + 60 * DAY, 30.0)) == pytest.approx(0.25)


def test_utility_is_a_smoothed_success_rate() -> None:
    assert float(utility(0, 0)) == pytest.approx(0.5)
    assert float(utility(3, 3)) == pytest.approx(0.8)
    assert float(utility(0, 3)) == pytest.approx(0.2)
    assert utility_upper_bound(0, 10) < 0.2 < utility_upper_bound(0, 1)


def test_standardise_minmax_fuse_mix() -> None:
    assert np.allclose(standardise(np.array([1.0, 1.0])), 0.0)
    z = standardise(np.array([1.0, 2.0, 3.0]))
    assert z.mean() == pytest.approx(0.0) and z.std() == pytest.approx(1.0)
    assert np.allclose(minmax(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    assert np.allclose(minmax(np.array([5.0])), [1.0])
    fused = fuse(np.array([0.1, 0.9]), np.array([3.0, 0.0]), 1.0, 1.0)
    assert fused[0] > fused[1]  # a strong keyword match can beat a better dense match
    assert np.allclose(fuse(np.array([0.1, 0.9]), None), [-1.0, 1.0])
    total = mix({"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}, {"a": 1.0, "b": 0.5, "c": 9.0})
    assert np.allclose(total, [1.0, 0.5])


def test_rrf_neighbour_boost_mmr_and_packing() -> None:
    scores = rrf([["a", "b"], ["b", "c"]])
    assert max(scores, key=lambda k: scores[k]) == "b"
    boosted = neighbour_boost(np.array([1.0, 0.0, 0.0]), ["s", "s", "t"], [1, 2, 3], 0.5)
    assert np.allclose(boosted, [1.0, 0.5, 0.0])
    vectors = np.array([[1.0, 0.0], [0.999, 0.045], [0.0, 1.0]])
    assert mmr(np.array([1.0, 0.95, 0.6]), vectors, 2, lam=1.0) == [0, 1]
    assert mmr(np.array([1.0, 0.95, 0.6]), vectors, 2, lam=0.5) == [0, 2]
    assert pack_by_tokens([5, 10, 3], 9) == [0, 2]
    assert pack_by_tokens([5, 10, 3], None) == [0, 1, 2]
