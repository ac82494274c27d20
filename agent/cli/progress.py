"""The one progress bar of the long commands (bench, run, eval): a rich bar per phase, fed by the library's progress
events (anything with ``done`` and ``total``), and a plain line per finished item when the output is no terminal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def progress_bar(key: Callable[[Any], str], *, console: Console | None = None, disable: bool = False,
                 describe: Callable[[Any], str] | None = None) -> tuple[Progress, Callable[[Any], None]]:  # fmt: skip
    """A bar and the callback that updates it: one task per ``key(event)``; ``describe(event)`` is shown beside it
    (and printed as a line when the console is no terminal, e.g. in CI)."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[last]}"), console=console, disable=disable)  # fmt: skip
    tasks: dict[str, Any] = {}

    def update(event: Any) -> None:
        name = key(event)
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=event.total, last="")
        last = describe(event) if describe else ""
        bar.update(tasks[name], completed=event.done, last=last)
        if last and not bar.console.is_terminal and not disable:
            bar.console.print(f"{name} {event.done}/{event.total}: {last}", markup=False, highlight=False)

    return bar, update
