"""The ledger's tables and the conversions between its rows and records.

Tables (see :mod:`memory.ledger` for the class that runs the SQL):

* ``memories``: every record with its counters (recall count, strength, utility, votes), its status
  and two sync flags: ``synced`` (the vector store mirrors this row) and ``meta_dirty`` (counters changed since
  the last :meth:`MemoryBank.flush` to Chroma metadata).
* ``vectors``: each memory's embedding, so that archive, restore, snapshots and crash recovery need no
  Chroma read (a separate table: updating a record's counters never rewrites its 1.5 kB vector).
* ``tombstones``: ids still to be deleted from the vector store (outbox of deletes).
* ``history``: the append-only log of every operation (who, what, when, why, before/after).
* ``reflect_failures``: raw model output that could not be used, kept for inspection.
* ``quarantine``: what :mod:`memory.integrity` could not place (a row that no longer reads as a record, an
  index item no ledger row explains), kept whole as JSON instead of deleted.
* ``trials``: paired trials of rules (:mod:`memory.trials`): the seeds, each arm's outcomes, the verdict and its
  cost; what admitted, refused, kept or demoted a rule.
* ``snapshots``: names of saved snapshots (each a copy of ``memories`` in its own SQLite file).

Kept apart from the connection so that readers of rows (views, snapshots, sync) need not know about it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from memory.base import MemoryKind, MemoryRecord, MemoryStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    importance REAL NOT NULL,
    strength REAL NOT NULL,
    recall_count INTEGER NOT NULL DEFAULT 0,
    last_recalled_at REAL,
    utility_sum REAL NOT NULL DEFAULT 0,
    utility_count INTEGER NOT NULL DEFAULT 0,
    votes INTEGER NOT NULL DEFAULT 0,
    pinned INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    superseded_by TEXT,
    source_ids TEXT NOT NULL DEFAULT '[]',
    derived_from TEXT NOT NULL DEFAULT '[]',
    episode_id TEXT,
    thread TEXT,
    seq INTEGER,
    meta TEXT NOT NULL DEFAULT '{}',
    tokens INTEGER NOT NULL DEFAULT 0,
    synced INTEGER NOT NULL DEFAULT 0,
    meta_dirty INTEGER NOT NULL DEFAULT 0,
    reflected_at REAL,
    archived_at REAL,
    archive_reason TEXT
);
CREATE TABLE IF NOT EXISTS vectors (
    id TEXT PRIMARY KEY,
    embedding BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS memories_hash ON memories(kind, namespace, content_hash);
CREATE INDEX IF NOT EXISTS memories_status ON memories(status, kind, namespace);
CREATE INDEX IF NOT EXISTS memories_thread ON memories(namespace, thread, seq);
CREATE INDEX IF NOT EXISTS memories_unsynced ON memories(synced) WHERE synced = 0;
CREATE INDEX IF NOT EXISTS memories_dirty ON memories(meta_dirty) WHERE meta_dirty = 1;
CREATE TABLE IF NOT EXISTS tombstones (
    id TEXT NOT NULL,
    collection TEXT NOT NULL,
    PRIMARY KEY (id, collection)
);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    op TEXT NOT NULL,
    memory_id TEXT,
    kind TEXT,
    namespace TEXT,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    before TEXT,
    after TEXT
);
CREATE INDEX IF NOT EXISTS history_memory ON history(memory_id, seq);
CREATE INDEX IF NOT EXISTS history_scope ON history(kind, namespace, seq);
CREATE TABLE IF NOT EXISTS reflect_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    step TEXT NOT NULL,
    error TEXT NOT NULL,
    raw TEXT NOT NULL,
    experience_ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    memory_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    reason TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    memory_id TEXT NOT NULL,
    seeds TEXT NOT NULL,
    with_rule TEXT NOT NULL,
    without_rule TEXT NOT NULL,
    verdict TEXT NOT NULL,
    decision TEXT NOT NULL,
    model_calls INTEGER NOT NULL,
    seconds REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS trials_memory ON trials(memory_id, seq);
CREATE TABLE IF NOT EXISTS snapshots (
    name TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    file TEXT NOT NULL,
    memories INTEGER NOT NULL,
    history_seq INTEGER NOT NULL
);
"""

COLUMNS = (
    "id", "kind", "namespace", "content_hash", "text", "context", "created_at", "updated_at", "importance",
    "strength", "recall_count", "last_recalled_at", "utility_sum", "utility_count", "votes", "pinned",
    "status", "superseded_by", "source_ids", "derived_from", "episode_id", "thread", "seq", "meta",
)  # fmt: skip
RECORD_SELECT = ", ".join(COLUMNS) + ", tokens"
SCORING_SELECT = (
    "id, status, created_at, COALESCE(last_recalled_at, created_at), strength, importance, utility_sum, "
    "utility_count, thread, seq, tokens"
)
"""The columns retrieval scores candidates by (building full records for every candidate costs more than the
query itself at 100k memories; only the chosen ones are read in full)."""


