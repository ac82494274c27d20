"""The ledger: a transactional SQLite catalog beside the vector index.

Chroma holds vectors for search; the ledger holds everything else, so that hot paths never write to
Chroma (a single Chroma update costs 25-40 ms here, a batched SQLite transaction well under one):

* ``memories``: every record with its counters (recall count, strength, utility, votes), its status
  and two sync flags: ``synced`` (the vector store mirrors this row) and ``meta_dirty`` (counters changed since
  the last :meth:`MemoryBank.flush` to Chroma metadata).
* ``vectors``: each memory's embedding, so that archive, restore, snapshots and crash recovery need no
  Chroma read (a separate table: updating a record's counters never rewrites its 1.5 kB vector).
* ``tombstones``: ids still to be deleted from the vector store (outbox of deletes).
* ``history``: the append-only log of every operation (who, what, when, why, before/after).
* ``reflect_failures``: raw model output that could not be used, kept for inspection.
* ``snapshots``: names of saved snapshots (each a copy of ``memories`` in its own SQLite file).

WAL mode and a busy timeout make the file safe for several processes on one machine. The ledger is
local to a machine: with a Chroma server shared by several machines each keeps its own (see bank).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from memory.base import MemoryKind, MemoryRecord, MemoryStatus
from memory.errors import MemoryUsageError

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


def from_blob(blob: bytes | None) -> np.ndarray | None:
    """Inverse of :func:`to_blob`."""
    return None if blob is None else np.frombuffer(blob, dtype=np.float32)


class Ledger:
    """The SQLite catalog; every method is one statement or runs inside :meth:`tx`."""

    def __init__(self, path: Path, busy_timeout_ms: int = 30_000, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        """Time source of history and failure timestamps (the bank's clock, so a simulated day is logged as such)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0
        self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        self.conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        with self.tx():
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self.conn.execute(statement)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with contextlib.suppress(sqlite3.ProgrammingError):
            self.conn.close()

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: takes the write lock up front); nests as a no-op."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query."""
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    # -- records ------------------------------------------------------------------------------------------
    def insert(self, records: Sequence[MemoryRecord], embeddings: np.ndarray, tokens: Sequence[int]) -> None:
        """Insert new rows (unsynced) with their vectors; the caller has checked the content hashes are new."""
        rows = [(*record_values(r), int(t)) for r, t in zip(records, tokens, strict=True)]
        marks = ", ".join("?" * (len(COLUMNS) + 1))
        with self.tx():
            self.conn.executemany(f"INSERT INTO memories ({', '.join(COLUMNS)}, tokens) VALUES ({marks})", rows)
            self.set_vectors([r.id for r in records], embeddings)

    def set_vectors(self, ids: Sequence[str], embeddings: np.ndarray) -> None:
        """Store (or replace) embeddings."""
        with self.tx():
            self.conn.executemany(
                "INSERT OR REPLACE INTO vectors (id, embedding) VALUES (?, ?)",
                [(m, to_blob(e)) for m, e in zip(ids, embeddings, strict=True)],
            )

    def ids_by_hash(self, keys: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], tuple[str, str]]:
        """(kind, namespace, hash) -> (id, status) for the keys already stored."""
        out: dict[tuple[str, str, str], tuple[str, str]] = {}
        keys = list(keys)
        for chunk in _chunks(keys, 300):
            where = " OR ".join("(kind = ? AND namespace = ? AND content_hash = ?)" for _ in chunk)
            params = [v for key in chunk for v in key]
            for kind, ns, h, mid, status in self.query(
                f"SELECT kind, namespace, content_hash, id, status FROM memories WHERE {where}", params
            ):
                out[(kind, ns, h)] = (mid, status)
        return out

    def get(self, ids: Sequence[str]) -> dict[str, tuple[MemoryRecord, int]]:
        """id -> (record, tokens) for the ids that exist."""
        out: dict[str, tuple[MemoryRecord, int]] = {}
        for chunk in _chunks(list(ids), 900):
            marks = ", ".join("?" * len(chunk))
            for row in self.query(f"SELECT {RECORD_SELECT} FROM memories WHERE id IN ({marks})", chunk):
                out[row[0]] = (record_from_row(row), int(row[-1]))
        return out

    def get_all(self, ids: Sequence[str], doing: str) -> dict[str, tuple[MemoryRecord, int]]:
        """:meth:`get` for ids that must all exist; else ``MemoryUsageError("{doing} unknown memory ids: …")``."""
        found = self.get(list(dict.fromkeys(ids)))
        unknown = [m for m in ids if m not in found]
        if unknown:
            raise MemoryUsageError(f"{doing} unknown memory ids: {unknown[:5]}")
        return found

    def scoring_rows(self, ids: Sequence[str]) -> dict[str, ScoringRow]:
        """id -> the columns retrieval scores by, for the ids that exist."""
        out: dict[str, ScoringRow] = {}
        for chunk in _chunks(list(ids), 900):
            marks = ", ".join("?" * len(chunk))
            for row in self.query(f"SELECT {SCORING_SELECT} FROM memories WHERE id IN ({marks})", chunk):
                out[row[0]] = ScoringRow(*row)
        return out

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """id -> stored embedding."""
        out: dict[str, np.ndarray] = {}
        for chunk in _chunks(list(ids), 900):
            marks = ", ".join("?" * len(chunk))
            for mid, blob in self.query(f"SELECT id, embedding FROM vectors WHERE id IN ({marks})", chunk):
                vec = from_blob(blob)
                if vec is not None:
                    out[mid] = vec
        return out

    def update_fields(self, memory_id: str, fields: dict[str, Any], *, store_dirty: bool) -> None:
        """Set columns of one row; ``store_dirty`` marks the row for re-sync of text/vector to the store."""
        sets = ", ".join(f"{k} = ?" for k in fields)
        flag = ", synced = 0" if store_dirty else ", meta_dirty = 1"
        self.conn.execute(f"UPDATE memories SET {sets}{flag} WHERE id = ?", [*fields.values(), memory_id])

    def record_recalls(self, ids: Sequence[str], now: float, growth: float, max_strength: float) -> None:
        """One transaction: recall_count += 1, last_recalled_at = now, strength grown as
        :func:`memory.scoring.grow_strength` does (spacing effect, capped, never smaller)."""
        if not ids:
            return
        with self.tx():
            self.conn.executemany(
                "UPDATE memories SET recall_count = recall_count + 1, last_recalled_at = :now, "
                "strength = MIN(:cap, MAX(strength, strength * (1.0 + (:growth - 1.0) * MIN(1.0, MAX(0.0, "
                "(:now - COALESCE(last_recalled_at, created_at)) / 86400.0 / MAX(strength, 1e-9)))))), "
                "meta_dirty = 1 WHERE id = :id",
                [{"now": now, "cap": max_strength, "growth": max(1.0, growth), "id": mid} for mid in ids],
            )

    def count(self, where: str = "1", params: Sequence[Any] = ()) -> int:
        """Number of rows matching a WHERE clause."""
        return int(self.query(f"SELECT COUNT(*) FROM memories WHERE {where}", params)[0][0])

    # -- history ------------------------------------------------------------------------------------------
    def log(self, entries: Iterable[tuple[str, str | None, str | None, str | None, str, str, Any, Any]]) -> None:
        """Append (op, memory_id, kind, namespace, actor, reason, before, after) entries, one timestamp."""
        now = self.clock()
        rows = [
            (now, op, mid, kind, ns, actor, reason, _json(before), _json(after))
            for op, mid, kind, ns, actor, reason, before, after in entries
        ]
        if rows:
            with self.tx():
                self.conn.executemany(
                    "INSERT INTO history (ts, op, memory_id, kind, namespace, actor, reason, before, after) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )

    def history(self, memory_id: str | None = None, limit: int | None = None) -> list[HistoryEntry]:
        """Log entries of one memory (or of the whole bank), oldest first."""
        sql = "SELECT seq, ts, op, memory_id, actor, reason, before, after FROM history"
        params: list[Any] = []
        if memory_id is not None:
            sql += " WHERE memory_id = ?"
            params.append(memory_id)
        sql += " ORDER BY seq"
        if limit is not None:
            newest = sql.replace(" ORDER BY seq", " ORDER BY seq DESC")
            sql = f"SELECT * FROM ({newest} LIMIT {int(limit)}) ORDER BY seq"
        return [
            HistoryEntry(s, ts, op, mid, actor, reason, _unjson(b), _unjson(a))
            for s, ts, op, mid, actor, reason, b, a in self.query(sql, params)
        ]

    def last_history_seq(self) -> int:
        """Highest log position (0 when empty)."""
        return int(self.query("SELECT COALESCE(MAX(seq), 0) FROM history")[0][0])

    def content_changes(self, kind: str, namespace: str, after_seq: int) -> list[tuple[int, str, str | None]]:
        """(seq, op, memory_id) of content-changing operations in a scope since ``after_seq``."""
        marks = ", ".join("?" * len(CONTENT_OPS))
        return [
            (int(s), op, mid)
            for s, op, mid in self.query(
                "SELECT seq, op, memory_id FROM history WHERE seq > ? AND "
                f"((kind = ? AND namespace = ?) OR memory_id IS NULL) AND op IN ({marks}) ORDER BY seq",
                [after_seq, kind, namespace, *CONTENT_OPS],
            )
        ]

    # -- reflection failures ----------------------------------------------------------------------------
    def add_failure(self, step: str, error: str, raw: str, experience_ids: Sequence[str]) -> None:
        """Keep a model reply that could not be used."""
        with self.tx():
            self.conn.execute(
                "INSERT INTO reflect_failures (ts, step, error, raw, experience_ids) VALUES (?, ?, ?, ?, ?)",
                (self.clock(), step, error, raw, json.dumps(list(experience_ids))),
            )

    def failures(self) -> list[dict[str, Any]]:
        """Every kept failure, oldest first."""
        rows = self.query("SELECT id, ts, step, error, raw, experience_ids FROM reflect_failures ORDER BY id")
        return [
            {"id": i, "ts": ts, "step": step, "error": err, "raw": raw, "experience_ids": json.loads(ex)}
            for i, ts, step, err, raw, ex in rows
        ]


def record_summary(record: MemoryRecord) -> dict[str, Any]:
    """The fields of a record worth logging at insert (no counters)."""
    d = record.to_dict()
    return {k: d[k] for k in ("kind", "namespace", "text", "importance", "source_ids", "derived_from",
                              "episode_id", "pinned", "votes") if d[k] not in (None, [], {})}  # fmt: skip


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def _unjson(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
