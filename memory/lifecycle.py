"""Life cycle of memories: forgetting (decay, capacity, low utility), archive and restore, snapshots,
rollback, and JSONL export/import.

Forgetting never destroys: a forgotten memory is *archived*, i.e. removed from the vector index (so it
no longer costs retrieval time) while the ledger keeps the full record with its embedding; ``restore``
puts it back. The sweep runs on the ledger alone (one SQLite read, numpy, one transaction, one batched
Chroma delete per collection), so 100k memories take seconds and no model is called.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from memory.base import MemoryKind, MemoryRecord, MemoryStatus
from memory.errors import MemoryUsageError, SnapshotNotFound
from memory.ledger import COLUMNS, RECORD_SELECT, from_blob, record_from_row, record_values
from memory.scoring import retention, utility
from memory.tokens import count_tokens

if TYPE_CHECKING:
    from memory.bank import MemoryBank

EXPORT_FORMAT = "evolve-memory-jsonl"
EXPORT_VERSION = 1
_SNAPSHOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class ForgetReport:
    """What a forget sweep did (or would do, with ``dry_run``)."""

    now: float
    """The time the sweep judged retention at."""
    examined: int = 0
    """Active memories looked at."""
    decayed: list[str] = field(default_factory=list)
    """Archived because their retention fell below the threshold."""
    low_utility: list[str] = field(default_factory=list)
    """Archived because episodes that used them kept failing."""
    over_capacity: list[str] = field(default_factory=list)
    """Archived because their kind and namespace held more than the capacity (weakest first)."""
    pinned_kept: int = 0
    """Pinned memories that would otherwise have been forgotten."""
    seconds: float = 0.0
    """Wall time of the whole sweep, index deletions included."""
    index_seconds: float = 0.0
    """Part of ``seconds`` spent deleting archived vectors from the vector index."""
    index_pending: int = 0
    """Archived memories whose vectors wait for :meth:`MemoryBank.sync` to leave the index."""
    dry_run: bool = False
    """True when nothing was changed."""

    @property
    def archived(self) -> int:
        """How many memories were (or would be) archived."""
        return len(self.decayed) + len(self.low_utility) + len(self.over_capacity)


@dataclass(frozen=True)
class SnapshotInfo:
    """A saved snapshot of the bank."""

    name: str
    """The snapshot's name."""
    created_at: float
    """When it was taken, Unix seconds."""
    memories: int
    """Records it holds (every status)."""
    file: str
    """SQLite file holding it."""


def forget(bank: MemoryBank, now: float, *, dry_run: bool = False, sync_index: bool | None = None) -> ForgetReport:
    """Archive decayed, low-utility and over-capacity memories; pinned ones are never touched.

    1. Decay: kinds in ``config.decaying_kinds`` whose retention exp(-t/S) < ``forget_below_retention``.
    2. Low utility: used at least ``prune_min_uses`` times and even an optimistic estimate of their
       success rate (mean + 1 sd under a Beta(1, 1) prior) is below ``prune_below_utility``.
    3. Capacity: per kind and namespace, beyond ``capacity[kind]`` the memories with the lowest
       retention x (0.5 + importance) x utility go.
    Superseded memories are kept as they are (they are history, not candidates).

    With ``sync_index=False`` the vector-index deletions are left to :meth:`MemoryBank.sync` (archived
    memories are never retrieved meanwhile): Chroma deletes ~4k vectors/s here, which dominates a sweep
    that forgets tens of thousands of memories. ``None`` (default) deletes inline up to
    ``config.forget_inline_deletes`` memories and defers beyond that; ``report.index_pending`` says how
    many deletions wait for :meth:`MemoryBank.sync`.
    """
    start = time.perf_counter()
    cfg = bank.config
    rows = bank.ledger.query(
        "SELECT id, kind, namespace, created_at, COALESCE(last_recalled_at, created_at), strength, importance, "
        "utility_sum, utility_count, pinned FROM memories WHERE status = ?",
        [MemoryStatus.ACTIVE.value],
    )
    report = ForgetReport(now=now, examined=len(rows), dry_run=dry_run)
    if not rows:
        return report
    columns = [list(c) for c in zip(*rows, strict=True)]
    ids, kinds, nss, created, last, strength, importance, usum, ucount, pinned = columns
    kinds_a = np.array(kinds)
    created_a = np.array(created, dtype=np.float64)
    last_a = np.maximum(np.array(last, dtype=np.float64), created_a)
    ret = retention(last_a, np.array(strength, dtype=np.float64), now)
    pinned_a = np.array(pinned, dtype=bool)
    usum_a = np.array(usum, dtype=np.float64)
    ucount_a = np.array(ucount, dtype=np.float64)
    decaying = np.isin(kinds_a, [k.value for k in cfg.decaying_kinds])
    decayed = decaying & (ret < cfg.forget_below_retention)
    a, b = usum_a + 1.0, ucount_a - usum_a + 1.0
    upper = a / (a + b) + np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
    low = (ucount_a >= cfg.prune_min_uses) & (upper < cfg.prune_below_utility)
    report.pinned_kept = int(((decayed | low) & pinned_a).sum())
    gone = (decayed | low) & ~pinned_a
    reasons: dict[int, str] = {}
    for i in np.flatnonzero(decayed & ~pinned_a).tolist():
        reasons[i] = f"decayed: retention {ret[i]:.3f} < {cfg.forget_below_retention}"
        report.decayed.append(ids[i])
    for i in np.flatnonzero(low & ~decayed & ~pinned_a).tolist():
        reasons[i] = f"low utility: {usum_a[i]:.1f} successes in {int(ucount_a[i])} uses"
        report.low_utility.append(ids[i])
    keep_score = ret * (0.5 + np.array(importance, dtype=np.float64)) * utility(usum_a, ucount_a)
    groups: dict[tuple[str, str], list[int]] = {}
    for i in np.flatnonzero(~gone).tolist():
        groups.setdefault((kinds[i], nss[i]), []).append(i)
    for (kind, _ns), members in groups.items():
        cap = cfg.capacity.get(MemoryKind(kind))
        if cap is None or len(members) <= cap:
            continue
        removable = sorted((i for i in members if not pinned_a[i]), key=lambda i: keep_score[i])
        for i in removable[: len(members) - cap]:
            reasons[i] = f"over capacity: {len(members)} active {kind} memories > {cap}"
            report.over_capacity.append(ids[i])
    if not dry_run and reasons:
        rows_out = [(ids[i], kinds[i], nss[i], r) for i, r in reasons.items()]
        inline = len(rows_out) <= cfg.forget_inline_deletes if sync_index is None else sync_index
        report.index_seconds = _archive_rows(bank, rows_out, actor="forget", sync_index=inline, now=now)
        report.index_pending = 0 if inline else len(rows_out)
    report.seconds = time.perf_counter() - start
    return report


