"""``evolve demo``: the main job in small, with the embedded default stack.

A short self-evolution run on TextWorldExpress ``twc`` (easy): the agent attempts a few training
games (acquisition), reflects on failures and replays the gold path when all trials failed
(refinement), writes experiences and grounded facts to its memory bank (update), then plays unseen
games of the same fold with and without its memory (evaluation). It prints what happened at each
phase, the memories it wrote, and where the results and learning curve are.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from agent.bench import BenchConfig, run_bench
from agent.evolve import EvolutionConfig, Progress
from agent.llm.config import LLMConfig
from memory import MemoryBank, MemoryConfig


def run_demo(config: LLMConfig, out_dir: Path, console: Console, *, train: int = 2, test: int = 2) -> None:
    """Run the demo, printing each episode and the final table."""
    start = time.perf_counter()
    bench = BenchConfig(
        env_id="twx-twc", preset="easy", train=train, test=test, settings=("in",), ablations=("none", "full"),
        evolution=EvolutionConfig(trials=1, max_steps=10, reflect_every=0, forget_every=0),
    )  # fmt: skip
    console.rule("self-evolution on TextWorldExpress twc (easy): put objects where they belong")
    console.print(f"model: {config.backend}; {train} training games, then {test} unseen games without and with memory")

    def show(event: Progress) -> None:
        e = event.last
        if e is None:
            return
        outcome = "[green]won[/]" if e.success else f"[red]lost[/] (score {e.score:.2f})"
        memories = f", {len(e.memory_ids)} memories used" if e.memory_ids else ""
        console.print(f"[bold]{event.phase}[/] {event.done}/{event.total}: game {e.seed} trial {e.trial} {outcome} "
                      f"in {e.n_steps} steps, {e.seconds:.0f} s{memories}")  # fmt: skip
        console.print(f"   actions: {' -> '.join(s.action for s in e.steps)[:300]}")

    results = run_bench(config, bench, out_dir, on_progress=show)
    console.rule("what the agent wrote to its memory")
    bank = MemoryBank(MemoryConfig(path=out_dir / "memory"))
    try:
        for record in bank.memories(namespace="env:twx-twc")[:12]:
            console.print(f"[cyan]{record.kind.value:10}[/] {record.text[:150]}")
        console.print(f"memory stats: {bank.stats().get('by_kind', bank.stats())}")
    finally:
        bank.close()
    console.rule("held-out games (in distribution)")
    console.print((out_dir / "results.md").read_text())
    console.print(f"results: {out_dir / 'results.json'}; learning curve: {out_dir / 'learning_curve.png'}")
    console.print(f"[green]demo finished in {time.perf_counter() - start:.0f} s[/] (wall {results['wall_seconds']} s)")
