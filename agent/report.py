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
    # exact at the edges: rounding gave 0.9999999999999999 for 10/10, an interval that misses its own rate
    return (0.0 if successes == 0 else min(p, centre - half), 1.0 if successes == n else max(p, centre + half))


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
    memory_steps: float = 0.0
    """Steps per episode memory took without the model (what earned points, by analogy, by likeness); 0 in
    results saved before it was counted."""

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
        memory_steps=(total("memory_actions") + total("analogy_actions") + total("likeness_actions")) / per,
    )  # fmt: skip


def markdown_table(summaries: Sequence[Summary], title: str = "") -> str:
    """A Markdown table of summaries (success and score with 95% CIs, steps and those memory took without the
    model, cost columns)."""
    lines = [f"### {title}", ""] if title else []
    lines.append("| run | n | success (95% CI) | score (95% CI) | steps | from memory | tokens/ep | LLM calls/ep "
                 "| s/ep | s/step |")  # fmt: skip
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        lines.append(
            f"| {s.name} | {s.episodes} | {s.success:.0%} ({s.success_ci[0]:.0%}–{s.success_ci[1]:.0%}) "
            f"| {s.score:.2f} ({s.score_ci[0]:.2f}–{s.score_ci[1]:.2f}) | {s.steps:.1f} | {s.memory_steps:.1f} "
            f"| {s.tokens_per_episode:.0f} | {s.llm_calls_per_episode:.1f} | {s.seconds_per_episode:.1f} "
            f"| {s.seconds_per_step:.2f} |"
        )
    return "\n".join(lines) + "\n"


def learning_curve(
    path: Path,
    train: Sequence[Episode],
    held_out: Mapping[str, Sequence[Summary]],
    *,
    title: str,
    window: int = 10,
) -> Path:
    """Save a PNG: how training went (rolling success and score over the training episodes), and beside it one
    panel per held-out setting with each run's success and its 95% interval, `none` drawn across as the line
    memory has to beat and the random agent in grey.

    Args:
        path: where to write the PNG.
        train: training episodes in the order they were played.
        held_out: setting title → the summaries of the runs on its tasks.
        title: the figure title.
        window: rolling window of the training curves.
    """
    # A bare Figure (no pyplot): renders to PNG without touching the caller's backend (a notebook's inline one).
    from matplotlib.figure import Figure

    panels = [(name, runs) for name, runs in held_out.items() if runs]
    fig = Figure(figsize=(4.2 * (1 + len(panels)), 4.2), dpi=110)
    axes = fig.subplots(1, 1 + len(panels), squeeze=False)[0]
    ax = axes[0]
    if train:
        for label, values, colour in (("success", [1.0 if e.success else 0.0 for e in train], "tab:blue"),
                                      ("score", [e.score for e in train], "tab:orange")):  # fmt: skip
            rolling = [sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1])
                       for i in range(len(values))]  # fmt: skip
            ax.plot(range(1, len(values) + 1), rolling, color=colour, label=f"{label} (rolling {window})")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"training: {len(train)} episodes", fontsize=10)
    ax.set_xlabel("training episode")
    ax.set_ylabel("success rate")
    for ax, (name, runs) in zip(axes[1:], panels, strict=True):
        xs = range(len(runs))
        heights = [r.success for r in runs]
        errors = [[max(0.0, r.success - r.success_ci[0]) for r in runs],
                  [max(0.0, r.success_ci[1] - r.success) for r in runs]]  # fmt: skip
        colours = ["lightgrey" if r.name == "random" else "tab:green" if r.name == "full" else "tab:blue" for r in runs]
        ax.bar(xs, heights, yerr=errors, capsize=3, color=colours)
        for x, r in zip(xs, runs, strict=True):
            dark = r.success > 0.1 and r.name != "random"
            ax.text(x, 0.02, f"{r.success:.0%}", ha="center", fontsize=8, color="white" if dark else "black")
        baseline = next((r.success for r in runs if r.name == "none"), None)
        if baseline is not None:
            ax.axhline(baseline, color="black", linestyle="--", linewidth=1, label="none")
            ax.legend(loc="upper left", fontsize=8)
        ax.set_xticks(list(xs), [r.name for r in runs], rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{name}: {max((r.episodes for r in runs), default=0)} tasks", fontsize=10)
    for ax in axes:
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    return path
