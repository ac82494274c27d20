"""Snapshots of the whole bank and rollback to them, and JSONL export/import of its memories.

A snapshot is a copy of the ``memories`` and ``vectors`` tables in its own SQLite file; rollback puts
it back in one ledger transaction and queues what the vector store must change (re-pushes and
tombstones), which the bank's sync then does. Export writes one JSON line per record; import inserts
the records whose id and content are new, keeping their ids.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memory.base import MemoryKind, MemoryRecord, MemoryStatus
from memory.config import MemoryConfig
from memory.embed import Embed
from memory.errors import MemoryUsageError, SnapshotNotFound
from memory.ledger import Ledger
from memory.schema import COLUMNS, RECORD_SELECT, from_blob, record_from_row, record_values
from memory.scopes import CollectionNames
from memory.validate import bank_dimension, checked_vectors, finite, imported_record, optional_text

EXPORT_FORMAT = "evolve-memory-jsonl"
EXPORT_VERSION = 1
_SNAPSHOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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


class Snapshots:
    """Saves, lists and restores snapshots; exports and imports JSONL. Touches the ledger only."""

    def __init__(self, config: MemoryConfig, ledger: Ledger, names: CollectionNames, embed: Embed,
                 clock: Callable[[], float]) -> None:  # fmt: skip
        self.config = config
        self.ledger = ledger
        self.names = names
        self.embed = embed
        self.clock = clock

    def _snapshot_dir(self) -> Path:
        return self.config.path / "snapshots"

    def list_snapshots(self) -> list[SnapshotInfo]:
        """Saved snapshots, oldest first."""
        rows = self.ledger.query("SELECT name, created_at, memories, file FROM snapshots ORDER BY created_at")
        return [SnapshotInfo(n, c, m, f) for n, c, m, f in rows]

    def snapshot(self, name: str) -> SnapshotInfo:
        """Copy every record (with embeddings and counters) into ``snapshots/NAME.sqlite3``."""
        if not isinstance(name, str) or not _SNAPSHOT_NAME.match(name):
            raise MemoryUsageError(f"bad snapshot name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
        if any(s.name == name for s in self.list_snapshots()):
            raise MemoryUsageError(f"a snapshot named {name!r} exists; choose another name")
        directory = self._snapshot_dir()
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{name}.sqlite3"
        tmp = directory / f".{name}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(str(tmp))
        try:
            conn.execute("ATTACH DATABASE ? AS src", (str(self.config.ledger_path),))
            conn.execute("CREATE TABLE memories AS SELECT * FROM src.memories")
            conn.execute("CREATE TABLE vectors AS SELECT * FROM src.vectors")
            conn.commit()
            count = int(conn.execute("SELECT COUNT(*) FROM memories").fetchone()[0])
            conn.execute("DETACH DATABASE src")
        finally:
            conn.close()
        os.replace(tmp, target)
        now = self.clock()
        with self.ledger.tx() as lconn:
            lconn.execute(
                "INSERT INTO snapshots (name, created_at, file, memories, history_seq) VALUES (?, ?, ?, ?, ?)",
                (name, now, str(target), count, self.ledger.last_history_seq()),
            )
            self.ledger.log([("snapshot", None, None, None, self.config.actor, f"saved {name}", None,
                              {"memories": count})])  # fmt: skip
        return SnapshotInfo(name, now, count, str(target))

    def rollback(self, name: str) -> SnapshotInfo:
        """Make the ledger's records what they were at snapshot ``name`` and queue the vector store's changes.

        The caller then drops its keyword indexes, refreshes its scopes and syncs the store.
        """
        info = next((s for s in self.list_snapshots() if s.name == name), None)
        if info is None or not Path(info.file).is_file():
            known = ", ".join(s.name for s in self.list_snapshots()) or "none"
            raise SnapshotNotFound(f"no snapshot named {name!r} (known: {known})")
        snap = sqlite3.connect(info.file)
        try:
            snap_rows = snap.execute("SELECT id, kind, namespace, status, content_hash FROM memories").fetchall()
        finally:
            snap.close()
        live = MemoryStatus.ARCHIVED.value
        snap_live = {mid: (kind, ns, h) for mid, kind, ns, status, h in snap_rows if status != live}
        cur = self.ledger.query("SELECT id, kind, namespace, status, content_hash, synced FROM memories")
        cur_live = {mid: (kind, ns, h) for mid, kind, ns, status, h, synced in cur if status != live or not synced}
        tombstones = [
            (mid, self.names.of(MemoryKind(k), ns)) for mid, (k, ns, _) in cur_live.items() if mid not in snap_live
        ]
        changed = [mid for mid, v in snap_live.items() if cur_live.get(mid) != v]
        entry = ("rollback", None, None, None, self.config.actor, f"to snapshot {name}", None,
                 {"memories": len(snap_rows)})  # fmt: skip
        self.ledger.replace_with_snapshot(info.file, changed, tombstones, entry)
        return info

    def export_jsonl(self, path: Path, include_archived: bool, include_embeddings: bool) -> int:
        """One header line, then one line per record: ``{"record": ..., "embedding": [...], ...}``."""
        where = "" if include_archived else f"WHERE m.status != '{MemoryStatus.ARCHIVED.value}'"
        try:
            return self._export_to(path, where, include_embeddings)
        except OSError as exc:  # a name too long, a read-only or full disk, no permission
            raise MemoryUsageError(f"cannot write the export file {str(path)[:80]!r}: {exc.strerror or exc}; give "
                                   "another path") from None  # fmt: skip

    def _export_to(self, path: Path, where: str, include_embeddings: bool) -> int:
        if path.is_dir():
            raise MemoryUsageError(f"export file {path} is a directory; give a file name inside it")
        if path.resolve().is_relative_to(self.config.path.resolve()):
            raise MemoryUsageError(f"export file {path} is inside the memory directory {self.config.path}, whose "
                                   "files the bank owns; write the export outside it")  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        try:
            count = self._write_export(tmp, where, include_embeddings)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return count

    def _write_export(self, tmp: Path, where: str, include_embeddings: bool) -> int:
        count = 0
        with open(tmp, "w", encoding="utf-8") as fh:
            header = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported_at": time.time()}
            fh.write(json.dumps(header) + "\n")
            cursor = self.ledger.conn.execute(
                f"SELECT {', '.join('m.' + c for c in RECORD_SELECT.split(', '))}, v.embedding, m.archived_at, "
                f"m.archive_reason, m.reflected_at FROM memories m LEFT JOIN vectors v ON v.id = m.id {where} "
                "ORDER BY m.rowid"
            )
            for row in cursor:
                record = record_from_row(row[:-4])
                line: dict[str, Any] = {"record": record.to_dict(), "archived_at": row[-3],
                                        "archive_reason": row[-2], "reflected_at": row[-1]}  # fmt: skip
                if include_embeddings:
                    vec = from_blob(row[-4])
                    line["embedding"] = None if vec is None else [round(float(x), 7) for x in vec]
                fh.write(json.dumps(line) + "\n")
                count += 1
        return count

    def import_jsonl(self, path: Path, actor: str) -> list[MemoryRecord]:
        """Insert the records of an export whose id and content are new (unsynced); returns them.

        Every line is checked with insert's rules (:mod:`memory.validate`) before anything is written, so a
        file with one bad line imports nothing. The caller then adds their scopes and syncs the store.
        """
        entries = self._read_export(path)
        if not entries:
            return []
        known_ids = set(self.ledger.get([r.id for r, _ in entries]))
        known_hashes = self.ledger.ids_by_hash((r.kind.value, r.namespace, r.content_hash) for r, _ in entries)
        fresh = [
            (r, d) for r, d in entries
            if r.id not in known_ids and (r.kind.value, r.namespace, r.content_hash) not in known_hashes
        ]  # fmt: skip
        if not fresh:
            return []
        missing = [i for i, (_, d) in enumerate(fresh) if d.get("embedding") is None]
        computed = self.embed([fresh[i][0].text for i in missing]) if missing else np.zeros((0, 0))
        vectors = {i: computed[j] for j, i in enumerate(missing)}
        rows, vecs = [], []
        for i, (r, d) in enumerate(fresh):
            vecs.append(vectors[i] if i in vectors else d["embedding"])
            extra = (1 if r.status is MemoryStatus.ARCHIVED else 0, d["archived_at"], d["archive_reason"],
                     d["reflected_at"])  # fmt: skip
            rows.append((*record_values(r), d["tokens"], *extra))
        cols = [*COLUMNS, "tokens", "synced", "archived_at", "archive_reason", "reflected_at"]
        with self.ledger.tx() as conn:
            marks = ", ".join("?" * len(cols))
            conn.executemany(f"INSERT INTO memories ({', '.join(cols)}) VALUES ({marks})", rows)
            self.ledger.set_vectors([r.id for r, _ in fresh], np.stack(vecs))
            self.ledger.log(
                ("import", r.id, r.kind.value, r.namespace, actor, f"from {path.name}", None,
                 {"status": r.status.value})
                for r, _ in fresh
            )  # fmt: skip
        return [r for r, _ in fresh]

    def _read_export(self, path: Path) -> list[tuple[MemoryRecord, dict[str, Any]]]:
        """The records of an export file and their extras (checked embedding, token count, archive and reflection
        times),
        one per id and content (a repeated content keeps its first line); raises on the first bad line."""
        try:
            return self._parse_export(path)
        except OSError as exc:  # a name too long, no permission
            raise MemoryUsageError(f"cannot read the import file {str(path)[:80]!r}: {exc.strerror or exc}; give "
                                   "another path") from None  # fmt: skip

    def _parse_export(self, path: Path) -> list[tuple[MemoryRecord, dict[str, Any]]]:
        if path.is_dir():
            raise MemoryUsageError(f"{path} is a directory; give the .jsonl file `evolve memory export` wrote")
        if not path.is_file():
            raise MemoryUsageError(f"no export file at {path}")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise MemoryUsageError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                                   f"expected a {EXPORT_FORMAT} file") from None  # fmt: skip
        if not lines:
            raise MemoryUsageError(f"{path} is empty; expected a {EXPORT_FORMAT} file")
        try:
            header = json.loads(lines[0])
        except json.JSONDecodeError as exc:
            raise MemoryUsageError(
                f"{path} line 1 is not JSON ({exc}); expected a {EXPORT_FORMAT} header"
            ) from None
        if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
            raise MemoryUsageError(f"{path} is not a {EXPORT_FORMAT} file (header {lines[0][:80]!r})")
        entries: dict[str, tuple[MemoryRecord, dict[str, Any]]] = {}
        contents: set[tuple[str, str, str]] = set()
        for n, text in enumerate(lines[1:], start=2):
            if not text.strip():
                continue
            where = f"{path.name} line {n}"
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise MemoryUsageError(f"{where}: not JSON ({exc}); fix or remove the line") from None
            if not isinstance(data, dict) or "record" not in data:
                raise MemoryUsageError(f"{where}: expected an object with a \"record\"; got {text[:60]!r}")
            record, tokens = imported_record(data["record"], where, self.config)
            if record.id in entries:
                raise MemoryUsageError(f"{where}: id {record.id} is repeated (first at an earlier line); "
                                       "an export holds each memory once")  # fmt: skip
            key = (record.kind.value, record.namespace, record.content_hash)
            if key in contents:
                continue
            contents.add(key)
            extras = {"embedding": data.get("embedding"), "line": n, "tokens": tokens,
                      "archived_at": _time(data.get("archived_at"), f"{where}: archived_at"),
                      "archive_reason": optional_text(data.get("archive_reason"), f"{where}: archive_reason"),
                      "reflected_at": _time(data.get("reflected_at"), f"{where}: reflected_at")}  # fmt: skip
            entries[record.id] = (record, extras)
        given = [d for _, d in entries.values() if d["embedding"] is not None]
        if given:
            size = bank_dimension(self.ledger.vector_size(), self.embed)
            for d in given:
                d["embedding"] = checked_vectors([d["embedding"]], 1, size, f"{path.name} line {d['line']}")[0]
        return list(entries.values())


def _time(value: object, what: str) -> float | None:
    return None if value is None else finite(value, what, low=0.0)
