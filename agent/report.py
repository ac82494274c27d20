"""Summaries of episode sets with 95% confidence intervals, Markdown tables and learning curves."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.trajectory import Episode

Z95 = 1.959963984540054


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a success rate (well behaved at 0 and 1 and for small n)."""
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and its normal-approximation 95% interval, kept within the range scores take (0 to 1, the
    environments' normalised score, widened to any value outside it): near a ceiling the normal
    approximation otherwise reports e.g. 0.97 (0.90–1.03)."""
    n = len(values)
    if n == 0:
        return (0.0, 0.0, 0.0)
    mean = sum(values) / n
    if n == 1:
        return (mean, mean, mean)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = Z95 * sd / math.sqrt(n)
    return (mean, max(min(0.0, *values), mean - half), min(max(1.0, *values), mean + half))


@dataclass(frozen=True)
class Summary:
    """Figures of one set of episodes (e.g. one ablation on the test tasks)."""

    name: str
    episodes: int
    success: float
    success_ci: tuple[float, float]
    score: float
    score_ci: tuple[float, float]
    steps: float
    tokens_per_episode: float
    llm_calls_per_episode: float
    seconds_per_episode: float
    seconds_per_step: float
    invalid_actions: int
    parse_failures: int
    action_mismatches: int
    loop_overrides: int
    model_errors: int
    env_errors: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def summarise(name: str, episodes: Sequence[Episode]) -> Summary:
    """Success, score, cost and mistake counts of ``episodes`` with 95% intervals."""
    n = len(episodes)
    wins = sum(e.success for e in episodes)
    score, lo, hi = mean_ci([e.score for e in episodes])
    steps = sum(e.n_steps for e in episodes)
    seconds = sum(e.seconds for e in episodes)

    def total(field: str) -> int:
        return sum(getattr(e.counters, field) for e in episodes)

    per = max(n, 1)
    return Summary(
        name=name, episodes=n, success=wins / per, success_ci=wilson(wins, n), score=score, score_ci=(lo, hi),
        steps=steps / per, tokens_per_episode=(total("input_tokens") + total("output_tokens")) / per,
        llm_calls_per_episode=total("llm_calls") / per, seconds_per_episode=seconds / per,
        seconds_per_step=seconds / max(steps, 1), invalid_actions=total("invalid_actions"),
        parse_failures=total("parse_failures"), action_mismatches=total("action_mismatches"),
        loop_overrides=total("loop_overrides"), model_errors=total("model_errors"), env_errors=total("env_errors"),
    )  # fmt: skip


def markdown_table(summaries: Sequence[Summary], title: str = "") -> str:
    """A Markdown table of summaries (success and score with 95% CIs, cost columns)."""
    lines = [f"### {title}", ""] if title else []
    lines.append("| run | n | success (95% CI) | score (95% CI) | steps | tokens/ep | LLM calls/ep | s/ep | s/step |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        lines.append(
            f"| {s.name} | {s.episodes} | {s.success:.0%} ({s.success_ci[0]:.0%}–{s.success_ci[1]:.0%}) "
            f"| {s.score:.2f} ({s.score_ci[0]:.2f}–{s.score_ci[1]:.2f}) | {s.steps:.1f} "
            f"| {s.tokens_per_episode:.0f} | {s.llm_calls_per_episode:.1f} | {s.seconds_per_episode:.1f} "
            f"| {s.seconds_per_step:.2f} |"
        )
    return "\n".join(lines) + "\n"


def learning_curve(
    path: Path,
    train: Sequence[Episode],
    evaluations: Mapping[str, Sequence[tuple[int, float]]],
    *,
    title: str,
    window: int = 10,
) -> Path:
    """Save a PNG: rolling training success over episodes, and held-out success per run as points/lines.

    Args:
        path: where to write the PNG.
        train: training episodes in the order they were played.
        evaluations: run name → list of (training episodes seen, held-out success rate).
        title: the figure title.
        window: rolling window of the training curve.
    """
    # A bare Figure (no pyplot): renders to PNG without touching the caller's backend (a notebook's inline one).
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=110)
    ax = fig.subplots()
    if train:
        wins = [1.0 if e.success else 0.0 for e in train]
        rolling = [sum(wins[max(0, i - window + 1) : i + 1]) / len(wins[max(0, i - window + 1) : i + 1])
                   for i in range(len(wins))]  # fmt: skip
        ax.plot(range(1, len(wins) + 1), rolling, color="grey", label=f"train success (rolling {window})")
    for name, points in evaluations.items():
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", label=f"held-out: {name}")
    ax.set_xlabel("training episodes")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    return path
