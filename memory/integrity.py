"""A bank's vector index checked against its ledger, and rebuilt from it.

The ledger keeps every memory's vector, so the index can always be rebuilt from the ledger. :meth:`Integrity.check`
reads every ledger row and every id of the index (a full pass); the open runs only the cheap half, counts per
collection (:meth:`Integrity.reconcile`). :meth:`Integrity.repair` places what it can (a vector that does not fit is
embedded again from the memory's text) and moves what it cannot place (a row that no longer reads as a record, an
index item no ledger row explains and whose metadata rebuilds no new record) whole into the ``quarantine`` table,
never deleting it. With a shared Chroma server, index items this ledger does not know are other machines' memories:
adopted when they read as records, otherwise left where they are.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from memory.base import MemoryStatus
from memory.config import MemoryConfig
from memory.embed import Embed
from memory.errors import BankDamaged, MemoryUsageError, StoreUnavailable
from memory.ledger import Ledger
from memory.schema import COLUMNS, RECORD_SELECT, from_blob, record_from_row, vector_problem
from memory.scopes import CollectionNames
from memory.store import StoredItem, VectorStore
from memory.sync import Syncer, record_from_store

PAGE = 2000
"""Ledger rows read per query during a check."""


@runtime_checkable
class ListingStore(VectorStore, Protocol):
    """A vector store that can list a collection's ids and drop a collection (what check and repair need)."""

    def ids(self, collection: str) -> list[str]:
        """Every id in a collection."""
        ...

    def drop(self, collection: str) -> None:
        """Delete a whole collection."""
        ...


@dataclass
class CollectionCheck:
    """One collection of the index against the ledger rows that belong in it."""

    name: str
    ledger_live: int
    """Live (not archived) ledger rows of this collection's kind and namespace."""
    index_items: int
    dimension: int | None
    """Numbers per vector in the index (None: empty)."""
    missing: list[str] = field(default_factory=list)
    """Live in the ledger, absent from the index (search finds them by keyword only)."""
    stale: list[str] = field(default_factory=list)
    """In the index but archived in the ledger, or filed under another collection there."""
    unknown: list[str] = field(default_factory=list)
    """In the index, in no ledger row (another machine's memory in server mode)."""


@dataclass
class IntegrityReport:
    """What :meth:`Integrity.check` found; :meth:`problems` says it in one line per kind of damage."""

    path: str
    shared: bool
    """The index is a Chroma server other machines may write to."""
    dimension: int | None
    """Numbers per vector of most ledger vectors: the bank's embedding size."""
    rows: int
    collections: list[CollectionCheck]
    unfit_vectors: dict[str, str]
    """Ledger rows whose vector the index cannot take (none, wrong size, not finite) -> why."""
    unreadable_rows: dict[str, str]
    """Ledger rows that do not read as memories -> the error."""
    unsynced: int
    queued_deletes: int
    quarantined: int

    def problems(self) -> list[str]:
        """One line per kind of damage found; empty when the index matches the ledger."""
        lines: list[str] = []
        for c in self.collections:
            if c.dimension and self.dimension and c.dimension != self.dimension:
                lines.append(f"{c.name}: its vectors have {c.dimension} numbers, the bank's have {self.dimension}")
            if c.missing:
                lines.append(f"{c.name}: {len(c.missing)} live memories are missing from the index "
                             f"(e.g. {c.missing[0]}; search finds them by keyword only)")  # fmt: skip
            if c.stale:
                lines.append(f"{c.name}: {len(c.stale)} index items are archived or filed elsewhere in the ledger "
                             f"(e.g. {c.stale[0]})")  # fmt: skip
            if c.unknown and not self.shared:
                lines.append(f"{c.name}: {len(c.unknown)} index items are in no ledger row (e.g. {c.unknown[0]})")
        if self.unfit_vectors:
            mid, why = next(iter(self.unfit_vectors.items()))
            lines.append(f"{len(self.unfit_vectors)} memories have a vector the index cannot take (e.g. {mid}: {why})")
        if self.unreadable_rows:
            mid, why = next(iter(self.unreadable_rows.items()))
            lines.append(f"{len(self.unreadable_rows)} ledger rows do not read as memories (e.g. {mid}: {why})")
        return lines

    @property
    def ok(self) -> bool:
        """Whether the index matches the ledger."""
        return not self.problems()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: counts per collection with up to 20 example ids of each list."""
        data = asdict(self)
        for c in data["collections"]:
            for key in ("missing", "stale", "unknown"):
                c[f"{key}_count"], c[key] = len(c[key]), c[key][:20]
        data["problems"] = self.problems()
        return data


@dataclass
class RepairReport:
    """What :meth:`Integrity.repair` did, between the check before and the check after."""

    before: IntegrityReport
    after: IntegrityReport
    reembedded: int
    """Vectors embedded again from the memory's text (they did not fit the index)."""
    adopted: int
    """Index items no ledger row explained, now ledger rows (their metadata rebuilt the record)."""
    quarantined: int
    """Rows and index items moved whole into the quarantine table."""
    removed_from_index: int
    pushed: int
    """Changes pushed to the index by the closing sync."""
    dropped_collections: list[str]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        data = asdict(self)
        data["before"], data["after"] = self.before.to_dict(), self.after.to_dict()
        return data


