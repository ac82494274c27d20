"""``evolve doctor`` and ``evolve serve-model``: check the stack, and serve a local model to other processes."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer
from rich.markup import escape

from agent.cli.options import BaseUrlOpt, CtxOpt, JsonOpt, LlmOpt, ModelOpt, ThreadsOpt, llm_config
from agent.cli.output import fail, stdout
from agent.errors import EvolveError
from agent.llm.config import BackendChoice


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
            stdout().print(f"{mark} [bold]{escape(c.name)}[/]: {escape(c.detail)} ({c.seconds:.1f} s)", highlight=False)
            if not c.ok and c.fix:
                stdout().print(f"     fix: {escape(c.fix)}", highlight=False)
    if not all_ok:
        raise typer.Exit(code=1)


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
    stdout().print(f"serving {llm.value} at http://127.0.0.1:{port}/v1 (model name {llm.value!r}); Ctrl-C stops")
    sys.stdout.flush()
    os.execv(command[0], command)
