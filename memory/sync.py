"""Keeping the vector store in line with the ledger: push (outbox), sync after a crash or outage,
flush counters to Chroma metadata, and adopt memories another machine put in a shared server.

Collections: one per kind and namespace, named ``PREFIX-KIND-NAMESPACE`` with the namespace's ``:``
written as ``.`` (Chroma names allow ``[a-zA-Z0-9._-]``). Chroma metadata carries every field of the
record (lists and dicts as JSON), so another machine can rebuild the record from the store alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from memory.base import MemoryKind, MemoryRecord, MemoryStatus, parse_kind, validate_namespace
from memory.errors import MemoryUsageError, StoreUnavailable
from memory.ledger import from_blob, record_summary
from memory.store import Metadata
from memory.tokens import count_tokens

if TYPE_CHECKING:
    from memory.bank import MemoryBank

log = logging.getLogger(__name__)

Scope = tuple[MemoryKind, str]


def collection_name(prefix: str, kind: MemoryKind, namespace: str) -> str:
    """Chroma collection of one kind in one namespace, e.g. ``evolve-insight-env.twx-twc``."""
    return f"{prefix}-{kind.value}-{namespace.replace(':', '.', 1)}"


def parse_collection_name(prefix: str, name: str) -> Scope | None:
    """Inverse of :func:`collection_name`; None for collections that are not ours."""
    if not name.startswith(prefix + "-"):
        return None
    kind_text, _, ns_text = name[len(prefix) + 1 :].partition("-")
    ns = ns_text.replace(".", ":", 1) if "." in ns_text else ns_text
    try:
        return parse_kind(kind_text), validate_namespace(ns)
    except MemoryUsageError:
        return None


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


def push(bank: MemoryBank, rows: dict[str, tuple[MemoryRecord, np.ndarray]]) -> None:
    """Upsert records into their collections, then mark them synced (one ledger transaction)."""
    by_collection: dict[str, list[tuple[MemoryRecord, np.ndarray]]] = {}
    for record, vector in rows.values():
        by_collection.setdefault(bank.collection(record.kind, record.namespace), []).append((record, vector))
    done: list[str] = []
    try:
        for name, group in by_collection.items():
            bank.store.add(
                name,
                [r.id for r, _ in group],
                np.stack([v for _, v in group]),
                [r.text for r, _ in group],
                [store_metadata(r) for r, _ in group],
            )
            done.extend(r.id for r, _ in group)
    except StoreUnavailable as exc:
        raise StoreUnavailable(
            f"{exc}\n{len(rows) - len(done)} memories are kept in the ledger ({bank.config.ledger_path}) "
            "and will be pushed by MemoryBank.sync() once the store is back"
        ) from exc
    finally:
        mark_synced(bank, done)


def mark_synced(bank: MemoryBank, ids: Sequence[str]) -> None:
    """Record in the ledger that the vector store mirrors these rows."""
    if ids:
        with bank.ledger.tx() as conn:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS _synced (id TEXT PRIMARY KEY)")
            conn.executemany("INSERT OR IGNORE INTO _synced VALUES (?)", [(i,) for i in ids])
            conn.execute("UPDATE memories SET synced = 1, meta_dirty = 0 WHERE id IN (SELECT id FROM _synced)")
            conn.execute("DELETE FROM _synced")


def sync(bank: MemoryBank) -> int:
    """Push every unsynced change to the vector store (after a crash or an outage); returns how many."""
    rows = bank.ledger.query(
        "SELECT m.id, m.kind, m.namespace, m.status, v.embedding FROM memories m "
        "LEFT JOIN vectors v ON v.id = m.id WHERE m.synced = 0"
    )
    upserts = [r[0] for r in rows if r[3] != MemoryStatus.ARCHIVED.value]
    deletes: dict[str, list[str]] = {}
    for mid, kind, ns, status, _ in rows:
        if status == MemoryStatus.ARCHIVED.value:
            deletes.setdefault(bank.collection(MemoryKind(kind), ns), []).append(mid)
    blobs = {r[0]: r[4] for r in rows}
    records = bank.ledger.get(upserts)
    pending: dict[str, tuple[MemoryRecord, np.ndarray]] = {}
    for mid in upserts:
        vec = from_blob(blobs[mid])
        if vec is None or mid not in records:
            continue
        pending[mid] = (records[mid][0], vec)
    items = list(pending.items())
    for start in range(0, len(items), 5000):
        push(bank, dict(items[start : start + 5000]))
    for name, ids in deletes.items():
        for start in range(0, len(ids), 5000):
            bank.store.delete(name, ids[start : start + 5000])
            mark_synced(bank, ids[start : start + 5000])
        bank._pending_deletes.pop(name, None)
    tombs = bank.ledger.query("SELECT id, collection FROM tombstones")
    by_col: dict[str, list[str]] = {}
    for mid, name in tombs:
        by_col.setdefault(name, []).append(mid)
    for name, ids in by_col.items():
        bank.store.delete(name, ids)
        with bank.ledger.tx() as conn:
            conn.executemany("DELETE FROM tombstones WHERE id = ? AND collection = ?", [(i, name) for i in ids])
    return len(pending) + sum(len(v) for v in deletes.values()) + len(tombs)


def flush(bank: MemoryBank) -> int:
    """Publish changed counters (recalls, strength, utility, votes, status) to Chroma metadata.

    Needed only when other machines read the same Chroma server; returns how many were published.
    """
    ids = [r[0] for r in bank.ledger.query("SELECT id FROM memories WHERE meta_dirty = 1 AND synced = 1")]
    records = bank.ledger.get(ids)
    by_collection: dict[str, list[MemoryRecord]] = {}
    for record, _ in records.values():
        if record.status is not MemoryStatus.ARCHIVED:
            by_collection.setdefault(bank.collection(record.kind, record.namespace), []).append(record)
    for name, group in by_collection.items():
        bank.store.update(name, [r.id for r in group], [store_metadata(r) for r in group])
    with bank.ledger.tx() as conn:
        conn.executemany("UPDATE memories SET meta_dirty = 0 WHERE id = ?", [(i,) for i in ids])
    return len(ids)


def adopt(bank: MemoryBank, name: str, ids: Sequence[str]) -> None:
    """Copy memories another machine put in the shared store into this ledger."""
    items = bank.store.get(name, ids, include_embeddings=True)
    records, vectors, tokens = [], [], []
    for item in items:
        if item.embedding is None:
            continue
        try:
            record = record_from_store(item.id, item.document, item.metadata)
        except (KeyError, ValueError, MemoryUsageError) as exc:
            log.warning("cannot adopt %s from %s: %s", item.id, name, exc)
            continue
        if bank.ledger.ids_by_hash([(record.kind.value, record.namespace, record.content_hash)]):
            continue  # same content under another id: keep ours
        records.append(record)
        vectors.append(item.embedding)
        tokens.append(count_tokens(record.text, bank.config.token_encoding))
    if records:
        with bank.ledger.tx() as conn:
            bank.ledger.insert(records, np.stack(vectors), tokens)
            conn.executemany("UPDATE memories SET synced = 1 WHERE id = ?", [(r.id,) for r in records])
            bank.ledger.log(
                ("insert", r.id, r.kind.value, r.namespace, "sync", "seen in the shared store", None, record_summary(r))
                for r in records
            )