def archive(bank: MemoryBank, memory_ids: Sequence[str], *, reason: str, actor: str) -> int:
    """Archive memories now (restorable); returns how many were active or superseded before."""
    found = bank.ledger.get_all(memory_ids, "cannot archive")
    rows = [
        (m, r.kind.value, r.namespace, reason) for m, (r, _) in found.items() if r.status is not MemoryStatus.ARCHIVED
    ]
    _archive_rows(bank, rows, actor=actor)
    return len(rows)


def _archive_rows(
    bank: MemoryBank,
    rows: Sequence[tuple[str, str, str, str]],
    *,
    actor: str,
    sync_index: bool = True,
    now: float | None = None,
) -> float:
    """Archive rows in one transaction (set-based SQL, so 100k rows take about a second), then delete
    them from the vector index in batches unless ``sync_index`` is False (then :meth:`MemoryBank.sync`
    does it later; retrieval already ignores archived rows). Returns the seconds spent on the index."""
    if not rows:
        return 0.0
    now = bank.clock() if now is None else now
    with bank.ledger.tx() as conn:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS _archive (id TEXT PRIMARY KEY, reason TEXT)")
        conn.execute("DELETE FROM _archive")
        conn.executemany("INSERT OR REPLACE INTO _archive VALUES (?, ?)", [(m, r) for m, _, _, r in rows])
        conn.execute(
            "INSERT INTO history (ts, op, memory_id, kind, namespace, actor, reason, before, after) "
            "SELECT ?, 'archive', m.id, m.kind, m.namespace, ?, a.reason, json_object('status', m.status), "
            '\'{"status": "archived"}\' FROM _archive a JOIN memories m ON m.id = a.id ORDER BY m.rowid',
            (now, actor),
        )
        conn.execute(
            "UPDATE memories SET status = 'archived', archived_at = ?, updated_at = ?, synced = 0, "
            "archive_reason = (SELECT reason FROM _archive a WHERE a.id = memories.id) "
            "WHERE id IN (SELECT id FROM _archive)",
            (now, now),
        )
        conn.execute("DELETE FROM _archive")
    by_collection: dict[str, list[str]] = {}
    for mid, kind, ns, _ in rows:
        by_collection.setdefault(bank.collection(MemoryKind(kind), ns), []).append(mid)
    if not sync_index:
        for name, ids in by_collection.items():
            bank._pending_deletes[name] = bank._pending_deletes.get(name, 0) + len(ids)
        return 0.0
    start = time.perf_counter()
    for name, ids in by_collection.items():
        bank.store.delete(name, ids)
        bank._mark_synced(ids)
    return time.perf_counter() - start


