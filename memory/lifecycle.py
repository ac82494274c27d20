"""Life cycle of memories: forgetting (decay, capacity, low utility), archive and restore.

Forgetting never destroys: a forgotten memory is *archived*, i.e. removed from the vector index (so it
no longer costs retrieval time) while the ledger keeps the full record with its embedding; ``restore``
puts it back. The sweep runs on the ledger alone (one SQLite read, numpy, one transaction, one batched
Chroma delete per collection), so 100k memories take seconds and no model is called.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from memory.base import MemoryKind, MemoryStatus
from memory.config import MemoryConfig
from memory.ledger import Ledger
from memory.scopes import CollectionNames
from memory.scoring import retention, utility
from memory.sync import Syncer
from memory.validate import finite, note


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


class Lifecycle:
    """Archives what is forgotten and restores what comes back; vector-index work goes through the syncer."""

    def __init__(self, config: MemoryConfig, ledger: Ledger, names: CollectionNames, syncer: Syncer,
                 clock: Callable[[], float]) -> None:  # fmt: skip
        self.config = config
        self.ledger = ledger
        self.names = names
        self.syncer = syncer
        self.clock = clock

    def forget(self, now: float | None = None, *, dry_run: bool = False,
               sync_index: bool | None = None) -> ForgetReport:  # fmt: skip
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
        many deletions wait for :meth:`MemoryBank.sync`. ``now`` (default: the clock) is when retention is judged.
        """
        now = self.clock() if now is None else finite(now, "now")
        start = time.perf_counter()
        cfg = self.config
        rows = self.ledger.query(
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
            report.index_seconds = self._archive_rows(rows_out, actor="forget", sync_index=inline, now=now)
            report.index_pending = 0 if inline else len(rows_out)
        report.seconds = time.perf_counter() - start
        return report

    def archive(self, memory_ids: Sequence[str], *, reason: str, actor: str) -> int:
        """Archive memories now (restorable); returns how many were active or superseded before."""
        found = self.ledger.get_all(memory_ids, "cannot archive")
        rows = [(m, r.kind.value, r.namespace, note(reason))
                for m, (r, _) in found.items() if r.status is not MemoryStatus.ARCHIVED]  # fmt: skip
        self._archive_rows(rows, actor=actor)
        return len(rows)

    def _archive_rows(
        self,
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
        now = self.clock() if now is None else now
        with self.ledger.tx() as conn:
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
            by_collection.setdefault(self.names.of(MemoryKind(kind), ns), []).append(mid)
        if not sync_index:
            for name, ids in by_collection.items():
                self.syncer.defer_deletes(name, len(ids))
            return 0.0
        start = time.perf_counter()
        for name, ids in by_collection.items():
            self.syncer.delete_now(name, ids)
        return time.perf_counter() - start

    def restore(self, memory_ids: Sequence[str], *, actor: str, reason: str) -> None:
        """Bring archived memories back: active again, re-indexed, their forgetting clock reset."""
        found = self.ledger.get_all(memory_ids, "cannot restore")
        todo = [r for r, _ in found.values() if r.status is MemoryStatus.ARCHIVED]
        if not todo:
            return
        now = self.clock()
        with self.ledger.tx() as conn:
            conn.executemany(
                "UPDATE memories SET status = 'active', archived_at = NULL, archive_reason = NULL, synced = 0, "
                "last_recalled_at = ?, updated_at = ? WHERE id = ?",
                [(now, now, r.id) for r in todo],
            )
            self.ledger.log(
                ("restore", r.id, r.kind.value, r.namespace, actor, reason, {"status": "archived"},
                 {"status": "active"})
                for r in todo
            )  # fmt: skip
        vectors = self.ledger.embeddings([r.id for r in todo])
        fresh = self.ledger.get([r.id for r in todo])
        self.syncer.push({m: (fresh[m][0], vectors[m]) for m in fresh if m in vectors})
