"""The ``evolve`` command line: a thin face that parses options, calls the library and prints.

Environment variables are read only in :mod:`agent.cli_options` (``OPENAI_API_KEY``); everything below
receives typed config objects.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from agent.cli_options import (
    BaseUrlOpt,
    CtxOpt,
    JsonOpt,
    LlmOpt,
    ModelOpt,
    RecallsOpt,
    ThreadsOpt,
    llm_config,
    sigterm_as_interrupt,
)
from agent.errors import EvolveError
from agent.llm.config import BackendChoice, LLMConfig

app = typer.Typer(
    name="evolve",
    help="An in-context self-evolving LLM agent with an external memory bank.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
from agent.cli_envs import envs_app  # noqa: E402
from agent.cli_eval import eval_app  # noqa: E402
from agent.cli_memory import memory_app  # noqa: E402

app.add_typer(envs_app, name="envs", help="List environments and play one in the terminal.")
app.add_typer(memory_app, name="memory", help="Inspect and manage the memory bank.")
from agent.cli_chat import chat, eval_memorybank, ui  # noqa: E402

app.add_typer(eval_app, name="eval", help="Evaluate memory on conversation benchmarks (LoCoMo, MemoryBank).")
app.command()(chat)
app.command()(ui)
eval_app.command("memorybank")(eval_memorybank)
console = Console()
err_console = Console(stderr=True)




def fail(exc: EvolveError) -> typer.Exit:
    """Print a project error without a stack trace; return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
    return typer.Exit(code=2)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")] = False,
) -> None:
    """An in-context self-evolving LLM agent with an external memory bank."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@app.command()
def doctor(
    llm: LlmOpt = BackendChoice.local,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = "local",
    chroma_url: Annotated[str | None, typer.Option(help="Also check a Chroma server at this URL.")] = None,
    skip_llm: Annotated[bool, typer.Option(help="Do not load the LLM (faster).")] = False,
    full: Annotated[bool, typer.Option(help="Re-hash the model file even if verified before.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check every part of the stack (LLM, embeddings, tiktoken, Chroma, Java, environments)."""
    from agent.doctor import run_checks

    config = llm_config(llm, base_url, model)
    checks = run_checks(config, chroma_url=chroma_url, skip_llm=skip_llm, full_hash=full)
    all_ok = all(c.ok for c in checks)
    if as_json:
        print(json.dumps({"ok": all_ok, "checks": [c.to_dict() for c in checks]}, indent=2))
    else:  # one line a check, so that an 80-column terminal or a pipe reads it whole
        for c in checks:
            mark = "[green]ok  [/]" if c.ok else "[red]FAIL[/]"
            console.print(f"{mark} [bold]{escape(c.name)}[/]: {escape(c.detail)} ({c.seconds:.1f} s)", highlight=False)
            if not c.ok and c.fix:
                console.print(f"     fix: {escape(c.fix)}", highlight=False)
    if not all_ok:
        raise typer.Exit(code=1)


@app.command("serve-model")
def serve_model(
    llm: Annotated[BackendChoice, typer.Option("--llm", help="Local model to serve.")] = BackendChoice.local,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = 8080,
    threads: ThreadsOpt = 2,
    ctx: CtxOpt = 4096,
) -> None:
    """Serve a local model as an OpenAI-compatible API on 127.0.0.1 (Ctrl-C stops it)."""
    from agent.llm.server import server_command

    config = llm_config(llm, None, "local", threads, ctx)
    try:
        command = server_command(config, "127.0.0.1", port)
    except EvolveError as exc:
        raise fail(exc) from None
    console.print(f"serving {llm.value} at http://127.0.0.1:{port}/v1 (model name {llm.value!r}); Ctrl-C stops")
    sys.stdout.flush()
    os.execv(command[0], command)


@app.command()
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
    from agent.demo import run_demo

    try:
        run_demo(llm_config(llm, base_url, model), out, console, env_id=env, train=train, test=test,
                 max_steps=max_steps)  # fmt: skip
    except EvolveError as exc:
        raise fail(exc) from None


if __name__ == "__main__":  # pragma: no cover
    app()


