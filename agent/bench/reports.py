"""A bench's reports: summaries of episodes, results.json, results.md and the learning curve."""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.bench.baseline import random_episode
from agent.bench.config import SETTING_NAMES, BenchConfig, Setting
from agent.bench.statistics import mean_ci, paired_table, paired_with_none, wilson
from agent.core.runlog import RunLog
from agent.core.trajectory import Episode
from agent.learning.credit import credit, credit_table
from agent.learning.experience import namespace_for
from agent.learning.reflection import reflect_summary
from envs.base import Env
from memory import MemoryBank

log = logging.getLogger(__name__)

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
    memory_share: float = 0.0
    """Share of the episodes' time spent retrieving memory and valuing offered actions (0 in results saved before
    it was measured)."""
    model_steps: float = -1.0
    """Steps per episode the model chose (its own pick, one mapped to the nearest valid action, or a fallback
    after an unusable reply); -1 in results saved before it was counted."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


MODEL_SOURCES = frozenset({"model", "matched", "fallback"})
"""``StepRecord.source`` values of steps the model decided."""


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
        model_steps=sum(s.source in MODEL_SOURCES for e in episodes for s in e.steps) / per,
        memory_share=sum(e.counters.memory_seconds for e in episodes) / seconds if seconds else 0.0,
    )  # fmt: skip


def markdown_table(summaries: Sequence[Summary], title: str = "") -> str:
    """A Markdown table of summaries (success and score with 95% CIs, steps and those memory took without the
    model, cost columns, and the share of time spent on memory: retrieval and valuation)."""
    lines = [f"### {title}", ""] if title else []
    lines.append("| run | n | success (95% CI) | score (95% CI) | steps | by the model | from memory | tokens/ep "
                 "| LLM calls/ep | s/ep | s/step | memory time |")  # fmt: skip
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        by_model = "–" if s.model_steps < 0 else f"{s.model_steps:.1f}"
        lines.append(
            f"| {s.name} | {s.episodes} | {s.success:.0%} ({s.success_ci[0]:.0%}–{s.success_ci[1]:.0%}) "
            f"| {s.score:.2f} ({s.score_ci[0]:.2f}–{s.score_ci[1]:.2f}) | {s.steps:.1f} | {by_model} "
            f"| {s.memory_steps:.1f} "
            f"| {s.tokens_per_episode:.0f} | {s.llm_calls_per_episode:.1f} | {s.seconds_per_episode:.1f} "
            f"| {s.seconds_per_step:.2f} | {s.memory_share:.1%} |"
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


def collect(
    config: BenchConfig,
    record: dict[str, Any],
    train_seeds: list[int],
    held_out: dict[Setting, tuple[Env, list[int]]],
    run_log: RunLog,
    bank: MemoryBank,
    workers: int,
    started: float,
    out_dir: Path,
    *,
    tested: int,
) -> dict[str, Any]:
    """Summarise the episodes logged so far on the first ``tested`` held-out seeds and write the results."""
    train_episodes = [e for e in run_log.episodes if e.tag == "train"]
    results: dict[str, Any] = {"env_id": config.env_id, "preset": config.preset, "train_seeds": train_seeds,
                               "settings": {}, "llm": record["llm"], "bench": record["bench"],
                               "complete": tested >= config.test}  # fmt: skip
    if "memory_from" in record:
        results["memory_from"] = record["memory_from"]
    results["code"] = record.get("code", {})
    results["episodes_by_code"] = dict(Counter(e.code or "unknown" for e in run_log.episodes))
    results["held_out"] = {"purpose": config.held_out.purpose, "named_seeds": list(config.held_out.seeds)}
    results["families"] = list(config.actor.families)
    results["clock_frozen_at"] = record.get("clock_frozen_at")
    results["train"] = summarise("train (all trials)", train_episodes).to_dict()
    for setting, (env, all_seeds) in held_out.items():
        seeds = all_seeds[:tested]
        summaries: list[Summary] = []
        played: dict[str, list[Episode]] = {}
        for ablation in config.ablations:
            tag = f"{setting}/{ablation}"
            played[ablation] = [e for e in run_log.episodes if e.tag == tag and e.seed in seeds]
            summaries.append(summarise(ablation, played[ablation]))
        if config.random_baseline:
            # one generator per seed: the random agent's game does not depend on which seeds ran before it
            summaries.append(summarise("random", [random_episode(env, s, random.Random(s)) for s in seeds]))
        paired = [p.to_dict() for p in paired_with_none(played)]
        results["settings"][setting] = {"seeds": seeds, "split": env.split, "paired_with_none": paired,
                                        "summaries": [s.to_dict() for s in summaries]}  # fmt: skip
    results["memory"] = bank.stats()
    results["memory_credit"] = credit(bank, namespace_for(config.env_id))
    results["reflect"] = reflect_summary(out_dir)
    results["workers"] = workers
    results["wall_seconds"] = round(time.perf_counter() - started, 1)  # this invocation only (a resume restarts it)
    results["episode_seconds"] = round(sum(e.seconds for e in run_log.episodes), 1)  # every run of this bench
    write_results(out_dir, results, train_episodes)
    return results


def reflect_lines(summary: dict[str, Any], shown: int = 5) -> str:
    """What training's reflects wrote and refused, for results.md ("" when none ran)."""
    if not summary.get("runs"):
        return ""
    refused = summary["rejected"]
    text = (f"Training reflected {summary['runs']} times: {summary['insights_added']} rules added, "
            f"{summary['insights_edited']} edited, +{summary['upvotes']}/-{summary['downvotes']} votes, "
            f"{summary['failures']} unusable replies; {len(refused)} proposals refused")  # fmt: skip
    more = ["…"] if len(refused) > shown else []
    gate = summary.get("gate")
    if gate:
        per = f"{gate['seconds'] / gate['admitted']:.0f} s" if gate["admitted"] else "none admitted"
        text += (f"\n\nThe gate tried rules {gate['admitted'] + gate['refused'] + gate['kept'] + gate['demoted']} "
                 f"times in {gate['passes']} passes (paired trials at temperature 0): {gate['admitted']} admitted, "
                 f"{gate['refused']} refused, {gate['kept']} kept, {gate['demoted']} demoted; {gate['episodes']} "
                 f"episodes, {gate['model_calls']} model calls, {gate['seconds']:.0f} s ({per} per admitted rule)")
    return text + "".join(f"\n- {reason}" for reason in [*refused[:shown], *more]) + "\n"


