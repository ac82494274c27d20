"""Confidence intervals and summaries of the bench report."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.bench.reports import learning_curve, summarise
from agent.bench.statistics import mean_ci, wilson
from agent.core.trajectory import Episode


def test_wilson_interval_stays_within_0_and_1_and_contains_the_rate() -> None:
    assert wilson(0, 0) == (0.0, 0.0)
    lo, hi = wilson(29, 30)
    assert 0.8 < lo < 29 / 30 < hi <= 1.0
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and 0.2 < hi < 0.35  # Wilson, not a degenerate 0–0 interval
    # rounding put the upper end of 10/10 at 0.9999999999999999, below the rate, and the bench's figure
    # raised on the negative error bar after 3 hours of episodes
    assert all(0.0 <= wilson(k, n)[0] <= k / n <= wilson(k, n)[1] <= 1.0 for n in range(1, 101) for k in range(n + 1))


def test_the_figure_draws_a_run_that_won_every_task(tmp_path: Path) -> None:
    won = [Episode(env_id="e", split="test", seed=s, task_type="t", task="", first_observation="", success=True,
                   score=1.0) for s in range(10)]  # fmt: skip
    lost = [Episode(env_id="e", split="test", seed=s, task_type="t", task="", first_observation="") for s in range(10)]
    path = learning_curve(tmp_path / "curve.png", won, {"out of distribution": [summarise("none", lost),
                          summarise("full", won)]}, title="all won")  # fmt: skip
    assert path.stat().st_size > 5000


def test_score_interval_near_the_ceiling_is_cut_at_the_largest_possible_score() -> None:
    # measured on the twc bench: 29 wins and a half score read "0.97 (0.90–1.03)"
    mean, lo, hi = mean_ci([1.0] * 29 + [0.5])
    assert mean == pytest.approx(0.983, abs=1e-3)
    assert 0.9 < lo < mean and hi == 1.0
    mean, lo, hi = mean_ci([0.0] * 29 + [0.5])
    assert lo == 0.0 and mean < hi < 0.1
    # a score outside 0–1 (an environment that does not normalise) widens the range to the scores seen
    assert mean_ci([2.0, 0.0]) == (1.0, 0.0, 2.0) and mean_ci([-1.0, 1.0]) == (0.0, -1.0, 1.0)
    assert mean_ci([0.4, 0.6])[1:] == pytest.approx((0.5 - 0.196, 0.5 + 0.196), abs=1e-3)  # inside: unchanged
    assert mean_ci([]) == (0.0, 0.0, 0.0) and mean_ci([0.7]) == (0.7, 0.7, 0.7)


def test_summary_reports_success_and_score_with_their_intervals() -> None:
    episodes = [Episode(env_id="twx-twc", split="test", seed=s, task_type="", task="t", first_observation="o",
                        success=s % 2 == 0, score=1.0 if s % 2 == 0 else 0.5) for s in range(10)]  # fmt: skip
    summary = summarise("full", episodes)
    assert summary.episodes == 10 and summary.success == 0.5 and summary.score == 0.75
    assert summary.memory_steps == 0.0
    episodes[0].counters.memory_actions, episodes[1].counters.analogy_actions = 3, 1
    episodes[2].counters.likeness_actions = 1
    assert summarise("full", episodes).memory_steps == 0.5  # 5 steps without the model over 10 episodes
    assert summary.success_ci == wilson(5, 10) and summary.score_ci[1] <= 1.0
