"""What the ``evolve memory`` commands share: their options, opening a bank, the data-directory check, table cells."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from agent.cli.output import fail, plain
from agent.errors import EvolveError, UsageError
from agent.text import clip
from memory import MemoryBank, MemoryConfig, MemoryKind, MemoryRecord
from memory.damage import check_bank_dir
from memory.errors import MemoryBankError, MemoryUsageError
from memory.scoring import retention

DEFAULT_DIR = Path(".evolve/memory")


RETENTION_BINS = (0.0, 0.02, 0.1, 0.25, 0.5, 0.75, 1.0)
"""Edges of the retention histogram of ``stats`` (0.02 is the default forgetting threshold)."""


class StatusChoice(str, Enum):
    """Which memories ``list`` shows."""

    active = "active"
    superseded = "superseded"
    archived = "archived"
    candidate = "candidate"
    all = "all"


class SortChoice(str, Enum):
    """How ``list`` orders memories (:data:`memory.views.ORDERS`)."""

    newest = "newest"
    utility = "utility"
    votes = "votes"
    recalls = "recalls"


DirOpt = Annotated[Path, typer.Option("--memory-dir", help="Memory bank directory.")]


ChromaOpt = Annotated[str | None, typer.Option("--chroma-url", help="Chroma server holding the vectors, e.g. "
                                                                    "http://127.0.0.1:8000.")]  # fmt: skip


NsOpt = Annotated[str | None, typer.Option("--namespace", help="Only this namespace (agent, user:NAME, env:NAME).")]


KindOpt = Annotated[list[MemoryKind] | None, typer.Option("--kind", help="Only these kinds (repeatable).")]


IdArg = Annotated[str, typer.Argument(help="Memory id (mem-...), as `evolve memory list` shows it.")]


DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Directory that import/export paths must be "
                                                                    "inside (default: the memory dir's parent).")]


def missing_bank_message(memory_dir: Path) -> str:
    """What to say when ``memory_dir`` holds no bank, with the commands that create one."""
    where = "does not exist" if not memory_dir.exists() else "holds no memory bank (no ledger.sqlite3)"
    return (
        f"memory directory {str(memory_dir)!r} {where}. Create a bank there by running the agent with "
        f"`evolve run ENV_ID --memory-dir {memory_dir}`, or import an export into a new bank with "
        f"`evolve memory import FILE --memory-dir {memory_dir} --create`"
    )


@contextmanager
def open_bank(memory_dir: Path, chroma_url: str | None = None, *, create: bool = False,
              reconcile: bool = True) -> Iterator[MemoryBank]:  # fmt: skip
    """Open the bank in ``memory_dir`` (refusing to create one unless ``create``; ``reconcile=False`` leaves the
    index as found, for check and repair); project errors exit 2."""
    try:
        check_memory_dir(memory_dir)
        if not create and not (memory_dir / "ledger.sqlite3").is_file():
            raise UsageError(missing_bank_message(memory_dir))
        try:
            config = MemoryConfig(path=memory_dir, server_url=chroma_url)
        except ValidationError as exc:  # the validators name the bad value and the fix
            raise UsageError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
        bank = MemoryBank(config, reconcile=reconcile)
    except (EvolveError, MemoryBankError) as exc:
        raise fail(str(exc)) from None
    try:
        yield bank
    except (EvolveError, MemoryBankError) as exc:
        raise fail(str(exc)) from None
    finally:
        bank.close()


def inside_data_dir(path: Path, root: Path, what: str) -> Path:
    """``path`` resolved, if it lies inside ``root``; else a :class:`UsageError` naming both.

    Args:
        path: the path given on the command line (relative paths are relative to the current directory).
        root: the data directory.
        what: which file it is, for the message (``export file``, ``import file``).
    """
    resolved = path.expanduser().resolve()
    allowed = root.expanduser().resolve()
    if not resolved.is_relative_to(allowed):
        raise UsageError(
            f"{what} {str(path)!r} resolves to {resolved}, outside the data directory {allowed}; "
            f"give a path inside {allowed}, or pass --data-dir to allow another directory"
        )
    return resolved


def data_root(memory_dir: Path, data_dir: Path | None) -> Path:
    """The directory import and export paths must be inside: ``--data-dir``, else the memory dir's parent."""
    check_memory_dir(memory_dir)
    return data_dir if data_dir is not None else memory_dir.expanduser().resolve().parent


def check_memory_dir(memory_dir: Path) -> None:
    """Refuse a memory dir that is a file or lies under one (``FILE/sub``), naming the file."""
    try:
        check_bank_dir(memory_dir)
    except MemoryUsageError as exc:
        raise UsageError(f"--memory-dir: {exc}") from None


def unique_snapshot_name(bank: MemoryBank, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``, ... when a snapshot of that name exists."""
    known = {s.name for s in bank.list_snapshots()}
    name, n = base, 1
    while name in known:
        n += 1
        name = f"{base}-{n}"
    return name


def when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def record_retention(record: MemoryRecord, now: float) -> float:
    """Ebbinghaus retention exp(-t/S) of a record now (t since last recall or creation), 0..1."""
    last = max(record.last_recalled_at or record.created_at, record.created_at)
    return float(retention(last, record.strength, now))


def kinds_or_all(kind: list[MemoryKind] | None) -> list[MemoryKind] | None:
    return list(kind) if kind else None


def flags(r: MemoryRecord) -> str:
    """Pinned, votes, where the text came from, and FLAGGED when it reads as an instruction to the model."""
    marks = (("FLAGGED", bool(r.meta.get("flagged"))), ("pinned", r.pinned), (f"votes={r.votes}", r.votes > 0),
             (f"from {r.meta.get('origin')}", bool(r.meta.get("origin"))))  # fmt: skip
    return ",".join(f for f, on in marks if on) or "-"


def history_rows(entries: list[Any]) -> list[dict[str, Any]]:
    return [asdict(e) for e in entries]


def history_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for col in ("seq", "when", "op", "actor", "reason", "change"):
        table.add_column(col, overflow="fold")
    for h in rows:
        change = f"{json.dumps(h['before'])} -> {json.dumps(h['after'])}" if h["before"] else json.dumps(h["after"])
        table.add_row(str(h["seq"]), when(h["ts"]), h["op"], plain(h["actor"]), plain(h["reason"] or "-"),
                      plain(clip(change, 120)))  # fmt: skip
    return table