def _progress_printer(console: Console) -> Any:
    """A rich progress bar fed by the evolution loop's Progress events."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[last]}"), console=console)  # fmt: skip
    tasks: dict[str, Any] = {}

    def update(event: Any) -> None:
        if event.phase not in tasks:
            tasks[event.phase] = bar.add_task(event.phase, total=event.total, last="")
        last = ""
        if event.last is not None:
            e = event.last
            last = f"seed {e.seed}: {'won' if e.success else 'lost'} score {e.score:.2f} in {e.n_steps} steps"
        bar.update(tasks[event.phase], completed=event.done, last=last)
        if not console.is_terminal and last:
            # no live bar in a log file or CI: one line per finished episode instead
            console.print(f"{event.phase} {event.done}/{event.total}: {last}", markup=False, highlight=False)

    return bar, update


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
AllowLocalWorkersOpt = Annotated[
    bool, typer.Option(help="Let each worker load its own copy of a local model (slow on a small machine).")
]


def _run_with_progress(
    llm: LLMConfig,
    config: Any,
    out_dir: Path,
    memory_dir: Path | None,
    *,
    workers: int = 1,
    chroma_url: str | None = None,
    allow_local_workers: bool = False,
) -> dict[str, Any]:
    """Run a bench (or a training-only run) behind a progress bar; project errors exit 2 without a trace, and
    Ctrl-C or SIGTERM stops it with what was saved (the same command resumes) and exit code 130."""
    from agent.bench import run_bench
    from envs.errors import EnvRuntimeError, EnvUsageError
    from memory.errors import MemoryBankError

    bar, update = _progress_printer(console)
    try:
        with sigterm_as_interrupt(), bar:
            return run_bench(llm, config, out_dir, memory_dir=memory_dir, on_progress=update, workers=workers,
                             chroma_url=chroma_url, allow_local_workers=allow_local_workers)  # fmt: skip
    except (EvolveError, EnvUsageError, EnvRuntimeError, MemoryBankError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        err_console.print(f"stopped: finished episodes and the memory are saved in {out_dir}; run the same command "
                          "again to resume", soft_wrap=True)  # fmt: skip
        raise typer.Exit(code=130) from None


@app.command()
def bench(
    env_id: Annotated[str, typer.Argument(help="Environment id (see `evolve envs list`).")],
    train: Annotated[int, typer.Option(min=0, help="Training tasks.")] = 30,
    test: Annotated[int, typer.Option(min=1, help="Held-out tasks per setting.")] = 30,
    ablations: Annotated[str, typer.Option(help="Comma-separated: none,reflexion,trajectories,insights,facts,full.")]
    = "none,reflexion,trajectories,insights,full",
    settings: Annotated[str, typer.Option(help="in (unseen games of the training fold), out (test fold).")] = "in,out",
    preset: Annotated[str, typer.Option(help="Environment preset.")] = "easy",
    trials: Annotated[int, typer.Option(min=1, help="Attempts per training task (Reflexion).")] = 2,
    samples: Annotated[int, typer.Option(min=1, help="Episodes per trial (self-consistency; extra ones sampled "
                                                     "at temperature 0.7).")] = 1,
    max_steps: Annotated[int, typer.Option(min=1, help="Step limit per episode.")] = 30,
    recalls: RecallsOpt = 2,
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
) -> None:
    """Evolve on training tasks, then run every ablation and a random agent on the same held-out tasks."""
    from agent.bench import BenchConfig
    from agent.evolve import EvolutionConfig
    from agent.experience import parse_ablations

    try:
        names = parse_ablations(ablations)
        chosen = tuple(s.strip() for s in settings.split(",") if s.strip())
        if not chosen or any(s not in ("in", "out") for s in chosen):
            raise typer.BadParameter(f"--settings {settings!r}: use in, out or in,out")
        config = BenchConfig(env_id=env_id, preset=preset, train=train, test=test, settings=chosen,  # type: ignore[arg-type]
                             ablations=tuple(names), random_baseline=random_baseline,
                             evolution=EvolutionConfig(trials=trials, samples=samples, max_steps=max_steps,
                                                       recalls=recalls))  # fmt: skip
    except EvolveError as exc:
        raise fail(exc) from None
    out_dir = out or Path("runs") / f"bench-{env_id}"
    llm_cfg = llm_config(llm, base_url, model, threads, ctx)
    results = _run_with_progress(llm_cfg, config, out_dir, memory_dir, workers=workers, chroma_url=chroma_url,
                                 allow_local_workers=allow_local_workers)  # fmt: skip
    console.print((out_dir / "results.md").read_text())
    console.print(f"results: {out_dir / 'results.json'}, curve: {out_dir / 'learning_curve.png'} "
                  f"({results['wall_seconds']:.0f} s)")  # fmt: skip


@app.command()
def run(
    env_id: Annotated[str, typer.Argument(help="Environment id (see `evolve envs list`).")],
    train: Annotated[int, typer.Option(min=1, help="Training tasks.")] = 10,
    preset: Annotated[str, typer.Option(help="Environment preset.")] = "easy",
    trials: Annotated[int, typer.Option(min=1, help="Attempts per training task (Reflexion).")] = 2,
    samples: Annotated[int, typer.Option(min=1, help="Episodes per trial (self-consistency; extra ones sampled "
                                                     "at temperature 0.7).")] = 1,
    max_steps: Annotated[int, typer.Option(min=1, help="Step limit per episode.")] = 30,
    recalls: RecallsOpt = 2,
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
) -> None:
    """Evolve on training tasks with a live progress bar (resumable: run again to continue)."""
    from agent.bench import BenchConfig
    from agent.evolve import EvolutionConfig

    out_dir = out or Path("runs") / f"run-{env_id}"
    evolution = EvolutionConfig(trials=trials, samples=samples, max_steps=max_steps, recalls=recalls)
    config = BenchConfig(env_id=env_id, preset=preset, train=train, test=1, settings=(), ablations=(),
                         random_baseline=False, evolution=evolution)  # fmt: skip
    llm_cfg = llm_config(llm, base_url, model, threads, ctx)
    results = _run_with_progress(llm_cfg, config, out_dir, memory_dir, workers=workers, chroma_url=chroma_url,
                                 allow_local_workers=allow_local_workers)  # fmt: skip
    t = results["train"]
    console.print(f"trained on {len(results['train_seeds'])} tasks: success {t['success']:.0%} over "
                  f"{t['episodes']} episodes; memory: {results['memory']}; run dir {out_dir}")  # fmt: skip
