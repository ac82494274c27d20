"""How every ``evolve`` command prints: one error line and exit code 2, consoles that stay wide when piped, JSON."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from agent.text import printable


def fail(message: object) -> typer.Exit:
    """Print ``error: MESSAGE`` on stderr, without a stack trace; return the exit (code 2) to raise."""
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(code=2)


def stdout() -> Console:
    """A console on the current stdout (built per call: ``CliRunner`` swaps it), 160 columns wide when piped so
    tables are not folded into 80."""
    console = Console(highlight=False, soft_wrap=True, emoji=False)
    return console if console.is_terminal else Console(highlight=False, soft_wrap=True, emoji=False, width=160)


def plain(text: str) -> Text:
    """Text from memories or users for a console or table cell: no markup or emoji codes read in it
    ("[red]", ":x:"), no control sequences (:func:`agent.text.printable`)."""
    return Text(printable(text))


def print_json(obj: Any) -> None:
    """One JSON object on stdout."""
    typer.echo(json.dumps(obj, indent=2, default=str))


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 turn``, ``2 turns``."""
    return f"{n} {word if n == 1 else (words or word + 's')}"