def write_results(out_dir: Path, results: dict[str, Any], train: Sequence[Episode]) -> None:
    """results.json, results.md (tables with 95% CIs) and learning_curve.png."""
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    parts = [f"# {results['env_id']} ({results['preset']}): {len(results['train_seeds'])} training tasks\n"]
    if results.get("memory_from"):
        parts.append(f"Memory: brought in from {results['memory_from']} (`--memory-dir` or `--chroma-url`); "
                     f"this bench's training, if any, added to it.\n")  # fmt: skip
    families = results.get("families")
    if families is not None:
        parts.append(f"Family plug-ins: {', '.join(families) or 'none'} "
                     f"({'its grammar rules were on' if families else 'the agent used no game-specific code'}).\n")
    by_code = results.get("episodes_by_code", {})
    if len(by_code) > 1:
        parts.append("**Episodes of this bench were played by different agent code** (episodes per code hash: "
                     + ", ".join(f"{code} {n}" for code, n in by_code.items()) + "): its figures mix code versions.\n")
    held = results.get("held_out", {})
    if held.get("named_seeds"):
        parts.append("Held-out seeds: named with --test-seeds.\n")
    elif held.get("purpose"):
        parts.append(f"Held-out seeds: the {held['purpose']} range (agent/bench/seeds.py).\n")
    if "episode_seconds" in results:
        parts.append(f"Model time over all episodes (every resume of this bench): "
                     f"{results['episode_seconds'] / 3600:.1f} h.\n")  # fmt: skip
    held_out: dict[str, list[Summary]] = {}
    for setting, block in results["settings"].items():
        summaries = [Summary(**{**s, "success_ci": tuple(s["success_ci"]), "score_ci": tuple(s["score_ci"])})
                     for s in block["summaries"]]  # fmt: skip
        name = SETTING_NAMES[setting]
        parts.append(markdown_table(summaries, title=f"{name}: {len(block['seeds'])} tasks"))
        if block.get("paired_with_none"):
            parts.append(paired_table(block["paired_with_none"], "the same tasks, with memory vs without (none)"))
        held_out[name] = summaries
    parts.append(reflect_lines(results.get("reflect") or {}))
    kinds = results.get("memory_credit", {}).get("kinds", {})
    if kinds:
        parts.append(credit_table(kinds, shown=results.get("bench", {}).get("evolution", {}).get("credit_shown", True)))
    (out_dir / "results.md").write_text("\n".join(parts))
    title = f"{results['env_id']} ({results['preset']}): {len(results['train_seeds'])} training tasks, held-out success"
    try:
        learning_curve(out_dir / "learning_curve.png", train, held_out, title=title)
    except Exception:  # the figure must not end a bench of hours: its figures are already written above
        log.exception("learning_curve.png could not be drawn; results.json and results.md are written")
