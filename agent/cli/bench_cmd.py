"""``evolve bench``, ``evolve run`` and ``evolve demo``: evolve on training tasks and test on held-out ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from agent.cli.options import (
    BaseUrlOpt,
    CtxOpt,
    FamiliesOpt,
    GateOpt,
    LlmOpt,
    ModelOpt,
    RecallsOpt,
    ThreadsOpt,
    comma_list,
    llm_config,
    parse_families,
    parse_held_out,
    sigterm_as_interrupt,
)
from agent.cli.output import fail, stdout
from agent.cli.progress import progress_bar
from agent.errors import EvolveError, UsageError
from agent.llm.config import BackendChoice, LLMConfig

WorkersOpt = Annotated[
    int,
    typer.Option(min=1, help="Worker processes running episodes in parallel on one shared memory (a Chroma server); "
                 "use with --llm openai --base-url of a shared model server (evolve serve-model)."),
]  # fmt: skip


ChromaUrlOpt = Annotated[
    str | None,
    typer.Option(help="Chroma server for the memory, e.g. http://127.0.0.1:8000 (default with --workers > 1: "
                 "start one under OUT/chroma-server for the run)."),
]  # fmt: skip


HeldOutOpt = Annotated[
    str, typer.Option("--held-out", help="Held-out seed range: dev (debug and tune), report (a final run), legacy.")
]
TestSeedsOpt = Annotated[
    str | None, typer.Option("--test-seeds", help="Play these held-out seeds instead, e.g. 700-729 (one setting).")
]
AllowCodeChangeOpt = Annotated[
    bool, typer.Option("--allow-code-change", help="Resume a bench that other agent code played (results say so).")
]
AllowLocalWorkersOpt = Annotated[
    bool, typer.Option(help="Let each worker load its own copy of a local model (slow on a small machine).")
]


def run_with_progress(
    llm: LLMConfig,
    config: Any,
    out_dir: Path,
    memory_dir: Path | None,
    *,
    workers: int = 1,
    chroma_url: str | None = None,
    allow_local_workers: bool = False,
    allow_code_change: bool = False,
) -> dict[str, Any]:
    """Run a bench (or a training-only run) behind a progress bar; project errors exit 2 without a trace, and
    Ctrl-C or SIGTERM stops it with what was saved (the same command resumes) and exit code 130."""
    from agent.bench import runner
    from envs.errors import EnvRuntimeError, EnvUsageError
    from memory.errors import MemoryBankError

    bar, update = progress_bar(lambda e: e.phase, console=stdout(), describe=episode_line)
    try:
        with sigterm_as_interrupt(), bar:
            return runner.run_bench(llm, config, out_dir, memory_dir=memory_dir, on_progress=update, workers=workers,
                                    chroma_url=chroma_url, allow_local_workers=allow_local_workers,
                                    allow_code_change=allow_code_change)  # fmt: skip
    except (EvolveError, EnvUsageError, EnvRuntimeError, MemoryBankError) as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        typer.echo(f"stopped: finished episodes and the memory are saved in {out_dir}; run the same command "
                   "again to resume", err=True)  # fmt: skip
        raise typer.Exit(code=130) from None


def episode_line(event: Any) -> str:
    """What the bar shows of the last finished episode."""
    e = event.last
    if e is None:
        return ""
    return f"seed {e.seed}: {'won' if e.success else 'lost'} score {e.score:.2f} in {e.n_steps} steps"


def bench(
    env_id: Annotated[str, typer.Argument(help="Environment id (see `evolve envs list`).")],
    train: Annotated[int, typer.Option(min=0, help="Training tasks.")] = 30,
    test: Annotated[int, typer.Option(min=1, help="Held-out tasks per setting.")] = 30,
    ablations: Annotated[str, typer.Option(help="Comma-separated: none,reflexion,trajectories,insights,"
                                                 "insights-ungated,facts,full,full-model,rules.")]
    = "none,reflexion,trajectories,insights,full",
    settings: Annotated[str, typer.Option(help="in (unseen games of the training fold), out (test fold).")] = "in,out",
    preset: Annotated[str, typer.Option(help="Environment preset.")] = "easy",
    trials: Annotated[int, typer.Option(min=1, help="Attempts per training task (Reflexion).")] = 2,
    samples: Annotated[int, typer.Option(min=1, help="Episodes per trial (self-consistency; extra ones sampled "
                                                     "at temperature 0.7).")] = 1,
    max_steps: Annotated[int, typer.Option(min=1, help="Step limit per episode.")] = 30,
    recalls: RecallsOpt = 2,
    gate: GateOpt = True,
    out: Annotated[Path | None, typer.Option(help="Output directory (default runs/bench-ENV).")] = None,
    memory_dir: Annotated[Path | None, typer.Option(help="Memory bank directory (default OUT/memory).")] = None,
    random_baseline: Annotated[bool, typer.Option(help="Also run a random agent.")] = True,
    llm: LlmOpt = BackendChoice.local,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = "local",
    threads: ThreadsOpt = 2,
    ctx: CtxOpt = 4096,
    workers: WorkersOpt = 1,
    chroma_url: ChromaUrlOpt = None,
    allow_local_workers: AllowLocalWorkersOpt = False,
    held_out: HeldOutOpt = "dev",
    test_seeds: TestSeedsOpt = None,
    allow_code_change: AllowCodeChangeOpt = False,
    families: FamiliesOpt = "textworld",
) -> None:
    """Evolve on training tasks, then run every ablation and a random agent on the same held-out tasks."""
    from agent.bench.config import BenchConfig, HeldOutConfig
    from agent.bench.seeds import parse_seeds
    from agent.core.state import ActorConfig
    from agent.learning.config import EvolutionConfig
    from agent.learning.recall import parse_ablations

    try:
        names = parse_ablations(ablations)
        chosen = comma_list(settings)
        if not chosen or any(s not in ("in", "out") for s in chosen):
            raise UsageError(f"--settings {settings!r}: use in, out or in,out")
        purpose = parse_held_out(held_out)
        named = parse_seeds(test_seeds) if test_seeds else ()
        config = BenchConfig(env_id=env_id, preset=preset, train=train, test=len(named) or test,
                             settings=chosen, ablations=tuple(names), random_baseline=random_baseline,  # type: ignore[arg-type]
                             evolution=EvolutionConfig(trials=trials, samples=samples, max_steps=max_steps,
                                                       recalls=recalls, gate=gate),
                             actor=ActorConfig(families=parse_families(families)),  # type: ignore[arg-type]
                             held_out=HeldOutConfig(purpose=purpose, seeds=named))  # fmt: skip
    except EvolveError as exc:
        raise fail(exc) from None
    out_dir = out or Path("runs") / f"bench-{env_id}"
    llm_cfg = llm_config(llm, base_url, model, threads, ctx)
    results = run_with_progress(llm_cfg, config, out_dir, memory_dir, workers=workers, chroma_url=chroma_url,
                                allow_local_workers=allow_local_workers,
                                allow_code_change=allow_code_change)  # fmt: skip
    stdout().print((out_dir / "results.md").read_text())
    stdout().print(f"results: {out_dir / 'results.json'}, curve: {out_dir / 'learning_curve.png'} "
                  f"({results['wall_seconds']:.0f} s)")  # fmt: skip


def run(
    env_id: Annotated[str, typer.Argument(help="Environment id (see `evolve envs list`).")],
    train: Annotated[int, typer.Option(min=1, help="Training tasks.")] = 10,
    preset: Annotated[str, typer.Option(help="Environment preset.")] = "easy",
    trials: Annotated[int, typer.Option(min=1, help="Attempts per training task (Reflexion).")] = 2,
    samples: Annotated[int, typer.Option(min=1, help="Episodes per trial (self-consistency; extra ones sampled "
                                                     "at temperature 0.7).")] = 1,
    max_steps: Annotated[int, typer.Option(min=1, help="Step limit per episode.")] = 30,
    recalls: RecallsOpt = 2,
    gate: GateOpt = True,
    out: Annotated[Path | None, typer.Option(help="Run directory (default runs/run-ENV).")] = None,
    memory_dir: Annotated[Path | None, typer.Option(help="Memory bank directory (default OUT/memory).")] = None,
    llm: LlmOpt = BackendChoice.local,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = "local",
    threads: ThreadsOpt = 2,
    ctx: CtxOpt = 4096,
    workers: WorkersOpt = 1,
    chroma_url: ChromaUrlOpt = None,
    allow_local_workers: AllowLocalWorkersOpt = False,
    families: FamiliesOpt = "textworld",
) -> None:
    """Evolve on training tasks with a live progress bar (resumable: run again to continue)."""
    from agent.bench.config import BenchConfig
    from agent.core.state import ActorConfig
    from agent.learning.config import EvolutionConfig

    out_dir = out or Path("runs") / f"run-{env_id}"
    evolution = EvolutionConfig(trials=trials, samples=samples, max_steps=max_steps, recalls=recalls, gate=gate)
    try:
        actor = ActorConfig(families=parse_families(families))  # type: ignore[arg-type]
    except EvolveError as exc:
        raise fail(exc) from None
    config = BenchConfig(env_id=env_id, preset=preset, train=train, test=1, settings=(), ablations=(),
                         random_baseline=False, evolution=evolution, actor=actor)  # fmt: skip
    llm_cfg = llm_config(llm, base_url, model, threads, ctx)
    results = run_with_progress(llm_cfg, config, out_dir, memory_dir, workers=workers, chroma_url=chroma_url,
                                 allow_local_workers=allow_local_workers)  # fmt: skip
    t = results["train"]
    stdout().print(f"trained on {len(results['train_seeds'])} tasks: success {t['success']:.0%} over "
                  f"{t['episodes']} episodes; memory: {results['memory']}; run dir {out_dir}")  # fmt: skip


def suite(
    train: Annotated[int, typer.Option(min=0, help="Training tasks per member.")] = 10,
    test: Annotated[int, typer.Option(min=1, help="Held-out tasks per member.")] = 10,
    held_out: HeldOutOpt = "dev",
    only: Annotated[str, typer.Option(help="Comma-separated members or environment ids to run (default: all).")]
    = "",
    out: Annotated[Path, typer.Option(help="Suite directory: a bench directory per member, suite.md, suite.json.")]
    = Path("runs/suite"),
    llm: LlmOpt = BackendChoice.local,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = "local",
    threads: ThreadsOpt = 2,
    ctx: CtxOpt = 4096,
    workers: WorkersOpt = 1,
    allow_local_workers: AllowLocalWorkersOpt = False,
    allow_code_change: AllowCodeChangeOpt = False,
) -> None:
    """The suite: a bench per environment family with one configuration (agent/bench/suite.py), then one table.
    Resumable: run it again to continue where it stopped."""
    from agent.bench.suite import SuiteConfig, members, run_suite

    try:
        config = SuiteConfig(train=train, test=test, held_out=parse_held_out(held_out), only=comma_list(only))
        members(config)
    except EvolveError as exc:
        raise fail(exc) from None
    llm_cfg = llm_config(llm, base_url, model, threads, ctx)

    def run(bench: Any, directory: Path) -> dict[str, Any]:
        return run_with_progress(llm_cfg, bench, directory, None, workers=workers,
                                 allow_local_workers=allow_local_workers,
                                 allow_code_change=allow_code_change)  # fmt: skip

    def announce(member: Any, index: int, total: int) -> None:
        stdout().print(f"[{index}/{total}] {member.name} ({member.preset}) → {out / member.name}")

    run_suite(config, out, run, announce)
    stdout().print((out / "suite.md").read_text())
    stdout().print(f"suite: {out / 'suite.json'}; each member's results.md and learning_curve.png in its directory")


def demo(
    llm: LlmOpt = BackendChoice.local,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = "local",
    out: Annotated[Path, typer.Option(help="Run directory (results, memory); an earlier demo's moves to OUT.previous.")]
    = Path("runs/demo"),
    env: Annotated[str, typer.Option(help="Environment id (`evolve envs list`).")] = "twx-cookingworld",
    train: Annotated[int, typer.Option(min=1, help="Training games.")] = 2,
    test: Annotated[int, typer.Option(min=1, help="Games it never trained on, played without and with memory.")] = 2,
    max_steps: Annotated[int, typer.Option(min=1, help="Step limit of a game.")] = 20,
) -> None:
    """The main job in small: train on a few games, then play unseen ones without and with memory."""
    from agent.bench.demo import run_demo

    try:
        run_demo(llm_config(llm, base_url, model), out, stdout(), env_id=env, train=train, test=test,
                 max_steps=max_steps)  # fmt: skip
    except EvolveError as exc:
        raise fail(exc) from None
