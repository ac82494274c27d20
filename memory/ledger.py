"""The ledger: a transactional SQLite catalog beside the vector index.

Chroma holds vectors for search; the ledger holds everything else (its tables are described in
:mod:`memory.schema`), so that hot paths never write to Chroma (a single Chroma update costs 25-40 ms
here, a batched SQLite transaction well under one).

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
from pathlib import Path
from typing import Any

import numpy as np

from memory.base import MemoryRecord
from memory.errors import MemoryUsageError
from memory.schema import (
    COLUMNS,
    CONTENT_OPS,
    RECORD_SELECT,
    SCHEMA,
    SCORING_SELECT,
    HistoryEntry,
    ScoringRow,
    dump_json,
    from_blob,
    load_json,
    record_from_row,
    record_values,
    to_blob,
)
from memory.validate import encodable, note


class Ledger:
    """The SQLite catalog; every method is one statement or runs inside :meth:`tx`."""

    def __init__(self, path: Path, busy_timeout_ms: int = 30_000, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        """Time source of history and failure timestamps (the bank's clock, so a simulated day is logged as such)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0
        self._vector_size: int | None = None
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
        """id -> (record, tokens) for the ids that exist; an id that is no string is :class:`MemoryUsageError`."""
        return self._fetch(_check_ids(ids))

    def _fetch(self, ids: Sequence[str]) -> dict[str, tuple[MemoryRecord, int]]:
        """:meth:`get` for ids already checked."""
        out: dict[str, tuple[MemoryRecord, int]] = {}
        for chunk in _chunks(list(ids), 900):
            marks = ", ".join("?" * len(chunk))
            for row in self.query(f"SELECT {RECORD_SELECT} FROM memories WHERE id IN ({marks})", chunk):
                out[row[0]] = (record_from_row(row), int(row[-1]))
        return out

    def get_all(self, ids: Sequence[str], doing: str) -> dict[str, tuple[MemoryRecord, int]]:
        """:meth:`get` for ids that must all exist; else ``MemoryUsageError("{doing} unknown memory ids: …")``."""
        found = self._fetch(list(dict.fromkeys(_check_ids(ids))))
        unknown = [m for m in ids if m not in found]
        if unknown:
            raise MemoryUsageError(f"{doing} unknown memory ids: {[m[:40] for m in unknown[:5]]}")
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

    def vector_size(self) -> int | None:
        """The number of dimensions most stored vectors have (None when there are none); found once, as a bank's
        embedding size never changes (inserts with the caller's vectors ask for it every time)."""
        return self._vector_size if self._vector_size is not None else self.measure_vector_size()

    def measure_vector_size(self) -> int | None:
        """:meth:`vector_size` read from the vectors now, not from what an earlier call found (check and repair)."""
        rows = self.query("SELECT length(embedding), COUNT(*) FROM vectors WHERE embedding IS NOT NULL "
                          "GROUP BY 1 ORDER BY 2 DESC LIMIT 1")  # fmt: skip
        self._vector_size = int(rows[0][0]) // 4 if rows else None
        return self._vector_size

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

    def scope_rows(self) -> list[tuple[str, str, str, str]]:
        """(id, kind, namespace, status) of every memory, whatever its status."""
        return [(str(m), str(k), str(ns), str(s)) for m, k, ns, s in
                self.query("SELECT id, kind, namespace, status FROM memories")]  # fmt: skip

    def mark_unsynced(self, ids: Sequence[str]) -> None:
        """Flag rows for the next sync to push to the vector store again."""
        with self.tx() as conn:
            conn.executemany("UPDATE memories SET synced = 0 WHERE id = ?", [(m,) for m in ids])

    def replace_with_snapshot(
        self,
        file: str,
        changed: Sequence[str],
        tombstones: Sequence[tuple[str, str]],
        entry: tuple[str, str | None, str | None, str | None, str, str, Any, Any],
    ) -> None:
        """Replace every memory and vector with those of a snapshot file, in one transaction.

        Rows are marked synced except ``changed`` (their vector-store copy differs from the snapshot's);
        ``tombstones`` (id, collection) are queued for deletion from the vector store; ``entry`` is logged.
        The snapshot is attached under the ledger's lock, so no other thread's statement sees it.
        """
        with self._lock:
            self.conn.execute("ATTACH DATABASE ? AS snap", (file,))
            try:
                with self.tx() as conn:
                    conn.execute("DELETE FROM memories")
                    conn.execute("INSERT INTO memories SELECT * FROM snap.memories")
                    conn.execute("DELETE FROM vectors")
                    conn.execute("INSERT INTO vectors SELECT * FROM snap.vectors")
                    conn.execute("UPDATE memories SET synced = 1, meta_dirty = 1")
                    conn.executemany("UPDATE memories SET synced = 0 WHERE id = ?", [(m,) for m in changed])
                    conn.executemany("INSERT OR IGNORE INTO tombstones (id, collection) VALUES (?, ?)", tombstones)
                    self.log([entry])
            finally:
                self.conn.execute("DETACH DATABASE snap")

    # -- history ------------------------------------------------------------------------------------------
    def log(self, entries: Iterable[tuple[str, str | None, str | None, str | None, str, str, Any, Any]]) -> None:
        """Append (op, memory_id, kind, namespace, actor, reason, before, after) entries, one timestamp."""
        now = self.clock()
        rows = [
            (now, op, mid, kind, ns, note(actor), note(reason), dump_json(before), dump_json(after))
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
            HistoryEntry(s, ts, op, mid, actor, reason, load_json(b), load_json(a))
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


def _check_ids(ids: object) -> Sequence[str]:
    """``ids`` when it is a sequence of valid id strings; else :class:`MemoryUsageError` naming the bad one."""
    if isinstance(ids, str) or not isinstance(ids, Sequence | set | dict):
        raise MemoryUsageError(f"memory ids must be a list of id strings; got {ids!r:.40} — wrap one id: [id]")
    for mid in ids:
        if not isinstance(mid, str):
            raise MemoryUsageError(f"memory ids are strings such as 'mem-…' (`evolve memory list` shows them); "
                                   f"got {type(mid).__name__} {mid!r:.40}")  # fmt: skip
        encodable(mid, "memory id")
    return list(ids)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
