"""``evolve envs``: list the task environments, or play one by hand in the terminal.

A thin face over :mod:`envs` (it imports nothing else from the project): ``list`` prints the registry,
``play`` runs one episode with a human choosing the actions, which is the quickest way to understand a
task and to test an adapter.
"""

from __future__ import annotations

import json
import textwrap
from enum import Enum
from typing import Annotated, Any

import typer
from rich.console import Console

import envs
from agent.cli.output import OneLineErrors

QUIT = "/quit"


class SplitName(str, Enum):
    """The split to play."""

    train = "train"
    dev = "dev"
    test = "test"


def _console() -> Console:
    # Built per call so the output goes to whatever stdout is current (CliRunner swaps it).
    return Console(highlight=False, soft_wrap=True)


def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the registry as JSON.")] = False,
) -> None:
    """List every environment id with its presets, parameters and requirements."""
    specs = envs.list()
    if as_json:
        rows = [
            {
                "id": s.env_id,
                "family": s.family,
                "description": s.description,
                "presets": list(s.presets),
                "params": s.params,
                "requires": s.requires,
            }
            for s in specs
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    # a list, not a table: ids are typed back and must never break, and an 80-column terminal or a pipe has no
    # room for five columns beside them
    console = _console()
    width = max(40, min(console.width, 100)) - 4
    console.print("Environments, by family (play one: evolve envs play ENV_ID [--preset P])", highlight=False)
    for family in sorted({s.family for s in specs}):
        console.print(f"\n[bold]{family}[/]", highlight=False)
        for s in (s for s in specs if s.family == family):
            extra = [f"presets: {', '.join(s.presets)}"] if s.presets else []
            extra += [f"needs {s.requires}"] if s.requires else []
            console.print(f"  [cyan]{s.env_id}[/]" + (f"  ({'; '.join(extra)})" if extra else ""), soft_wrap=True,
                          highlight=False)  # fmt: skip
            for line in textwrap.wrap(s.description, width):
                console.print(f"    {line}", markup=False, highlight=False)


def _shown_actions(env: envs.Env, valid: tuple[str, ...], k: int) -> tuple[str, ...]:
    """The actions to number on screen: all of them, or the shortlist when there are more than ``k``."""
    if len(valid) <= k:
        return valid
    return env.shortlist(k) or valid[:k]


def _print_actions(console: Console, shown: tuple[str, ...], total: int) -> None:
    if not shown:
        console.print("(type your answer)")
        return
    console.print("Actions:")
    for i, action in enumerate(shown, start=1):
        console.print(f"  {i:>2}. {action}", markup=False)
    if total > len(shown):
        console.print(f"  ... {total - len(shown)} more valid actions: any action can be typed.")


def play_command(
    env_id: Annotated[str, typer.Argument(help="Environment id, e.g. twx-twc (see `evolve envs list`).")],
    split: Annotated[
        SplitName, typer.Option("--split", help="Split to draw the task from.")
    ] = SplitName.train,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Task seed in the split (default: its first).")
    ] = None,
    preset: Annotated[str | None, typer.Option("--preset", help="Preset, e.g. easy or medium.")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Step limit of the episode.")] = None,
    path: Annotated[str | None, typer.Option("--path", help="Data path (locomo, memorybank).")] = None,
    show: Annotated[
        int, typer.Option("--show", min=1, help="Number at most this many actions on screen.")
    ] = 20,
) -> None:
    """Play one episode: type an action's number or its text; /quit leaves."""
    console = _console()
    params: dict[str, Any] = {}
    for name, value in (("preset", preset), ("max_steps", max_steps), ("path", path)):
        if value is not None:
            params[name] = value
    try:
        env = envs.make(env_id, split=split.value, **params)
    except (envs.EnvUsageError, envs.EnvRuntimeError) as exc:
        console.print(f"Error: {exc}", markup=False, style="red")
        raise typer.Exit(code=2) from exc
    try:
        _play(env, console, seed, show)
    except envs.EnvUsageError as exc:
        console.print(f"Error: {exc}", markup=False, style="red")
        raise typer.Exit(code=2) from exc
    finally:
        env.close()


def _play(env: envs.Env, console: Console, seed: int | None, show: int) -> None:
    obs = env.reset(seed=seed)
    info = obs.info
    console.print(
        f"{info['env_id']} | split {info['split']} | seed {info['seed']} | {info['task_type']}",
        style="bold",
        markup=False,
    )
    console.print(f"Task: {obs.task}", markup=False)
    console.print(obs.text, markup=False)
    valid = obs.valid_actions
    result: envs.StepResult | None = None
    quit_early = False
    while True:
        shown = _shown_actions(env, valid, show)
        _print_actions(console, shown, len(valid))
        try:
            raw = typer.prompt(">", default="", show_default=False, prompt_suffix=" ")
        except typer.Abort:  # end of input
            raw = QUIT
        line = raw.strip()
        if line == QUIT:
            console.print("Quit.")
            quit_early = True
            break
        action = shown[int(line) - 1] if line.isdigit() and 1 <= int(line) <= len(shown) else line
        result = env.step(action)
        note = " (invalid)" if result.info.get("invalid_action") else ""
        console.print(f"[{action}]{note} reward {result.reward:+g}", markup=False, style="cyan")
        console.print(result.observation, markup=False)
        valid = result.valid_actions
        if result.done:
            break
    score = result.score if result is not None else 0.0
    steps = result.info.get("step", 0) if result is not None else 0
    if quit_early:
        ending = "stopped"
    elif result is not None and result.success:
        ending = "success"
    else:
        ending = "step limit" if result is not None and result.truncated else "not solved"
    console.print(
        f"Episode over: {ending}. Score {score:.2f}, steps {steps}, invalid actions {env.invalid_actions}.",
        markup=False,
        style="bold",
    )


envs_app = typer.Typer(
    cls=OneLineErrors,
    help="List the task environments, or play one in the terminal.",
    no_args_is_help=True,
    add_completion=False,
)
envs_app.command("list")(list_command)
envs_app.command("play")(play_command)
