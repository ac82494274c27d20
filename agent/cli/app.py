"""The root ``evolve`` command: global options, and every command and command group registered explicitly."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from agent.cli import bench_cmd, chat_cmd, eval_cmd, system_cmd, ui_cmd
from agent.cli.envs_cmd import envs_app
from agent.cli.memory_cmd import memory_app
from agent.cli.output import OneLineErrors

app = typer.Typer(
    cls=OneLineErrors,
    name="evolve",
    help="An in-context self-evolving LLM agent with an external memory bank.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
eval_app = typer.Typer(
    cls=OneLineErrors,
    help="Evaluate memory on conversation benchmarks (LoCoMo, MemoryBank).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


@eval_app.callback()
def eval_main() -> None:
    """Evaluate the memory bank on public benchmarks (LoCoMo, MemoryBank)."""


app.command()(system_cmd.doctor)
app.command("serve-model")(system_cmd.serve_model)
app.command()(bench_cmd.demo)
app.command()(bench_cmd.bench)
app.command()(bench_cmd.run)
app.command()(bench_cmd.suite)
app.command()(chat_cmd.chat)
app.command()(ui_cmd.ui)
eval_app.command("locomo")(eval_cmd.locomo)
eval_app.command("memorybank")(eval_cmd.eval_memorybank)
app.add_typer(envs_app, name="envs", help="List environments and play one in the terminal.")
app.add_typer(memory_app, name="memory", help="Inspect and manage the memory bank.")
app.add_typer(eval_app, name="eval", help="Evaluate memory on conversation benchmarks (LoCoMo, MemoryBank).")
