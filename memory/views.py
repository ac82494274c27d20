"""Read-only queries on a bank's ledger: records by id or filter, and the lookups its clients need.

Nothing here writes or counts a recall, so a dashboard or a chat command can browse freely. The
queries that callers outside :mod:`memory` need (id prefixes, text search, evidence links, archive
details, retention inputs) live here, so that no caller writes SQL against the ledger's tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from memory.base import (
    MemoryKind,
    MemoryRecord,
    MemoryStatus,
    kind_list,
    namespace_list,
    parse_status,
    validate_namespace,
)
from memory.config import MemoryConfig
from memory.errors import MemoryUsageError
from memory.ledger import Ledger
from memory.schema import NOT_FLAGGED, RECORD_SELECT, WAITING_FOR_REFLECTION, record_from_row

ORDERS = {
    "newest": "created_at DESC",
    "utility": "(utility_sum + 1.0) / (utility_count + 2.0) DESC, utility_count DESC, created_at DESC",
    "votes": "votes DESC, created_at DESC",
    "recalls": "recall_count DESC, created_at DESC",
}
"""How :meth:`BankView.memories` may sort: newest first, or highest smoothed utility, votes or recall count first."""


class BankView:
    """Read-only access to a bank's records and counts."""

    def __init__(self, config: MemoryConfig, ledger: Ledger) -> None:
        self.config = config
        self.ledger = ledger

    # -- records ------------------------------------------------------------------------------------------
    def get(self, memory_id: str) -> MemoryRecord:
        """One memory by id, whatever its status.

        Raises:
            MemoryUsageError: no memory has this id.
        """
        found = self.ledger.get([memory_id])
        if memory_id not in found:
            raise MemoryUsageError(f"no memory with id {memory_id!r:.60} in {self.config.path}")
        return found[memory_id][0]

    def get_many(self, ids: Sequence[str]) -> list[MemoryRecord]:
        """The memories that exist among ``ids``, in the given order."""
        found = self.ledger.get(ids)
        return [found[i][0] for i in ids if i in found]

    def memories(
        self,
        kinds: Iterable[MemoryKind | str] | None = None,
        namespace: str | Sequence[str] | None = None,
        status: MemoryStatus | str | None = MemoryStatus.ACTIVE,
        limit: int | None = None,
        *,
        flagged: bool = False,
        order: str = "newest",
    ) -> list[MemoryRecord]:
        """Memories by kind, namespace and status in one of :data:`ORDERS` (no scoring, no recall update);
        ``flagged``: only those whose text reads as an instruction to the model (:mod:`memory.guard`)."""
        where, params = _filters(kinds, namespace, status)
        if flagged:
            where.append(f"NOT ({NOT_FLAGGED})")
        if order not in ORDERS:
            raise MemoryUsageError(f"unknown order {order!r:.40}; choose one of {', '.join(ORDERS)}")
        sql = f"SELECT {RECORD_SELECT} FROM memories WHERE {' AND '.join(where)} ORDER BY {ORDERS[order]}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [record_from_row(r) for r in self.ledger.query(sql, params)]

    def count(
        self,
        kinds: Iterable[MemoryKind | str] | None = None,
        namespace: str | Sequence[str] | None = None,
        status: MemoryStatus | str | None = None,
        *,
        unreflected: bool = False,
    ) -> int:
        """How many memories pass the filters; ``unreflected`` keeps those reflection will read (not yet read, not
        flagged)."""
        where, params = _filters(kinds, namespace, status)
        if unreflected:
            where.append(f"reflected_at IS NULL AND {NOT_FLAGGED}")
        return self.ledger.count(" AND ".join(where), params)

    def unreflected_tokens(self, namespace: str) -> list[int]:
        """Token counts of the namespace's active experiences reflection will take next (unreflected, not flagged),
        oldest first: what a caller sizes its reflect batches by."""
        return [int(n) for (n,) in self.ledger.query(
            f"SELECT tokens FROM memories WHERE {WAITING_FOR_REFLECTION} AND namespace = ? ORDER BY created_at, rowid",
            [validate_namespace(namespace)])]  # fmt: skip

    # -- lookups ------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts per kind, namespace and status, rows not yet in the vector index or its metadata, unreflected
        experiences, reflection failures, quarantined rows and the length of the history log."""
        rows = self.ledger.query("SELECT kind, namespace, status, COUNT(*) FROM memories GROUP BY 1, 2, 3")
        by_kind: dict[str, dict[str, int]] = {}
        by_ns: dict[str, int] = {}
        for kind, ns, status, n in rows:
            by_kind.setdefault(kind, {}).setdefault(status, 0)
            by_kind[kind][status] += n
            if status == MemoryStatus.ACTIVE.value:
                by_ns[ns] = by_ns.get(ns, 0) + n
        return {
            "total": sum(n for *_, n in rows),
            "active": sum(n for _, _, s, n in rows if s == MemoryStatus.ACTIVE.value),
            "by_kind": by_kind,
            "active_by_namespace": by_ns,
            "unsynced": self.ledger.count("synced = 0"),
            "unflushed": self.ledger.count("meta_dirty = 1"),
            "unreflected_experiences": self.ledger.count(WAITING_FOR_REFLECTION),
            "reflect_failures": int(self.ledger.query("SELECT COUNT(*) FROM reflect_failures")[0][0]),
            "quarantined": int(self.ledger.query("SELECT COUNT(*) FROM quarantine")[0][0]),
            "history_entries": self.ledger.last_history_seq(),
        }

    def latest_activity(self) -> float | None:
        """The last time anything in the bank changed or was recalled (Unix seconds); None for an empty bank.

        A clock frozen there makes retrieval from an unchanged bank give the same ranking at any later time.
        """
        row = self.ledger.query("SELECT MAX(MAX(created_at, updated_at, COALESCE(last_recalled_at, 0), "
                                "COALESCE(archived_at, 0))) FROM memories")[0]  # fmt: skip
        return None if row[0] is None else float(row[0])

    def namespaces(self) -> list[str]:
        """Every namespace holding a memory (any status), sorted."""
        return [str(r[0]) for r in self.ledger.query("SELECT DISTINCT namespace FROM memories ORDER BY 1")]

    def ids_with_prefix(self, namespace: str, prefix: str, limit: int) -> list[str]:
        """Ids in ``namespace`` starting with ``prefix`` (at most ``limit``)."""
        rows = self.ledger.query(f"SELECT id FROM memories WHERE namespace = ? AND id LIKE ? || '%' LIMIT {int(limit)}",
                                 [namespace, prefix])  # fmt: skip
        return [str(r[0]) for r in rows]

    def ids_containing(self, text: str, *, kind: str = "", namespace: str = "", status: str = "",
                       limit: int) -> list[str]:  # fmt: skip
        """Ids of memories whose text contains ``text`` (SQL ``LIKE``), newest first; empty filters match all."""
        where, params = ["text LIKE ?"], [f"%{text}%"]
        for column, value in (("kind", kind), ("namespace", namespace), ("status", status)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT id FROM memories WHERE {' AND '.join(where)} ORDER BY created_at DESC LIMIT {int(limit)}"
        return [str(r[0]) for r in self.ledger.query(sql, params)]

    def ids_citing(self, memory_id: str) -> list[str]:
        """Ids of memories whose ``derived_from`` text mentions ``memory_id``, oldest first (check the record)."""
        rows = self.ledger.query("SELECT id FROM memories WHERE derived_from LIKE ? ORDER BY created_at",
                                 [f'%"{memory_id}"%'])  # fmt: skip
        return [str(r[0]) for r in rows]

    def archive_info(self, memory_id: str) -> tuple[float | None, str | None] | None:
        """(archived_at, archive_reason) of a memory, both None unless archived; None for an unknown id."""
        rows = self.ledger.query("SELECT archived_at, archive_reason FROM memories WHERE id = ?", [memory_id])
        return (rows[0][0], rows[0][1]) if rows else None

    def retention_inputs(self) -> list[tuple[str, float, float, float, int]]:
        """(kind, created_at, last recall or creation, strength, pinned) of every active memory."""
        rows = self.ledger.query(
            "SELECT kind, created_at, COALESCE(last_recalled_at, created_at), strength, pinned FROM memories "
            "WHERE status = 'active'")  # fmt: skip
        return [(str(k), c, last, s, p) for k, c, last, s, p in rows]


def _filters(kinds: Iterable[MemoryKind | str] | None, namespace: str | Sequence[str] | None,
             status: MemoryStatus | str | None) -> tuple[list[str], list[Any]]:  # fmt: skip
    """SQL conditions and parameters for a kind, namespace and status filter (validated)."""
    where: list[str] = ["1"]
    params: list[Any] = []
    if kinds is not None:
        ks = [k.value for k in kind_list(kinds)]
        where.append(f"kind IN ({', '.join('?' * len(ks))})")
        params.extend(ks)
    if namespace is not None:
        nss = namespace_list(namespace)
        where.append(f"namespace IN ({', '.join('?' * len(nss))})")
        params.extend(nss)
    if status is not None:
        where.append("status = ?")
        params.append(parse_status(status).value)
    return where, params
