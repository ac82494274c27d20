"""Keeping the vector store in line with the ledger: push (outbox), sync after a crash or outage,
flush counters to Chroma metadata, adopt memories another machine put in a shared server, and mirror
a whole ledger into a store that lacks part of it.

Chroma metadata carries every field of the record (lists and dicts as JSON), so another machine can
rebuild the record from the store alone. :class:`Syncer` also keeps the count of archived vectors
still in the index per collection (deletions left to :meth:`Syncer.sync`), which retrieval reaches past.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from memory.base import MemoryKind, MemoryRecord, MemoryStatus
from memory.config import MemoryConfig
from memory.errors import MemoryUsageError, StoreUnavailable
from memory.ledger import Ledger
from memory.schema import from_blob, record_summary, vector_problem
from memory.scopes import CollectionNames
from memory.store import Metadata, StoredItem, VectorStore
from memory.tokens import count_tokens

log = logging.getLogger(__name__)


def store_metadata(record: MemoryRecord) -> Metadata:
    """The record's fields as Chroma metadata (so another machine can adopt it); None values omitted."""
    meta: Metadata = {}
    for key, value in record.to_dict().items():
        if key in ("id", "text") or value is None:
            continue
        if isinstance(value, list | dict):
            meta[key] = json.dumps(value)
        elif isinstance(value, str | int | float | bool):
            meta[key] = value
    return meta


def record_from_store(item_id: str, document: str, meta: dict[str, Any]) -> MemoryRecord:
    """Rebuild a record from Chroma metadata written by :func:`store_metadata`."""
    data: dict[str, Any] = dict(meta)
    for key in ("source_ids", "derived_from", "meta"):
        if isinstance(data.get(key), str):
            data[key] = json.loads(data[key])
    data["id"] = item_id
    data["text"] = document
    return MemoryRecord.from_dict(data)


