"""``evolve demo``: the main job in small, with the embedded default stack.

The agent trains on a few games (acquisition, Reflexion and STaR refinement, memory update), then
plays games it never trained on twice, without memory and with it, in the same run. The table it
ends with pairs the two per game and says who chose the actions with memory: the model, or memory
followed by rule code without asking the model. Everything lands in a bench directory that
``evolve bench`` can resume and ``evolve memory --memory-dir`` can inspect.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from pathlib import Path

from langchain_core.language_models.chat_models import BaseChatModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.bench.config import BenchConfig
from agent.bench.runner import run_bench
from agent.core.runlog import RunLog
from agent.core.state import ActorConfig
from agent.core.trajectory import Episode
from agent.learning.config import EvolutionConfig
from agent.learning.evolve import Progress
from agent.llm.config import LLMConfig
from memory import MemoryBank, MemoryConfig

DECIDERS = {"model": "model", "matched": "model", "memory": "memory", "analogy": "memory", "likeness": "memory",
            "explore": "loop control", "fallback": "fallback"}  # fmt: skip
"""Who chose a step, by its ``StepRecord.source``: the model, memory acted on by rule code, or the loop control."""


PHASES = {"train": "training", "none": "unseen, without memory", "full": "unseen, with memory"}
"""How the progress lines name the bench's phases (training, and the ablations ``none`` and ``full``)."""

SHOWN_FIRST = ("insight", "reflection", "fact", "experience")
"""The order memories are listed in: rules and facts say more in one line than whole experiences."""


def deciders(episodes: list[Episode]) -> Counter[str]:
    """How many steps of ``episodes`` each decider chose."""
    return Counter(DECIDERS.get(step.source, step.source) for e in episodes for step in e.steps)


def outcome(episode: Episode | None) -> str:
    """One cell of the per-game table."""
    if episode is None:
        return "-"
    if episode.success:
        return f"[green]won[/] in {episode.n_steps} steps"
    return f"[red]lost[/] after {episode.n_steps} steps, score {episode.score:.2f}"


def set_aside(out_dir: Path) -> None:
    """Move an earlier demo's directory to ``OUT.previous`` (one generation kept), so each demo runs anew."""
    if not (out_dir / "config.json").is_file():
        return
    previous = out_dir.with_name(out_dir.name + ".previous")
    if previous.exists():
        shutil.rmtree(previous)
    out_dir.rename(previous)


def shipped_bench(env_id: str, results: Path = Path("benchmarks/results")) -> str:
    """One line on the committed full bench of ``env_id`` (read from the checkout), or '' when there is none."""
    path = results / f"bench-{env_id}" / "results.json"
    if not path.is_file():
        return ""
    data = json.loads(path.read_text())
    block = data["settings"].get("in")
    if not block:
        return ""
    rate = {s["name"]: s["success"] for s in block["summaries"]}
    if "none" not in rate or "full" not in rate:
        return ""
    return (f"The same comparison at scale, committed in {path.parent}/ ({len(data['train_seeds'])} training games, "
            f"{len(block['seeds'])} unseen ones): without memory {rate['none']:.0%}, with memory {rate['full']:.0%}.")


def run_demo(
    config: LLMConfig,
    out_dir: Path,
    console: Console,
    *,
    env_id: str = "twx-cookingworld",
    train: int = 2,
    test: int = 2,
    max_steps: int = 20,
    chat: BaseChatModel | None = None,
) -> None:
    """Train, then play the held-out games without and with memory, and print what memory changed.

    ``chat`` replaces the model built from ``config`` (tests inject the scripted double).
    """
    start = time.perf_counter()
    set_aside(out_dir)
    bench = BenchConfig(
        env_id=env_id, preset="easy", train=train, test=test, settings=("in",), ablations=("none", "full"),
        evolution=EvolutionConfig(trials=1, max_steps=max_steps, reflect_every=0, forget_every=0),
        actor=ActorConfig(),
    )  # fmt: skip
    console.rule(f"self-evolution on {env_id} (easy)")
    console.print(f"model: {config.backend}. {train} training games, then {test} games it never trained on, "
                  f"played without memory and with it (at most {max_steps} steps a game).")  # fmt: skip

    def show(event: Progress) -> None:
        e = event.last
        if e is None:
            return
        phase = PHASES.get(event.phase.rsplit("/", 1)[-1], event.phase)
        who = deciders([e])
        used = f"; {who['memory']} of its steps from memory" if who["memory"] else ""
        console.print(f"[bold]{phase}[/] {event.done}/{event.total}: game {e.seed} {outcome(e)}, "
                      f"{e.seconds:.0f} s{used}")  # fmt: skip

    results = run_bench(config, bench, out_dir, on_progress=show, chat=chat)
    console.rule("what the agent wrote to its memory")
    bank = MemoryBank(MemoryConfig(path=out_dir / "memory"))
    try:
        records = bank.memories(namespace=f"env:{env_id}")
        shown = sorted(records, key=lambda r: SHOWN_FIRST.index(r.kind.value) if r.kind.value in SHOWN_FIRST else 9)
        for record in shown[:8]:
            text = " ".join(record.text.split())
            console.print(f"[cyan]{record.kind.value:10}[/] {escape(text[:110])}", highlight=False)
        console.print(f"{len(records)} memories in all: " + ", ".join(f"{n} {k}" for k, n in
                      sorted(Counter(r.kind.value for r in records).items())))  # fmt: skip
    finally:
        bank.close()
    episodes = RunLog.open(out_dir / "episodes.jsonl").episodes
    played = {tag: {e.seed: e for e in episodes if e.tag == tag} for tag in ("in/none", "in/full")}
    seeds = results["settings"]["in"]["seeds"]
    console.rule(f"games it never trained on (seeds {seeds[0]}-{seeds[-1]}; trained on {results['train_seeds']})")
    table = Table("game", "without memory", "with memory", "steps chosen by")
    for seed in seeds:
        with_memory = played["in/full"].get(seed)
        who = deciders([with_memory]) if with_memory else Counter()
        table.add_row(str(seed), outcome(played["in/none"].get(seed)), outcome(with_memory),
                      ", ".join(f"{who[k]} {k}" for k in ("model", "memory", "loop control", "fallback") if who[k]))
    wins = {tag: sum(e.success for e in games.values()) for tag, games in played.items()}
    randoms = next(s for s in results["settings"]["in"]["summaries"] if s["name"] == "random")
    table.add_row("[bold]won[/]", f"{wins['in/none']}/{len(seeds)}", f"{wins['in/full']}/{len(seeds)}",
                  f"random agent: {round(randoms['success'] * len(seeds))}/{len(seeds)}")  # fmt: skip
    console.print(table)
    console.print("'memory' steps are actions memory says earned points before, taken by rule code without asking "
                  "the model; 'model' steps are the model's choice, with memories in its prompt.")  # fmt: skip
    console.print(f"results: {out_dir / 'results.md'} (and .json, learning_curve.png); "
                  f"[green]demo finished in {time.perf_counter() - start:.0f} s[/]")  # fmt: skip
    shipped = shipped_bench(env_id)
    if shipped:
        console.print(shipped)
    console.rule("go further")
    console.print(f".venv/bin/evolve memory list --memory-dir {out_dir / 'memory'}   # what it remembers, and why")
    console.print(f".venv/bin/evolve bench {env_id} --train 30 --test 30   # the full bench (hours on 2 cores)")
    console.print(".venv/bin/evolve chat --user you   # talk to the agent; it remembers you across sessions")