class Integrity:
    """Check and repair of one bank's index; reconcile on open."""

    def __init__(self, config: MemoryConfig, ledger: Ledger, store: VectorStore, names: CollectionNames,
                 syncer: Syncer, embed: Embed, clock: Callable[[], float]) -> None:  # fmt: skip
        self.config = config
        self.ledger = ledger
        self.store = store
        self.names = names
        self.syncer = syncer
        self.embed = embed
        self.clock = clock

    def reconcile(self) -> None:
        """Push what an earlier run left unsynced and what the index lacks (cheap when counts match); an index that
        refuses the ledger's memories is :class:`BankDamaged`, naming check and repair."""
        try:
            if self.syncer.backlog():
                self.syncer.sync()
            self.syncer.mirror()
        except (StoreUnavailable, BankDamaged):
            raise
        except Exception as exc:
            path = self.config.path
            raise BankDamaged(f"the bank in {path} does not match its vector index ({type(exc).__name__}: {exc}); "
                              f"`evolve memory check --memory-dir {path}` shows what, `evolve memory repair` fixes it "
                              "— nothing was changed") from exc  # fmt: skip

    # -- check --------------------------------------------------------------------------------------------
    def check(self) -> IntegrityReport:
        """Every ledger row read and every index id listed; nothing written."""
        store = self._listing()
        dimension = self.ledger.measure_vector_size()
        placed: dict[str, tuple[str, bool]] = {}  # id -> (collection, live)
        unfit: dict[str, str] = {}
        unreadable: dict[str, str] = {}
        last, rows = "", 0
        while page := self.ledger.query(
            f"SELECT {RECORD_SELECT}, (SELECT embedding FROM vectors v WHERE v.id = memories.id) FROM memories "
            "WHERE id > ? ORDER BY id LIMIT ?", (last, PAGE)
        ):  # fmt: skip
            rows, last = rows + len(page), page[-1][0]
            for row in page:
                try:
                    record = record_from_row(row[:-1])
                except (ValueError, TypeError, KeyError) as exc:
                    unreadable[row[0]] = f"{type(exc).__name__}: {exc}"[:200]
                    continue
                placed[record.id] = (self.names.of(record.kind, record.namespace),
                                     record.status is not MemoryStatus.ARCHIVED)  # fmt: skip
                why = vector_problem(row[-1], dimension)
                if why:
                    unfit[record.id] = why
        live: dict[str, list[str]] = {}
        for mid, (name, alive) in placed.items():
            if alive:
                live.setdefault(name, []).append(mid)
        ours = {n for n in store.collections() if self.names.parse(n) is not None}
        collections = []
        for name in sorted(ours | set(live)):
            present = store.ids(name) if name in ours else []
            here, seen = live.get(name, []), set(present)
            extra = seen.difference(here)
            sample = store.get(name, present[:1], include_embeddings=True)
            dim = None if not sample or sample[0].embedding is None else int(sample[0].embedding.shape[0])
            collections.append(CollectionCheck(
                name, len(here), len(present), dim, missing=[m for m in here if m not in seen],
                stale=sorted(m for m in extra if m in placed or m in unreadable),
                unknown=sorted(m for m in extra if m not in placed and m not in unreadable)))  # fmt: skip
        return IntegrityReport(
            path=str(self.config.path), shared=bool(self.config.server_url), dimension=dimension, rows=rows,
            collections=collections, unfit_vectors=unfit, unreadable_rows=unreadable,
            unsynced=self.ledger.count("synced = 0"),
            queued_deletes=int(self.ledger.query("SELECT COUNT(*) FROM tombstones")[0][0]),
            quarantined=int(self.ledger.query("SELECT COUNT(*) FROM quarantine")[0][0]),
        )  # fmt: skip

    # -- repair -------------------------------------------------------------------------------------------
    def repair(self) -> RepairReport:
        """Make the index match the ledger, losing nothing: see the module docstring."""
        started = time.perf_counter()
        before = self.check()
        store = self._listing()
        vectors = self._new_vectors(sorted(before.unfit_vectors), before.dimension)
        dimension = before.dimension or (vectors.shape[1] if len(vectors) else None)
        quarantined = self._quarantine_rows(before.unreadable_rows)
        if len(vectors):
            ids = sorted(before.unfit_vectors)
            self.ledger.set_vectors(ids, vectors)
            self.ledger.mark_unsynced(ids)
        adopted = removed = 0
        dropped: list[str] = []
        for c in before.collections:
            wrong_size = bool(c.dimension and dimension and c.dimension != dimension)
            if c.unknown and (wrong_size or not before.shared):
                took, moved = self._settle_unknown(c.name, c.unknown, dimension)
                adopted, quarantined = adopted + took, quarantined + moved
            elif c.unknown:
                adopted += self._adopt_fitting(c.name, self.store.get(c.name, c.unknown, include_embeddings=True),
                                               dimension)  # fmt: skip
            if wrong_size:
                store.drop(c.name)
                dropped.append(c.name)
                self.ledger.mark_unsynced(self._live_ids(c.name))
                continue
            misfiled = [] if before.shared else self._misfiled(c.unknown, c.name)
            self.store.delete(c.name, c.stale + misfiled)
            removed += len(c.stale) + len(misfiled)
            self.ledger.mark_unsynced(c.missing + misfiled)  # adopted items filed elsewhere go there
        pushed = self.syncer.sync()
        return RepairReport(before, self.check(), len(vectors), adopted, quarantined, removed, pushed, dropped,
                            round(time.perf_counter() - started, 3))  # fmt: skip

    def _new_vectors(self, ids: Sequence[str], dimension: int | None) -> np.ndarray:
        """Vectors embedded again from the texts of ``ids``; refused when the model's size is not the bank's."""
        if not ids:
            return np.zeros((0, dimension or 0), dtype=np.float32)
        records = self.ledger.get(ids)
        vectors = np.asarray(self.embed([records[m][0].text for m in ids]), dtype=np.float32)
        if dimension and vectors.shape[1] != dimension:
            raise MemoryUsageError(f"the embedding model gives {vectors.shape[1]} numbers per text but this bank's "
                                   f"vectors have {dimension}; repair with the model the bank was built with — "
                                   "nothing was changed")  # fmt: skip
        return vectors

    def _quarantine_rows(self, unreadable: dict[str, str]) -> int:
        """Move ledger rows that do not read as memories, with their vectors, into the quarantine table."""
        if not unreadable:
            return 0
        now, ids = self.clock(), sorted(unreadable)
        with self.ledger.tx() as conn:
            for mid in ids:
                row = conn.execute(f"SELECT {RECORD_SELECT} FROM memories WHERE id = ?", (mid,)).fetchone()
                blob = conn.execute("SELECT embedding FROM vectors WHERE id = ?", (mid,)).fetchone()
                vector = from_blob(blob[0]) if blob else None
                data = {"row": dict(zip((*COLUMNS, "tokens"), row, strict=True)),
                        "embedding": None if vector is None else vector.tolist()}  # fmt: skip
                self._to_quarantine(now, [(mid, "ledger", unreadable[mid], data)])
                conn.execute("DELETE FROM memories WHERE id = ?", (mid,))
                conn.execute("DELETE FROM vectors WHERE id = ?", (mid,))
        return len(ids)

    def _to_quarantine(self, now: float, entries: Sequence[tuple[str, str, str, dict[str, Any]]]) -> None:
        """Keep (memory id, where it was, why, its whole content) in the quarantine table, logged in the history."""
        with self.ledger.tx() as conn:
            conn.executemany("INSERT INTO quarantine (ts, memory_id, origin, reason, data) VALUES (?, ?, ?, ?, ?)",
                             [(now, mid, origin, why, json.dumps(data, default=str))
                              for mid, origin, why, data in entries])  # fmt: skip
            self.ledger.log(("quarantine", mid, None, None, "repair", why, None, None) for mid, _, why, _ in entries)

    def _adopt_fitting(self, name: str, items: Sequence[StoredItem], dimension: int | None) -> int:
        """Adopt the index items that read as records with fitting vectors; returns how many."""
        before = self.ledger.count()
        self.syncer.adopt_items(name, [item for item in items if _unfit_item(item, dimension) is None])
        return self.ledger.count() - before

    def _settle_unknown(self, name: str, ids: Sequence[str], dimension: int | None) -> tuple[int, int]:
        """Index items in no ledger row: adopted when they can be, else quarantined; (adopted, quarantined)."""
        items = self.store.get(name, ids, include_embeddings=True)
        adopted = self._adopt_fitting(name, items, dimension)
        known = set(self.ledger.get([i.id for i in items]))
        left = [(i, _unfit_item(i, dimension) or "same text as a memory the ledger has") for i in items
                if i.id not in known]  # fmt: skip
        if left:
            self._to_quarantine(self.clock(), [
                (i.id, f"index:{name}", why, {"document": i.document, "metadata": i.metadata,
                                              "embedding": None if i.embedding is None else i.embedding.tolist()})
                for i, why in left])  # fmt: skip
        return adopted, len(left)

    def _misfiled(self, ids: Sequence[str], name: str) -> list[str]:
        """The ids among ``ids`` the ledger (now) does not file as live memories of collection ``name``."""
        found = self.ledger.get(ids)
        return [m for m in ids if m not in found or found[m][0].status is MemoryStatus.ARCHIVED
                or self.names.of(found[m][0].kind, found[m][0].namespace) != name]  # fmt: skip

    def _live_ids(self, name: str) -> list[str]:
        """Ids of the live ledger rows filed under collection ``name``."""
        return [m for m, k, ns, s in self.ledger.scope_rows() if s != MemoryStatus.ARCHIVED.value
                and self.names.parse(name) == (k, ns)]  # fmt: skip

    def _listing(self) -> ListingStore:
        if not isinstance(self.store, ListingStore):
            raise MemoryUsageError(f"{type(self.store).__name__} cannot list its items; check and repair need a "
                                   "store with ids() and drop(), such as ChromaStore")  # fmt: skip
        return self.store


def _unfit_item(item: StoredItem, dimension: int | None) -> str | None:
    """Why an index item cannot become a ledger row (None when it can)."""
    if item.embedding is None:
        return "no vector"
    if dimension and item.embedding.shape[0] != dimension:
        return f"{item.embedding.shape[0]} numbers, the bank's vectors have {dimension}"
    try:
        record_from_store(item.id, item.document, item.metadata)
    except (KeyError, ValueError, TypeError) as exc:
        return f"its metadata rebuilds no memory ({type(exc).__name__}: {exc})"[:200]
    return None
