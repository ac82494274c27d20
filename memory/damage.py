"""Telling a damaged bank file from a healthy one: the ledger opened only when it is a readable SQLite database
(and not an empty one beside an index that holds data), and the errors of embedded Chroma that mean its file is
damaged. Opening a damaged file as if it were new would start an empty bank over the old one."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from memory.config import MemoryConfig
from memory.errors import BankDamaged, MemoryUsageError
from memory.ledger import Ledger

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first bytes of every SQLite database file."""


def is_sqlite(path: Path) -> bool:
    """Whether ``path`` starts as a SQLite database does (reads 16 bytes)."""
    with open(path, "rb") as fh:
        return fh.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def damage_of(exc: BaseException | None) -> BaseException | None:
    """The error of embedded Chroma saying its SQLite file is not a database or is damaged: ``exc`` or one it was
    raised while handling (Chroma's cleanup can fail after a failed open); None when there is none."""
    seen = 0
    while exc is not None and seen < 8:
        text = str(exc)
        if "file is not a database" in text or "malformed" in text:
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def check_bank_dir(path: Path) -> None:
    """Refuse a bank directory that is a file or lies under one (``FILE/sub``), naming the file."""
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                where = "is a file" if part == path else f"lies under {str(part)!r}, which is a file"
                raise MemoryUsageError(f"memory directory {str(path)!r} {where}; give a directory")
            return


def open_ledger(config: MemoryConfig, clock: Callable[[], float], *, rebuild: bool = False) -> Ledger:
    """The bank's ledger; a file that is not a readable SQLite database, or an empty or missing one beside a vector
    index, is :class:`BankDamaged` (opening it would start an empty bank over the old one). ``rebuild`` opens a
    missing ledger as a new one, for repair to rebuild records from the index."""
    path = config.ledger_path
    index = config.chroma_path / "chroma.sqlite3"
    if not path.exists() and not config.server_url and index.is_file() and not rebuild:
        raise BankDamaged(f"the ledger {path} is missing while the vector index {index} exists; restore the ledger "
                          "from a copy, or rebuild records from the index (counters and history are lost) with "
                          f"`evolve memory repair --memory-dir {config.path}`")  # fmt: skip
    if path.is_file() and path.stat().st_size == 0 and not config.server_url and index.is_file():
        raise BankDamaged(f"the ledger {path} is empty while the vector index beside it holds data; restore the "
                          "ledger from a copy (the index alone cannot rebuild counters and history)")  # fmt: skip
    try:
        ledger = Ledger(path, clock=clock)
        ledger.count()
    except sqlite3.DatabaseError as exc:
        raise BankDamaged(f"the ledger {path} cannot be read ({exc}); restore it from a copy — nothing was "
                          "changed") from None  # fmt: skip
    return ledger
