"""What the bad-input tests compare: a bank's whole state, and whether an error reads as one line."""

from __future__ import annotations

from typing import Any

from memory import MemoryBank


def fingerprint(bank: MemoryBank) -> tuple[Any, ...]:
    """Everything an operation could change: every ledger row and vector, the history length, the index's counts."""
    rows = bank.ledger.query("SELECT * FROM memories ORDER BY id")
    vectors = bank.ledger.query("SELECT id, embedding FROM vectors ORDER BY id")
    counts = {name: bank.store.count(name) for name in bank.store.collections()}
    return rows, vectors, bank.ledger.last_history_seq(), counts


def one_line(message: object) -> bool:
    """Whether an error message is one readable line."""
    text = str(message)
    return "\n" not in text.strip() and len(text) < 1000
