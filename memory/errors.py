"""Errors of the memory package.

Two kinds are raised on purpose: :class:`MemoryUsageError` for bad input the caller can fix (unknown
kind, malformed namespace, empty or over-long text, an unknown memory id); it names the bad value and
the allowed forms. :class:`StoreUnavailable` when the vector store (Chroma) cannot be reached or was
closed; it says what to start. Model mistakes during reflection are never raised: they are logged,
counted and kept with their raw text in the ledger (see :mod:`memory.reflect`).
"""

from __future__ import annotations


class MemoryBankError(Exception):
    """Base class of every error this package raises on purpose."""


class MemoryUsageError(MemoryBankError, ValueError):
    """Bad input from the caller; the message names the bad value and how to fix it. A message grown long by the
    value it quotes (a 100 kB text) keeps its head and tail, so it stays one readable line."""

    def __init__(self, message: str = "") -> None:
        super().__init__(shortened(str(message)))


def shortened(text: str, limit: int = 600) -> str:
    """``text``, or its head and tail when it is longer than ``limit`` characters: an error that quotes a long value
    (a 100 kB text, a 5,000-character option) stays one readable line."""
    return text if len(text) <= limit else f"{text[: limit * 7 // 10]} … {text[-limit * 4 // 15 :]}"


class StoreUnavailable(MemoryBankError, RuntimeError):
    """The vector store is closed or unreachable; the message says what to start or reopen."""


class BankDamaged(MemoryBankError, RuntimeError):
    """A file of the bank cannot be read (the ledger, or the embedded vector index); the message names the file
    and how to recover. Nothing was changed."""


class SnapshotNotFound(MemoryUsageError):
    """No snapshot of that name exists; the message lists the known ones."""