class ScoringRow(NamedTuple):
    """A candidate as retrieval scores it (:data:`SCORING_SELECT`)."""

    id: str
    status: str
    created_at: float
    last_recalled_at: float
    """``created_at`` when never recalled."""
    strength: float
    importance: float
    utility_sum: float
    utility_count: int
    thread: str | None
    seq: int | None
    tokens: int


CONTENT_OPS = ("insert", "edit", "archive", "restore", "rollback", "import")
"""History operations that change what the keyword index must contain."""


@dataclass(frozen=True)
class HistoryEntry:
    """One line of the append-only operation log."""

    seq: int
    """Position in the log (increasing)."""
    ts: float
    """When, Unix seconds."""
    op: str
    """What: insert, edit, feedback, vote, pin, unpin, supersede, archive, restore, rollback, import, ..."""
    memory_id: str | None
    """Which memory (None for bank-wide operations such as snapshot)."""
    actor: str
    """Who: the caller's name (agent, reflect, forget, user, ...)."""
    reason: str
    """Why, in a few words."""
    before: dict[str, Any] | None
    """The changed fields before the operation."""
    after: dict[str, Any] | None
    """The changed fields after the operation."""


def record_from_row(row: Sequence[Any]) -> MemoryRecord:
    """Build a record from a row selected with :data:`RECORD_SELECT` (tokens ignored)."""
    d = dict(zip(COLUMNS, row, strict=False))
    return MemoryRecord(
        id=d["id"],
        kind=MemoryKind(d["kind"]),
        namespace=d["namespace"],
        text=d["text"],
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        context=d["context"],
        importance=d["importance"],
        strength=d["strength"],
        recall_count=d["recall_count"],
        last_recalled_at=d["last_recalled_at"],
        utility_sum=d["utility_sum"],
        utility_count=d["utility_count"],
        votes=d["votes"],
        pinned=bool(d["pinned"]),
        status=MemoryStatus(d["status"]),
        superseded_by=d["superseded_by"],
        source_ids=tuple(json.loads(d["source_ids"])),
        derived_from=tuple(json.loads(d["derived_from"])),
        episode_id=d["episode_id"],
        thread=d["thread"],
        seq=d["seq"],
        meta=json.loads(d["meta"]),
        content_hash=d["content_hash"],
    )


def record_values(r: MemoryRecord) -> tuple[Any, ...]:
    """Column values of a record in :data:`COLUMNS` order."""
    return (
        r.id, r.kind.value, r.namespace, r.content_hash, r.text, r.context, r.created_at, r.updated_at,
        r.importance, r.strength, r.recall_count, r.last_recalled_at, r.utility_sum, r.utility_count, r.votes,
        int(r.pinned), r.status.value, r.superseded_by, json.dumps(list(r.source_ids)),
        json.dumps(list(r.derived_from)), r.episode_id, r.thread, r.seq, json.dumps(r.meta),
    )  # fmt: skip


def to_blob(vector: np.ndarray) -> bytes:
    """float32 bytes of a vector."""
    return np.asarray(vector, dtype=np.float32).tobytes()


NOT_FLAGGED = "json_extract(meta, '$.flagged') IS NULL"
"""SQL: the row's text does not read as an instruction to the model (:mod:`memory.guard` flags those)."""
WAITING_FOR_REFLECTION = f"kind = 'experience' AND status = 'active' AND reflected_at IS NULL AND {NOT_FLAGGED}"
"""SQL: the experiences reflection takes next (active, never reflected, not flagged)."""


def vector_problem(blob: bytes | None, dimension: int | None) -> str | None:
    """Why a stored vector cannot go into a vector index of ``dimension`` numbers (None when it can)."""
    if blob is None:
        return "no vector"
    vector = from_blob(blob)
    if vector is None:
        return f"a vector of {len(blob)} bytes, no whole number of floats"
    if dimension and vector.shape[0] != dimension:
        return f"{vector.shape[0]} numbers, the bank's vectors have {dimension}"
    if not np.isfinite(vector).all():
        return "numbers that are not finite"
    return None


def from_blob(blob: bytes | None) -> np.ndarray | None:
    """Inverse of :func:`to_blob`; None for no vector or a blob whose length is no whole number of floats."""
    return None if blob is None or len(blob) % 4 else np.frombuffer(blob, dtype=np.float32)


def record_summary(record: MemoryRecord) -> dict[str, Any]:
    """The fields of a record worth logging at insert (no counters)."""
    d = record.to_dict()
    return {k: d[k] for k in ("kind", "namespace", "text", "importance", "source_ids", "derived_from",
                              "episode_id", "pinned", "votes") if d[k] not in (None, [], {})}  # fmt: skip


def dump_json(value: Any) -> str | None:
    """A logged value as JSON text (None stays None)."""
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def load_json(text: str | None) -> Any:
    """Inverse of :func:`dump_json`."""
    return None if text is None else json.loads(text)