class Syncer:
    """The outbox between ledger and vector store, and the archived vectors still waiting to leave the index."""

    def __init__(self, ledger: Ledger, store: VectorStore, names: CollectionNames, config: MemoryConfig) -> None:
        self.ledger = ledger
        self.store = store
        self.names = names
        self.config = config
        self._pending_deletes: dict[str, int] = {}
        """Archived vectors per collection still in the index (retrieval widens its pool by these)."""

    # -- deletions left for later ------------------------------------------------------------------------
    def defer_deletes(self, name: str, count: int) -> None:
        """Note that ``count`` archived vectors of collection ``name`` stay in the index until :meth:`sync`."""
        self._pending_deletes[name] = self._pending_deletes.get(name, 0) + count

    def pending(self, name: str) -> int:
        """Archived vectors of collection ``name`` still in the index."""
        return self._pending_deletes.get(name, 0)

    def pending_all(self) -> dict[str, int]:
        """Archived vectors still in the index, per collection (empty once :meth:`sync` ran)."""
        return dict(self._pending_deletes)

    def delete_now(self, name: str, ids: Sequence[str]) -> None:
        """Delete archived vectors from the index and record that the store mirrors their rows."""
        self.store.delete(name, ids)
        self.mark_synced(ids)

    def backlog(self) -> int:
        """Changes not yet in the vector store: unsynced rows plus queued deletions."""
        return self.ledger.count("synced = 0") + int(self.ledger.query("SELECT COUNT(*) FROM tombstones")[0][0])

    def push(self, rows: dict[str, tuple[MemoryRecord, np.ndarray]]) -> None:
        """Upsert records into their collections, then mark them synced (one ledger transaction)."""
        by_collection: dict[str, list[tuple[MemoryRecord, np.ndarray]]] = {}
        for record, vector in rows.values():
            by_collection.setdefault(self.names.of(record.kind, record.namespace), []).append((record, vector))
        done: list[str] = []
        try:
            for name, group in by_collection.items():
                self.store.add(
                    name,
                    [r.id for r, _ in group],
                    np.stack([v for _, v in group]),
                    [r.text for r, _ in group],
                    [store_metadata(r) for r, _ in group],
                )
                done.extend(r.id for r, _ in group)
        except StoreUnavailable as exc:
            raise StoreUnavailable(
                f"{exc}\n{len(rows) - len(done)} memories are kept in the ledger ({self.config.ledger_path}) "
                "and will be pushed by MemoryBank.sync() once the store is back"
            ) from exc
        finally:
            self.mark_synced(done)

    def mark_synced(self, ids: Sequence[str]) -> None:
        """Record in the ledger that the vector store mirrors these rows."""
        if ids:
            with self.ledger.tx() as conn:
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS _synced (id TEXT PRIMARY KEY)")
                conn.executemany("INSERT OR IGNORE INTO _synced VALUES (?)", [(i,) for i in ids])
                conn.execute("UPDATE memories SET synced = 1, meta_dirty = 0 WHERE id IN (SELECT id FROM _synced)")
                conn.execute("DELETE FROM _synced")

    def sync(self) -> int:
        """Push every unsynced change to the vector store (after a crash or an outage); returns how many."""
        rows = self.ledger.query(
            "SELECT m.id, m.kind, m.namespace, m.status, v.embedding FROM memories m "
            "LEFT JOIN vectors v ON v.id = m.id WHERE m.synced = 0"
        )
        upserts = [r[0] for r in rows if r[3] != MemoryStatus.ARCHIVED.value]
        deletes: dict[str, list[str]] = {}
        for mid, kind, ns, status, _ in rows:
            if status == MemoryStatus.ARCHIVED.value:
                deletes.setdefault(self.names.of(MemoryKind(kind), ns), []).append(mid)
        blobs = {r[0]: r[4] for r in rows}
        records = self.ledger.get(upserts)
        pending: dict[str, tuple[MemoryRecord, np.ndarray]] = {}
        size, unfit = self.ledger.vector_size(), []
        for mid in upserts:
            vec = from_blob(blobs[mid])
            if vec is None or mid not in records or vector_problem(blobs[mid], size) or size is None:
                unfit.append(mid)
                continue
            pending[mid] = (records[mid][0], vec)
        if unfit:
            log.warning("%d memories have no vector the index can take (e.g. %s); they stay unsynced until "
                        "`evolve memory repair --memory-dir %s` embeds them again",
                        len(unfit), unfit[0], self.config.path)  # fmt: skip
        items = list(pending.items())
        for start in range(0, len(items), 5000):
            self.push(dict(items[start : start + 5000]))
        for name, ids in deletes.items():
            for start in range(0, len(ids), 5000):
                self.store.delete(name, ids[start : start + 5000])
                self.mark_synced(ids[start : start + 5000])
            self._pending_deletes.pop(name, None)
        tombs = self.ledger.query("SELECT id, collection FROM tombstones")
        by_col: dict[str, list[str]] = {}
        for mid, name in tombs:
            by_col.setdefault(name, []).append(mid)
        for name, ids in by_col.items():
            self.store.delete(name, ids)
            with self.ledger.tx() as conn:
                conn.executemany("DELETE FROM tombstones WHERE id = ? AND collection = ?", [(i, name) for i in ids])
        return len(pending) + sum(len(v) for v in deletes.values()) + len(tombs)

    def flush(self) -> int:
        """Publish changed counters (recalls, strength, utility, votes, status) to Chroma metadata.

        Needed only when other machines read the same Chroma server; returns how many were published.
        """
        ids = [r[0] for r in self.ledger.query("SELECT id FROM memories WHERE meta_dirty = 1 AND synced = 1")]
        records = self.ledger.get(ids)
        by_collection: dict[str, list[MemoryRecord]] = {}
        for record, _ in records.values():
            if record.status is not MemoryStatus.ARCHIVED:
                by_collection.setdefault(self.names.of(record.kind, record.namespace), []).append(record)
        for name, group in by_collection.items():
            self.store.update(name, [r.id for r in group], [store_metadata(r) for r in group])
        with self.ledger.tx() as conn:
            conn.executemany("UPDATE memories SET meta_dirty = 0 WHERE id = ?", [(i,) for i in ids])
        return len(ids)

    def adopt(self, name: str, ids: Sequence[str]) -> None:
        """Copy memories another machine put in the shared store into this ledger."""
        self.adopt_items(name, self.store.get(name, ids, include_embeddings=True))

    def adopt_items(self, name: str, items: Sequence[StoredItem]) -> None:
        """:meth:`adopt` for items already read from collection ``name`` with their embeddings."""
        records, vectors, tokens = [], [], []
        for item in items:
            if item.embedding is None:
                continue
            try:
                record = record_from_store(item.id, item.document, item.metadata)
            except (KeyError, ValueError, MemoryUsageError) as exc:
                log.warning("cannot adopt %s from %s: %s", item.id, name, exc)
                continue
            if self.ledger.ids_by_hash([(record.kind.value, record.namespace, record.content_hash)]):
                continue  # same content under another id: keep ours
            records.append(record)
            vectors.append(item.embedding)
            tokens.append(count_tokens(record.text, self.config.token_encoding))
        if records:
            with self.ledger.tx() as conn:
                self.ledger.insert(records, np.stack(vectors), tokens)
                conn.executemany("UPDATE memories SET synced = 1 WHERE id = ?", [(r.id,) for r in records])
                self.ledger.log(
                    ("insert", r.id, r.kind.value, r.namespace, "sync", "seen in the shared store", None,
                     record_summary(r))
                    for r in records
                )  # fmt: skip

    def mirror(self, batch: int = 1000) -> int:
        """Push the memories the ledger holds but its vector store lacks; returns how many were pushed.

        A bench resumed on another store (with workers after a run without, or on a freshly started server)
        would otherwise find its earlier memories only by keyword. Cheap when the counts already match.
        Archived memories still present in the store are deleted from it.
        """
        live_counts = self.ledger.query(f"SELECT kind, namespace, SUM(status != '{MemoryStatus.ARCHIVED.value}') "
                                        "FROM memories GROUP BY kind, namespace")  # fmt: skip
        if all(self.store.count(self.names.of(MemoryKind(k), ns)) == n for k, ns, n in live_counts):
            return 0  # the usual open: every collection holds what the ledger has live
        scopes: dict[str, tuple[list[str], list[str]]] = {}
        for mid, kind, namespace, status in self.ledger.scope_rows():
            live, archived = scopes.setdefault(self.names.of(MemoryKind(kind), namespace), ([], []))
            (archived if status == MemoryStatus.ARCHIVED.value else live).append(mid)
        missing: list[str] = []
        for name, (live, archived) in scopes.items():
            if self.store.count(name) == len(live):
                continue
            ids, present = live + archived, set[str]()
            for start in range(0, len(ids), batch):
                present.update(item.id for item in self.store.get(name, ids[start : start + batch]))
            missing.extend(m for m in live if m not in present)
            self.store.delete(name, [m for m in archived if m in present])
        if missing:
            log.info("the vector store lacks %d memories of the ledger: pushing them", len(missing))
            self.ledger.mark_unsynced(missing)
            self.sync()
        return len(missing)