def restore(bank: MemoryBank, memory_ids: Sequence[str], *, actor: str, reason: str) -> None:
    """Bring archived memories back: active again, re-indexed, their forgetting clock reset."""
    found = bank.ledger.get_all(memory_ids, "cannot restore")
    todo = [r for r, _ in found.values() if r.status is MemoryStatus.ARCHIVED]
    if not todo:
        return
    now = bank.clock()
    with bank.ledger.tx() as conn:
        conn.executemany(
            "UPDATE memories SET status = 'active', archived_at = NULL, archive_reason = NULL, synced = 0, "
            "last_recalled_at = ?, updated_at = ? WHERE id = ?",
            [(now, now, r.id) for r in todo],
        )
        bank.ledger.log(
            ("restore", r.id, r.kind.value, r.namespace, actor, reason, {"status": "archived"}, {"status": "active"})
            for r in todo
        )
    vectors = bank.ledger.embeddings([r.id for r in todo])
    fresh = bank.ledger.get([r.id for r in todo])
    bank._push({m: (fresh[m][0], vectors[m]) for m in fresh if m in vectors})


# -- snapshots ----------------------------------------------------------------------------------------------
def _snapshot_dir(bank: MemoryBank) -> Path:
    return bank.config.path / "snapshots"


def list_snapshots(bank: MemoryBank) -> list[SnapshotInfo]:
    """Saved snapshots, oldest first."""
    rows = bank.ledger.query("SELECT name, created_at, memories, file FROM snapshots ORDER BY created_at")
    return [SnapshotInfo(n, c, m, f) for n, c, m, f in rows]


