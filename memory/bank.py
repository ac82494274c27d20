"""The memory bank: insert, retrieve, feedback and the record operations, on a vector store and a ledger.

Write path (crash-safe outbox): a new memory is first committed to the SQLite ledger with its embedding
and ``synced = 0``, then added to Chroma, then marked synced. A crash in between leaves an unsynced row
that :meth:`MemoryBank.sync` (run on open) pushes again; a Chroma that is down makes insert raise
:class:`StoreUnavailable` with the rows kept. Deletes go the same way (archived + unsynced, or a
tombstone), so nothing stored is lost and the index never points at nothing.

Read path: embed the query, one Chroma query per (kind, namespace) collection, BM25 over the same scope,
one ledger read, scoring (relevance fused from dense and keyword, recency, importance, retention,
utility), optional MMR, token packing, and one ledger transaction for the recall counters. Chroma is
never written on the read path.

Several processes on one machine share a bank directory safely (SQLite WAL + the store's file lock).
Several machines share a Chroma *server*; each machine keeps its own ledger, adopts memories it finds in
the server that it has not seen (from their Chroma metadata), and publishes its counters to Chroma
metadata with :meth:`MemoryBank.flush`. Counters are therefore eventually consistent across machines,
and a forget or rollback on one machine does not know about another machine's ledger.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memory import lifecycle, retrieval
from memory import sync as sync_mod
from memory.base import (
    MemoryInput,
    MemoryKind,
    MemoryRecord,
    MemoryStatus,
    RetrievedMemory,
    content_hash,
    parse_kind,
    validate_namespace,
)
from memory.config import MemoryConfig
from memory.errors import MemoryUsageError, StoreUnavailable
from memory.ledger import RECORD_SELECT, HistoryEntry, Ledger, record_from_row, record_summary
from memory.scoring import (
    initial_strength,
)
from memory.store import ChromaStore, VectorStore
from memory.sync import Scope, collection_name, parse_collection_name
from memory.tokens import count_tokens, truncate_to_tokens

log = logging.getLogger(__name__)

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class VoteOutcome:
    """What a vote did."""

    counted: bool
    """False when every piece of evidence had been counted before (nothing changed)."""
    removed: bool
    """True when the memory reached zero votes and was archived."""
    votes: int
    """Votes after the operation."""


class MemoryBank:
    """External memory of an agent: typed records in Chroma plus a SQLite ledger of counters and history."""

    def __init__(
        self,
        config: MemoryConfig,
        *,
        store: VectorStore | None = None,
        embed: Embed | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (or create) a bank.

        Args:
            config: where the bank lives and how it scores and forgets.
            store: a vector store to use instead of the one the config describes (tests, other backends).
            embed: texts -> (n, d) unit vectors; default: the shared all-MiniLM-L6-v2 embedder.
            clock: time source (tests pass a fixed clock).

        Raises:
            StoreUnavailable: the configured Chroma server does not answer.
        """
        self.config = config
        self.clock = clock
        config.path.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger(config.ledger_path, clock=clock)
        try:
            if store is None:
                if config.server_url:
                    store = ChromaStore(url=config.server_url, lock_timeout=config.lock_timeout_s)
                else:
                    store = ChromaStore(path=config.chroma_path, lock_timeout=config.lock_timeout_s)
        except BaseException:
            self.ledger.close()
            raise
        self.store: VectorStore = store
        self._embed = embed
        self._keyword: dict[Scope, retrieval.KeywordState] = {}
        self._scopes: set[Scope] = set()
        self._pending_deletes: dict[str, int] = {}
        """Archived vectors per collection still in the index (retrieval widens its pool by these)."""
        self._closed = False
        self._refresh_scopes()
        pending = self.ledger.count("synced = 0") + int(self.ledger.query("SELECT COUNT(*) FROM tombstones")[0][0])
        if pending:
            log.info("reconciling %d memories left unsynced by an earlier run", pending)
            self.sync()

    @classmethod
    def open(cls, path: str | Path, **config: Any) -> MemoryBank:
        """Open a bank in a directory with default settings (keyword arguments override config fields)."""
        return cls(MemoryConfig(path=Path(path), **config))

    # -- plumbing -----------------------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts with the injected embedder (default: shared MiniLM)."""
        if self._embed is None:
            from memory.embeddings import Embedder

            self._embed = Embedder.shared().embed
        return np.asarray(self._embed(texts), dtype=np.float32)

    def _now(self, now: float | None) -> float:
        return self.clock() if now is None else float(now)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable("this MemoryBank was closed; open a new one with MemoryBank(config)")

    def collection(self, kind: MemoryKind, namespace: str) -> str:
        """The Chroma collection holding one kind in one namespace."""
        return collection_name(self.config.collection_prefix, kind, namespace)

    def _refresh_scopes(self) -> None:
        for kind, ns in self.ledger.query("SELECT DISTINCT kind, namespace FROM memories"):
            self._scopes.add((MemoryKind(kind), ns))
        if self.config.server_url:  # other machines may have made collections this ledger never saw
            for name in self.store.collections():
                scope = parse_collection_name(self.config.collection_prefix, name)
                if scope is not None:
                    self._scopes.add(scope)

    # -- insert -------------------------------------------------------------------------------------------
    def insert(self, text: str, kind: MemoryKind | str = MemoryKind.EXPERIENCE, namespace: str = "agent",
               *, embedding: np.ndarray | None = None, actor: str | None = None, reason: str = "",
               **fields: Any) -> str:  # fmt: skip
        """Insert one memory (idempotent by content) and return its id; ``fields`` are :class:`MemoryInput`'s."""
        item = MemoryInput(text=text, kind=kind, namespace=namespace, **fields)
        embeddings = None if embedding is None else np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        return self.insert_many([item], embeddings=embeddings, actor=actor, reason=reason)[0]

    def insert_many(
        self,
        items: Sequence[MemoryInput],
        *,
        embeddings: np.ndarray | None = None,
        actor: str | None = None,
        reason: str = "",
    ) -> list[str]:
        """Insert memories in one batch; returns one id per item, in order.

        Idempotent: an item whose kind, namespace and normalised text are already stored returns the
        existing id (an archived one is restored). ``embeddings`` (one unit row per item) skips embedding.

        Raises:
            MemoryUsageError: an item has an unknown kind, a bad namespace, empty or over-long text.
            StoreUnavailable: the vector store is down; the new memories are kept in the ledger and
                pushed by :meth:`sync` when it is back.
        """
        self._check_open()
        if embeddings is not None and len(embeddings) != len(items):
            raise MemoryUsageError(f"got {len(embeddings)} embeddings for {len(items)} items; give one per item")
        now = self.clock()
        actor = actor or self.config.actor
        prepared: list[tuple[MemoryRecord, int]] = []
        for i, item in enumerate(items):
            prepared.append(self._prepare(item, now, where=f"item {i}"))
        keys = [(r.kind.value, r.namespace, r.content_hash) for r, _ in prepared]
        existing = self.ledger.ids_by_hash(keys)
        ids: list[str] = []
        new_at: dict[tuple[str, str, str], int] = {}
        to_restore: list[str] = []
        for i, key in enumerate(keys):
            if key in existing:
                mid, status = existing[key]
                if status == MemoryStatus.ARCHIVED.value and mid not in to_restore:
                    to_restore.append(mid)
                ids.append(mid)
            elif key in new_at:
                ids.append(prepared[new_at[key]][0].id)
            else:
                new_at[key] = i
                ids.append(prepared[i][0].id)
        fresh = sorted(new_at.values())
        if fresh:
            records = [prepared[i][0] for i in fresh]
            tokens = [prepared[i][1] for i in fresh]
            if embeddings is not None:
                vectors = np.asarray(embeddings, dtype=np.float32)[fresh]
            else:
                vectors = self.embed([r.text for r in records])
            with self.ledger.tx():
                self.ledger.insert(records, vectors, tokens)
                self.ledger.log(
                    ("insert", r.id, r.kind.value, r.namespace, actor, reason, None, record_summary(r)) for r in records
                )
            self._scopes.update((r.kind, r.namespace) for r in records)
            self._push({r.id: (r, v) for r, v in zip(records, vectors, strict=True)})
        if to_restore:
            lifecycle.restore(self, to_restore, actor=actor, reason="inserted again")
        return ids

    def _prepare(self, item: MemoryInput, now: float, where: str) -> tuple[MemoryRecord, int]:
        kind = parse_kind(item.kind)
        namespace = validate_namespace(item.namespace)
        if not isinstance(item.text, str) or not item.text.strip():
            raise MemoryUsageError(f"{where}: memory text is empty; give the text to remember")
        text = item.text.strip()
        tokens = count_tokens(text, self.config.token_encoding)
        if tokens > self.config.max_text_tokens:
            raise MemoryUsageError(
                f"{where}: memory text has {tokens} tokens, over max_text_tokens={self.config.max_text_tokens}; "
                "split it, summarise it, or raise MemoryConfig.max_text_tokens"
            )
        if not 0.0 <= float(item.importance) <= 1.0:
            raise MemoryUsageError(f"{where}: importance {item.importance!r} is outside 0..1")
        for key, value in item.meta.items():
            if not isinstance(value, str | int | float | bool):
                raise MemoryUsageError(f"{where}: meta[{key!r}] = {value!r} is not a str, int, float or bool")
        context = item.context or ""
        if context and self.config.max_context_tokens >= 0:
            context = truncate_to_tokens(context, self.config.max_context_tokens, self.config.token_encoding)
        votes = item.votes or (self.config.insight_initial_votes if kind is MemoryKind.INSIGHT else 0)
        created = float(item.created_at) if item.created_at is not None else now
        record = MemoryRecord(
            id="mem-" + uuid.uuid4().hex[:20],
            kind=kind,
            namespace=namespace,
            text=text,
            created_at=created,
            updated_at=now,
            context=context,
            importance=float(item.importance),
            strength=initial_strength(float(item.importance), self.config.base_strength_days),
            votes=votes,
            pinned=item.pinned,
            source_ids=tuple(str(s) for s in item.source_ids),
            derived_from=tuple(str(s) for s in item.derived_from),
            episode_id=item.episode_id,
            thread=item.thread,
            seq=item.seq,
            meta=dict(item.meta),
            content_hash=content_hash(kind, namespace, text),
        )
        return record, tokens

    # -- syncing with the vector store ---------------------------------------------------------------------
    def _push(self, rows: dict[str, tuple[MemoryRecord, np.ndarray]]) -> None:
        sync_mod.push(self, rows)

    def _mark_synced(self, ids: Sequence[str]) -> None:
        sync_mod.mark_synced(self, ids)

    def sync(self) -> int:
        """Push every unsynced change to the vector store (after a crash or an outage); returns how many."""
        self._check_open()
        return sync_mod.sync(self)

    def flush(self) -> int:
        """Publish changed counters (recalls, strength, utility, votes, status) to Chroma metadata.

        Needed only when other machines read the same Chroma server; returns how many were published.
        """
        self._check_open()
        return sync_mod.flush(self)

    # -- read ---------------------------------------------------------------------------------------------
    def get(self, memory_id: str) -> MemoryRecord:
        """One memory by id, whatever its status.

        Raises:
            MemoryUsageError: no memory has this id.
        """
        found = self.ledger.get([memory_id])
        if memory_id not in found:
            raise MemoryUsageError(f"no memory with id {memory_id!r} in {self.config.path}")
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
    ) -> list[MemoryRecord]:
        """Memories by kind, namespace and status, newest first (no scoring, no recall update)."""
        where, params = ["1"], []
        if kinds is not None:
            ks = [parse_kind(k).value for k in kinds]
            where.append(f"kind IN ({', '.join('?' * len(ks))})")
            params.extend(ks)
        if namespace is not None:
            nss = [validate_namespace(n) for n in ([namespace] if isinstance(namespace, str) else namespace)]
            where.append(f"namespace IN ({', '.join('?' * len(nss))})")
            params.extend(nss)
        if status is not None:
            where.append("status = ?")
            params.append(MemoryStatus(status).value)
        sql = f"SELECT {RECORD_SELECT} FROM memories WHERE {' AND '.join(where)} ORDER BY created_at DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [record_from_row(r) for r in self.ledger.query(sql, params)]

    def retrieve(
        self,
        query: str,
        k: int = 5,
        kinds: Iterable[MemoryKind | str] | None = None,
        namespace: str | Sequence[str] | None = None,
        token_budget: int | None = None,
        *,
        now: float | None = None,
        record: bool = True,
        include_superseded: bool = False,
        min_similarity: float | None = None,
        mmr_lambda: float | None = None,
        query_embedding: np.ndarray | None = None,
    ) -> list[RetrievedMemory]:
        """The ``k`` best memories for ``query``, best first, packed into ``token_budget`` tokens.

        Args:
            query: what to look for (free text).
            k: most memories to return.
            kinds: kinds to search (default all).
            namespace: one namespace, several, or None for every namespace.
            token_budget: most tokens of memory text in total (tiktoken); None: no limit.
            now: the current time (Unix seconds) for recency and retention; default the bank's clock.
            record: update recall statistics of the returned memories (one ledger transaction).
            include_superseded: also return superseded memories.
            min_similarity: drop candidates whose cosine similarity is below this.
            mmr_lambda: diversify with MMR (overrides the config); None: the config's setting.
            query_embedding: a precomputed unit vector for ``query`` (skips embedding).
        """
        self._check_open()
        return retrieval.retrieve(
            self, query, k, kinds, namespace, token_budget, now=now, record=record,
            include_superseded=include_superseded, min_similarity=min_similarity, mmr_lambda=mmr_lambda,
            query_embedding=query_embedding,
        )  # fmt: skip

    def mark_recalled(self, memory_ids: Sequence[str], *, now: float | None = None) -> None:
        """Count a recall of these memories (strength grows as on ``retrieve(record=True)``), for callers that
        pick from candidates retrieved with ``record=False`` and should strengthen only what they used."""
        self._check_open()
        found = self.ledger.get_all(memory_ids, "mark_recalled for")
        self.ledger.record_recalls(list(found), self.clock() if now is None else now, self.config.recall_growth,
                                   self.config.max_strength_days)  # fmt: skip

    # -- record operations -------------------------------------------------------------------------------
    def feedback(
        self,
        memory_ids: Sequence[str],
        outcome: float | bool,
        episode_id: str | None = None,
        *,
        actor: str | None = None,
        reason: str = "",
    ) -> None:
        """Report how an episode that used these memories went (True/1.0 helped, False/0.0 did not).

        Each memory's utility (smoothed success rate) moves toward the outcome; logged per memory.
        """
        self._check_open()
        value = float(outcome)
        if not 0.0 <= value <= 1.0:
            raise MemoryUsageError(f"outcome must be a bool or a float in 0..1, got {outcome!r}")
        found = self.ledger.get_all(memory_ids, "feedback for")
        with self.ledger.tx() as conn:
            conn.executemany(
                "UPDATE memories SET utility_sum = utility_sum + ?, utility_count = utility_count + 1, "
                "meta_dirty = 1 WHERE id = ?",
                [(value, m) for m in found],
            )
            self.ledger.log(
                ("feedback", m, r.kind.value, r.namespace, actor or self.config.actor,
                 reason or (f"episode {episode_id}" if episode_id else "outcome reported"),
                 {"utility_sum": r.utility_sum, "utility_count": r.utility_count},
                 {"utility_sum": r.utility_sum + value, "utility_count": r.utility_count + 1, "outcome": value,
                  "episode_id": episode_id})
                for m, (r, _) in found.items()
            )  # fmt: skip

    def _set(self, memory_id: str, op: str, fields: dict[str, Any], actor: str | None, reason: str,
             store_dirty: bool = False) -> MemoryRecord:  # fmt: skip
        record = self.get(memory_id)
        before = {k: getattr(record, k) for k in fields if hasattr(record, k)}
        with self.ledger.tx():
            self.ledger.update_fields(memory_id, {**fields, "updated_at": self.clock()}, store_dirty=store_dirty)
            self.ledger.log([(op, memory_id, record.kind.value, record.namespace, actor or self.config.actor,
                              reason, _jsonable(before), _jsonable(fields))])  # fmt: skip
        return self.get(memory_id)

    def pin(self, memory_id: str, *, actor: str | None = None, reason: str = "") -> MemoryRecord:
        """Protect a memory from every kind of forgetting."""
        return self._set(memory_id, "pin", {"pinned": 1}, actor, reason)

    def unpin(self, memory_id: str, *, actor: str | None = None, reason: str = "") -> MemoryRecord:
        """Make a pinned memory forgettable again."""
        return self._set(memory_id, "unpin", {"pinned": 0}, actor, reason)

    def set_importance(self, memory_id: str, importance: float, *, actor: str | None = None,
                       reason: str = "") -> MemoryRecord:  # fmt: skip
        """Change a memory's importance (0..1)."""
        if not 0.0 <= importance <= 1.0:
            raise MemoryUsageError(f"importance {importance!r} is outside 0..1")
        return self._set(memory_id, "importance", {"importance": float(importance)}, actor, reason)

    def supersede(self, old_id: str, new_id: str, reason: str, *, actor: str | None = None) -> MemoryRecord:
        """Mark ``old_id`` as contradicted by ``new_id``: kept and logged, no longer retrieved by default."""
        if old_id == new_id:
            raise MemoryUsageError("a memory cannot supersede itself")
        new = self.get(new_id)
        old = self._set(old_id, "supersede",
                        {"status": MemoryStatus.SUPERSEDED.value, "superseded_by": new_id}, actor, reason)  # fmt: skip
        self.ledger.log([("supersedes", new_id, new.kind.value, new.namespace, actor or self.config.actor, reason,
                          None, {"superseded": old_id})])  # fmt: skip
        return old

    def edit(self, memory_id: str, text: str, *, derived_from: Sequence[str] = (), actor: str | None = None,
             reason: str = "") -> MemoryRecord:  # fmt: skip
        """Replace a memory's text (same id; new embedding); evidence ids are added to its provenance."""
        record = self.get(memory_id)
        new, tokens = self._prepare(MemoryInput(text=text, kind=record.kind, namespace=record.namespace),
                                    self.clock(), "edit")  # fmt: skip
        if self.ledger.ids_by_hash([(record.kind.value, record.namespace, new.content_hash)]):
            raise MemoryUsageError(f"another {record.kind.value} memory already has the text {text!r}")
        vector = self.embed([new.text])[0]
        sources = tuple(dict.fromkeys([*record.derived_from, *derived_from]))
        with self.ledger.tx() as conn:
            conn.execute(
                "UPDATE memories SET text = ?, content_hash = ?, tokens = ?, derived_from = ?, updated_at = ?, "
                "synced = 0 WHERE id = ?",
                (new.text, new.content_hash, tokens, json.dumps(list(sources)), self.clock(), memory_id),
            )
            self.ledger.set_vectors([memory_id], vector.reshape(1, -1))
            after = {"text": new.text, "derived_from": list(sources)}
            who = actor or self.config.actor
            self.ledger.log([("edit", memory_id, record.kind.value, record.namespace, who, reason,
                              {"text": record.text}, after)])  # fmt: skip
        updated = self.get(memory_id)
        self._push({memory_id: (updated, vector)})
        return updated

    def vote(self, memory_id: str, delta: int, evidence: Sequence[str], *, actor: str | None = None,
             reason: str = "") -> VoteOutcome:  # fmt: skip
        """Change an insight's votes by ``delta`` (+1/-1) for evidence not counted before.

        Upvote evidence joins ``derived_from``; downvote evidence is kept in ``meta["against"]``. A vote
        backed only by evidence already counted changes nothing. At zero votes the memory is archived.
        """
        if delta not in (1, -1):
            raise MemoryUsageError(f"a vote is +1 or -1, got {delta!r}")
        record = self.get(memory_id)
        against = [a for a in str(record.meta.get("against", "")).split(",") if a]
        counted = record.derived_from if delta > 0 else tuple(against)
        fresh = [e for e in dict.fromkeys(evidence) if e not in counted]
        if not fresh or record.status is MemoryStatus.ARCHIVED:
            return VoteOutcome(False, False, record.votes)
        votes = record.votes + delta
        fields: dict[str, Any] = {"votes": votes}
        if delta > 0:
            fields["derived_from"] = json.dumps([*record.derived_from, *fresh])
        else:
            fields["meta"] = json.dumps({**record.meta, "against": ",".join([*against, *fresh])})
        with self.ledger.tx():
            self.ledger.update_fields(memory_id, {**fields, "updated_at": self.clock()}, store_dirty=False)
            self.ledger.log([("vote", memory_id, record.kind.value, record.namespace, actor or self.config.actor,
                              reason, {"votes": record.votes}, {"votes": votes, "evidence": fresh})])  # fmt: skip
        removed = False
        if votes <= 0:
            lifecycle.archive(self, [memory_id], reason="votes reached zero", actor=actor or self.config.actor)
            removed = True
        return VoteOutcome(True, removed, votes)

    def history(self, memory_id: str | None = None, limit: int | None = None) -> list[HistoryEntry]:
        """The append-only log of one memory (or of the whole bank), oldest first."""
        return self.ledger.history(memory_id, limit)

    # -- lifecycle (see memory.lifecycle) ----------------------------------------------------------------
    def forget(
        self, now: float | None = None, *, dry_run: bool = False, sync_index: bool | None = None
    ) -> lifecycle.ForgetReport:
        """Archive decayed, low-utility and over-capacity memories (never pinned ones).

        See :func:`memory.lifecycle.forget`; ``sync_index=False`` leaves the vector-index deletions to
        :meth:`sync`, ``None`` does so only beyond ``config.forget_inline_deletes`` memories.
        """
        self._check_open()
        return lifecycle.forget(self, self._now(now), dry_run=dry_run, sync_index=sync_index)

    def restore(self, memory_id: str, *, actor: str | None = None, reason: str = "") -> MemoryRecord:
        """Bring an archived memory back into retrieval."""
        self._check_open()
        lifecycle.restore(self, [memory_id], actor=actor or self.config.actor, reason=reason or "restored")
        return self.get(memory_id)

    def archive(self, memory_ids: Sequence[str], reason: str, *, actor: str | None = None) -> int:
        """Forget memories now (archived, restorable); returns how many were archived."""
        self._check_open()
        return lifecycle.archive(self, memory_ids, reason=reason, actor=actor or self.config.actor)

    def snapshot(self, name: str) -> lifecycle.SnapshotInfo:
        """Save the whole bank under ``name``."""
        self._check_open()
        return lifecycle.snapshot(self, name)

    def rollback(self, name: str) -> lifecycle.SnapshotInfo:
        """Return the bank to a snapshot (the history log keeps everything, including the rollback)."""
        self._check_open()
        return lifecycle.rollback(self, name)

    def list_snapshots(self) -> list[lifecycle.SnapshotInfo]:
        """Saved snapshots, oldest first."""
        return lifecycle.list_snapshots(self)

    def export_jsonl(self, path: str | Path, *, include_archived: bool = True, include_embeddings: bool = True) -> int:
        """Write every memory as one JSON line; returns how many."""
        return lifecycle.export_jsonl(self, Path(path), include_archived, include_embeddings)

    def import_jsonl(self, path: str | Path, *, actor: str | None = None) -> int:
        """Read memories written by :meth:`export_jsonl` (ids kept, existing ones skipped); returns how many."""
        self._check_open()
        return lifecycle.import_jsonl(self, Path(path), actor or self.config.actor)

    def stats(self) -> dict[str, Any]:
        """Counts per kind, namespace and status, plus sync and failure counters."""
        rows = self.ledger.query("SELECT kind, namespace, status, COUNT(*) FROM memories GROUP BY 1, 2, 3")
        by_kind: dict[str, dict[str, int]] = {}
        by_ns: dict[str, int] = {}
        for kind, ns, status, n in rows:
            by_kind.setdefault(kind, {}).setdefault(status, 0)
            by_kind[kind][status] += n
            if status == MemoryStatus.ACTIVE.value:
                by_ns[ns] = by_ns.get(ns, 0) + n
        return {
            "path": str(self.config.path),
            "store": getattr(self.store, "describe", lambda: type(self.store).__name__)(),
            "total": sum(n for *_, n in rows),
            "active": sum(n for _, _, s, n in rows if s == MemoryStatus.ACTIVE.value),
            "by_kind": by_kind,
            "active_by_namespace": by_ns,
            "unsynced": self.ledger.count("synced = 0"),
            "unflushed": self.ledger.count("meta_dirty = 1"),
            "unreflected_experiences": self.ledger.count(
                "kind = 'experience' AND status = 'active' AND reflected_at IS NULL"
            ),
            "reflect_failures": int(self.ledger.query("SELECT COUNT(*) FROM reflect_failures")[0][0]),
            "snapshots": [s.name for s in self.list_snapshots()],
            "history_entries": self.ledger.last_history_seq(),
        }

    def close(self) -> None:
        """Publish counters (server mode), close the store and the ledger. Idempotent."""
        if self._closed:
            return
        try:
            if self.config.server_url and not getattr(self.store, "closed", False):
                try:
                    self.flush()
                except StoreUnavailable as exc:
                    log.warning("could not publish counters on close: %s", exc)
        finally:
            self._closed = True
            self.store.close()
            self.ledger.close()

    def __enter__(self) -> MemoryBank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in d.items()}
