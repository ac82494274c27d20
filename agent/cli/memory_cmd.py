"""``evolve memory``: inspect and manage a memory bank from the terminal (a thin face over :class:`MemoryBank`).

Every command opens the bank in ``--memory-dir`` (default ``.evolve/memory``; with ``--chroma-url`` the
vectors live in a Chroma server and the ledger stays in the directory), does one thing and prints a table,
or one JSON object with ``--json``. Bad input (an unknown id, a corrupt export, a path outside the data
directory, a missing bank) ends with ``error: ...`` on stderr and exit code 2, without a stack trace and
without changing the bank. Reading commands (``list``, ``show``, ``search``, ``stats``, ``history``) never
change recall statistics.

The *data directory* bounds where ``export`` may write and ``import`` may read: the memory directory's
parent, or ``--data-dir``. Paths are resolved (``..`` and symlinks included) before the check.
"""

from __future__ import annotations

import typer

from agent.cli import memory_admin, memory_check, memory_read
from agent.cli.output import OneLineErrors

memory_app = typer.Typer(
    cls=OneLineErrors,
    help="Inspect and manage the memory bank: list, show, search, stats, history, reflect, forget, restore, pin, "
    "snapshot, rollback, export, import, check, repair.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@memory_app.callback()
def memory_main() -> None:
    """Inspect and manage the memory bank."""


memory_app.command("list")(memory_read.list_command)
memory_app.command("show")(memory_read.show_command)
memory_app.command("search")(memory_read.search_command)
memory_app.command("stats")(memory_read.stats_command)
memory_app.command("history")(memory_read.history_command)
memory_app.command("forget")(memory_admin.forget_command)
memory_app.command("reflect")(memory_admin.reflect_command)
memory_app.command("restore")(memory_admin.restore_command)
memory_app.command("pin")(memory_admin.pin_command)
memory_app.command("unpin")(memory_admin.unpin_command)
memory_app.command("snapshot")(memory_admin.snapshot_command)
memory_app.command("rollback")(memory_admin.rollback_command)
memory_app.command("export")(memory_admin.export_command)
memory_app.command("import")(memory_admin.import_command)
memory_app.command("check")(memory_check.check_command)
memory_app.command("repair")(memory_check.repair_command)
