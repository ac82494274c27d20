"""How every ``evolve`` command prints: one error line and exit code 2 (for usage errors too), consoles that stay wide
when piped, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from agent.text import printable
from memory.errors import shortened


def fail(message: object) -> typer.Exit:
    """Print ``error: MESSAGE`` on stderr, without a stack trace; return the exit (code 2) to raise."""
    typer.secho(f"error: {shortened(str(message))}", fg="red", err=True)
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


class OneLineErrors(TyperGroup):
    """A command group whose usage errors (a bad option value, an unknown option, a missing argument) end with one
    line ``error: ...`` naming the option, the value given and where help is, exit code 2, instead of a box."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:  # fmt: skip
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        given = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(given, prog_name, complete_var, False, **extra)
        except typer.TyperException as exc:  # typer's click errors: bad or missing parameters, unknown options
            if type(exc).__name__ == "NoArgsIsHelpError":  # `evolve memory` alone: the help, as before
                getattr(exc, "show", print)()
                sys.exit(0)
            typer.secho(f"error: {shortened(usage_error_line(exc, given))}", fg="red", err=True)
            sys.exit(int(getattr(exc, "exit_code", 2)))
        except typer.Abort:
            typer.secho("aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


def usage_error_line(exc: Exception, args: Sequence[str]) -> str:
    """The message of a click error on one line, with the value given to a bad option and the help command."""
    message = " ".join(getattr(exc, "format_message", exc.__str__)().split()).rstrip(".")
    param = getattr(exc, "param", None)
    if param is not None and getattr(param, "opts", None):
        for i, arg in enumerate(args):
            name, eq, value = arg.partition("=")
            if name in param.opts and (eq or i + 1 < len(args)):
                given = value if eq else args[i + 1]
                message += f" (got {given if len(given) <= 60 else given[:57] + '...'!r})"
                break
    ctx = getattr(exc, "ctx", None)
    return message + (f"; see `{ctx.command_path} --help`" if ctx is not None else "")
