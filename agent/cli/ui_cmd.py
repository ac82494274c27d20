"""``evolve ui``: the dashboard, on loopback and read-only unless told otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.cli.chat_cmd import MemoryDirOpt, default_memory_dir
from agent.cli.options import sigterm_as_interrupt
from agent.cli.output import fail
from agent.errors import EvolveError


def ui(
    memory_dir: MemoryDirOpt = None,
    runs: Annotated[Path, typer.Option("--runs", help="Directory of benchmark runs (*/results.json, *.png).")] = Path(
        "runs"
    ),
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback unless told otherwise).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any free port).")] = 8765,
    allow_edits: Annotated[
        bool, typer.Option("--allow-edits", help="Allow forget, pin and restore from the page (default read-only).")
    ] = False,
    public: Annotated[
        bool, typer.Option("--i-know-this-is-public", help="Allow a --host other than loopback.")
    ] = False,
) -> None:
    """Browse and search memories, their evidence chains and history, and benchmark results in a web page."""
    from agent.ui import make_server
    from memory import MemoryBank, MemoryConfig
    from memory.errors import MemoryBankError

    directory = memory_dir or default_memory_dir()
    try:
        if not (directory / "ledger.sqlite3").is_file():
            raise EvolveError(f"no memory bank at {directory}; give --memory-dir DIR (a bank made by chat, run or "
                              "bench, e.g. runs/bench-twx-twc/memory)")  # fmt: skip
        bank = MemoryBank(MemoryConfig(path=directory))
    except (EvolveError, MemoryBankError) as exc:
        raise fail(exc) from None
    try:
        server = make_server(bank, runs, host=host, port=port, allow_edits=allow_edits, public_ok=public)
    except EvolveError as exc:
        bank.close()
        raise fail(exc) from None
    mode = "edits allowed" if allow_edits else "read-only"
    try:
        with sigterm_as_interrupt():  # before the banner: whoever waits for it may stop us
            typer.echo(f"evolve dashboard on {server.url} ({mode}; memory {directory}; runs {runs}). Ctrl-C stops.")
            server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.server_close()
        bank.close()
