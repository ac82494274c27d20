"""The ``evolve`` command line: a thin face that parses options, calls the library and prints.

Environment variables are read here and only here (``OPENAI_API_KEY``); everything below receives
typed config objects.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from agent.errors import EvolveError
from agent.llm.config import LLMConfig

app = typer.Typer(
    name="evolve",
    help="An in-context self-evolving LLM agent with an external memory bank.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


class BackendChoice(str, Enum):
    """LLM backends selectable on the command line."""

    local = "local"
    local_small = "local-small"
    openai = "openai"


LlmOpt = Annotated[BackendChoice, typer.Option("--llm", help="LLM backend.")]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1.")
]
ModelOpt = Annotated[str, typer.Option("--model", help="Model name for the openai backend.")]
ThreadsOpt = Annotated[int, typer.Option("--threads", min=1, help="CPU threads of the local model.")]
CtxOpt = Annotated[int, typer.Option("--ctx", min=256, help="Context window of the local model.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]


def llm_config(
    llm: BackendChoice, base_url: str | None, model: str, threads: int = 2, ctx: int = 4096
) -> LLMConfig:
    """Build the typed LLM config from CLI options and the environment (the only place it is read)."""
    key = os.environ.get("OPENAI_API_KEY")
    try:
        return LLMConfig(
            backend=llm.value, base_url=base_url, model=model, n_threads=threads, n_ctx=ctx,
            api_key=SecretStr(key) if key else None,
        )  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def fail(exc: EvolveError) -> typer.Exit:
    """Print a project error without a stack trace; return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code=2)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")] = False,
) -> None:
    """An in-context self-evolving LLM agent with an external memory bank."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
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
    else:
        table = Table(title="evolve doctor")
        for column in ("part", "ok", "detail", "fix", "s"):
            table.add_column(column)
        for c in checks:
            mark = "[green]ok[/]" if c.ok else "[red]FAIL[/]"
            table.add_row(c.name, mark, c.detail, c.fix, f"{c.seconds:.1f}")
        console.print(table)
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
    memory_dir: Annotated[Path, typer.Option(help="Where the demo's memory lives.")] = Path(".evolve/demo"),
) -> None:
    """The main job in small: a chat turn with the local model and a memory write/read round trip."""
    from agent.demo import run_demo

    try:
        run_demo(llm_config(llm, base_url, model), memory_dir, console)
    except EvolveError as exc:
        raise fail(exc) from None


if __name__ == "__main__":  # pragma: no cover
    app()