def snapshot(bank: MemoryBank, name: str) -> SnapshotInfo:
    """Copy every record (with embeddings and counters) into ``snapshots/NAME.sqlite3``."""
    if not isinstance(name, str) or not _SNAPSHOT_NAME.match(name):
        raise MemoryUsageError(f"bad snapshot name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    if any(s.name == name for s in list_snapshots(bank)):
        raise MemoryUsageError(f"a snapshot named {name!r} exists; choose another name")
    directory = _snapshot_dir(bank)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.sqlite3"
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(str(tmp))
    try:
        conn.execute("ATTACH DATABASE ? AS src", (str(bank.config.ledger_path),))
        conn.execute("CREATE TABLE memories AS SELECT * FROM src.memories")
        conn.execute("CREATE TABLE vectors AS SELECT * FROM src.vectors")
        conn.commit()
        count = int(conn.execute("SELECT COUNT(*) FROM memories").fetchone()[0])
        conn.execute("DETACH DATABASE src")
    finally:
        conn.close()
    os.replace(tmp, target)
    now = bank.clock()
    with bank.ledger.tx() as lconn:
        lconn.execute(
            "INSERT INTO snapshots (name, created_at, file, memories, history_seq) VALUES (?, ?, ?, ?, ?)",
            (name, now, str(target), count, bank.ledger.last_history_seq()),
        )
        bank.ledger.log([("snapshot", None, None, None, bank.config.actor, f"saved {name}", None, {"memories": count})])
    return SnapshotInfo(name, now, count, str(target))


def rollback(bank: MemoryBank, name: str) -> SnapshotInfo:
    """Make the bank's records what they were at snapshot ``name`` and bring the vector store in line."""
    info = next((s for s in list_snapshots(bank) if s.name == name), None)
    if info is None or not Path(info.file).is_file():
        known = ", ".join(s.name for s in list_snapshots(bank)) or "none"
        raise SnapshotNotFound(f"no snapshot named {name!r} (known: {known})")
    snap = sqlite3.connect(info.file)
    try:
        snap_rows = snap.execute("SELECT id, kind, namespace, status, content_hash FROM memories").fetchall()
    finally:
        snap.close()
    live = MemoryStatus.ARCHIVED.value
    snap_live = {mid: (kind, ns, h) for mid, kind, ns, status, h in snap_rows if status != live}
    cur = bank.ledger.query("SELECT id, kind, namespace, status, content_hash, synced FROM memories")
    cur_live = {mid: (kind, ns, h) for mid, kind, ns, status, h, synced in cur if status != live or not synced}
    tombstones = [
        (mid, bank.collection(MemoryKind(k), ns)) for mid, (k, ns, _) in cur_live.items() if mid not in snap_live
    ]
    changed = [mid for mid, v in snap_live.items() if cur_live.get(mid) != v]
    conn = bank.ledger.conn
    with bank.ledger._lock:
        conn.execute("ATTACH DATABASE ? AS snap", (info.file,))
        try:
            with bank.ledger.tx():
                conn.execute("DELETE FROM memories")
                conn.execute("INSERT INTO memories SELECT * FROM snap.memories")
                conn.execute("DELETE FROM vectors")
                conn.execute("INSERT INTO vectors SELECT * FROM snap.vectors")
                conn.execute("UPDATE memories SET synced = 1, meta_dirty = 1")
                conn.executemany("UPDATE memories SET synced = 0 WHERE id = ?", [(m,) for m in changed])
                conn.executemany("INSERT OR IGNORE INTO tombstones (id, collection) VALUES (?, ?)", tombstones)
                bank.ledger.log([("rollback", None, None, None, bank.config.actor, f"to snapshot {name}",
                                  None, {"memories": len(snap_rows)})])  # fmt: skip
        finally:
            conn.execute("DETACH DATABASE snap")
    bank._keyword.clear()
    bank._refresh_scopes()
    bank.sync()
    return info


# -- export / import ------------------------------------------------------------------------------------
def export_jsonl(bank: MemoryBank, path: Path, include_archived: bool, include_embeddings: bool) -> int:
    """One header line, then one line per record: ``{"record": ..., "embedding": [...], ...}``."""
    where = "" if include_archived else f"WHERE m.status != '{MemoryStatus.ARCHIVED.value}'"
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported_at": time.time()}) + "\n")
        cursor = bank.ledger.conn.execute(
            f"SELECT {', '.join('m.' + c for c in RECORD_SELECT.split(', '))}, v.embedding, m.archived_at, "
            f"m.archive_reason, m.reflected_at FROM memories m LEFT JOIN vectors v ON v.id = m.id {where} "
            "ORDER BY m.rowid"
        )
        for row in cursor:
            record = record_from_row(row[:-4])
            line: dict[str, Any] = {"record": record.to_dict(), "archived_at": row[-3], "archive_reason": row[-2],
                                    "reflected_at": row[-1]}  # fmt: skip
            if include_embeddings:
                vec = from_blob(row[-4])
                line["embedding"] = None if vec is None else [round(float(x), 7) for x in vec]
            fh.write(json.dumps(line) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def import_jsonl(bank: MemoryBank, path: Path, actor: str) -> int:
    """Insert the records of an export whose id and content are new; returns how many were imported."""
    if not path.is_file():
        raise MemoryUsageError(f"no export file at {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise MemoryUsageError(f"{path} is empty; expected a {EXPORT_FORMAT} file")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError as exc:
        raise MemoryUsageError(f"{path} line 1 is not JSON ({exc}); expected a {EXPORT_FORMAT} header") from None
    if header.get("format") != EXPORT_FORMAT:
        raise MemoryUsageError(f"{path} is not a {EXPORT_FORMAT} file (header {lines[0][:80]!r})")
    entries: list[tuple[MemoryRecord, dict[str, Any]]] = []
    for n, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
            entries.append((MemoryRecord.from_dict(data["record"]), data))
        except (json.JSONDecodeError, KeyError, ValueError) as exc:
            raise MemoryUsageError(f"{path} line {n}: not a memory record ({exc})") from None
    known_ids = set(bank.ledger.get([r.id for r, _ in entries]))
    known_hashes = bank.ledger.ids_by_hash((r.kind.value, r.namespace, r.content_hash) for r, _ in entries)
    fresh = [(r, d) for r, d in entries
             if r.id not in known_ids and (r.kind.value, r.namespace, r.content_hash) not in known_hashes]  # fmt: skip
    if not fresh:
        return 0
    missing = [i for i, (_, d) in enumerate(fresh) if not d.get("embedding")]
    computed = bank.embed([fresh[i][0].text for i in missing]) if missing else np.zeros((0, 0))
    vectors = {i: computed[j] for j, i in enumerate(missing)}
    rows, vecs = [], []
    for i, (r, d) in enumerate(fresh):
        vecs.append(vectors[i] if i in vectors else np.asarray(d["embedding"], dtype=np.float32))
        tokens = count_tokens(r.text, bank.config.token_encoding)
        extra = (1 if r.status is MemoryStatus.ARCHIVED else 0, d.get("archived_at"), d.get("archive_reason"),
                 d.get("reflected_at"))  # fmt: skip
        rows.append((*record_values(r), tokens, *extra))
    cols = [*COLUMNS, "tokens", "synced", "archived_at", "archive_reason", "reflected_at"]
    with bank.ledger.tx() as conn:
        conn.executemany(f"INSERT INTO memories ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
        bank.ledger.set_vectors([r.id for r, _ in fresh], np.stack(vecs))
        bank.ledger.log(
            ("import", r.id, r.kind.value, r.namespace, actor, f"from {path.name}", None, {"status": r.status.value})
            for r, _ in fresh
        )
    bank._scopes.update((r.kind, r.namespace) for r, _ in fresh)
    bank.sync()
    return len(fresh)
