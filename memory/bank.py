"""The memory bank: one facade over a ledger, a vector store and the parts that work on them.

Write path (crash-safe outbox): a new memory is first committed to the SQLite ledger with its embedding
and ``synced = 0``, then added to Chroma, then marked synced. A crash in between leaves an unsynced row
that :meth:`MemoryBank.sync` (run on open) pushes again, with whatever the index lacks; a Chroma that is down
makes insert raise :class:`StoreUnavailable` with the rows kept. Deletes go the same way (archived + unsynced).

Read path: embed the query, one Chroma query per (kind, namespace) collection, BM25 over the same scope,
one ledger read, scoring (relevance fused from dense and keyword, recency, importance, retention,
utility), optional MMR, token packing, and one ledger transaction for the recall counters. Chroma is
never written on the read path.

Several processes on one machine share a bank directory safely (SQLite WAL + the store's file lock).
Several machines share a Chroma *server*; each machine keeps its own ledger, adopts memories it finds in
the server that it has not seen (from their Chroma metadata), and publishes its counters to Chroma
metadata with :meth:`MemoryBank.flush`. Counters are therefore eventually consistent across machines,
and a forget or rollback on one machine does not know about another machine's ledger.

The parts get their dependencies in their constructors and never see the bank: ScopeRegistry, Syncer, Retriever,
Lifecycle, Snapshots, Writer, BankView, Integrity, Trials. The bank builds them and runs what spans parts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memory.base import MemoryInput, MemoryKind, MemoryRecord, MemoryStatus, RetrievedMemory
from memory.config import MemoryConfig
from memory.damage import check_bank_dir, open_ledger
from memory.embed import Embed, LazyEmbed
from memory.errors import StoreUnavailable
from memory.integrity import Integrity, IntegrityReport, RepairReport
from memory.lifecycle import ForgetReport, Lifecycle
from memory.retrieval import Retriever
from memory.schema import HistoryEntry
from memory.scopes import CollectionNames, ScopeRegistry, collection_name
from memory.snapshots import SnapshotInfo, Snapshots
from memory.store import ChromaStore, VectorStore
from memory.sync import Syncer
from memory.trials import Trials
from memory.validate import file_path
from memory.views import BankView
from memory.writer import VoteOutcome, Writer

log = logging.getLogger(__name__)


class MemoryBank:
    """External memory of an agent: typed records in Chroma plus a SQLite ledger of counters and history."""

    def __init__(
        self,
        config: MemoryConfig,
        *,
        store: VectorStore | None = None,
        embed: Embed | None = None,
        clock: Callable[[], float] = time.time,
        reconcile: bool = True,
    ) -> None:
        """Open (or create) a bank.

        Args:
            config: where the bank lives and how it scores and forgets.
            store: a vector store to use instead of the one the config describes (tests, other backends).
            embed: texts -> (n, d) unit vectors; default: the shared all-MiniLM-L6-v2 embedder.
            clock: time source (tests pass a fixed clock).
            reconcile: push the ledger's backlog to the vector index on open; False leaves the index as found
                (``evolve memory check`` and ``repair`` look before they touch).

        Raises:
            StoreUnavailable: the configured Chroma server does not answer.
            BankDamaged: a file of the bank cannot be read, or the index refuses the ledger's memories.
        """
        self.config = config
        self.clock = clock
        check_bank_dir(config.path)
        config.path.mkdir(parents=True, exist_ok=True)
        self.ledger = open_ledger(config, clock, rebuild=not reconcile or store is not None)
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
        self._embed = LazyEmbed(embed)
        names = CollectionNames(config.collection_prefix)
        self.scopes = ScopeRegistry(self.ledger, store, names, from_server=bool(config.server_url),
                                    refresh_on_unknown=config.shared_writers)  # fmt: skip
        """The (kind, namespace) scopes the bank holds."""
        self.syncer = Syncer(self.ledger, store, names, config)
        """Keeps the vector store in line with the ledger; ``pending_all()`` lists deletions left to :meth:`sync`."""
        self.retriever = Retriever(config, self.ledger, store, names, self.scopes, self.syncer, self._embed, clock)
        """Ranks memories for a query."""
        self.lifecycle = Lifecycle(config, self.ledger, names, self.syncer, clock)
        """Forgets, archives and restores."""
        self.snapshots = Snapshots(config, self.ledger, names, self._embed, clock)
        """Snapshots, rollback, export and import."""
        self.view = BankView(config, self.ledger)
        """Read-only queries (records, counts, lookups for dashboards and chat commands)."""
        self.writer = Writer(config, self.ledger, self.view, self.scopes, self.syncer, self.lifecycle, self._embed,
                             clock)  # fmt: skip
        """Inserts, feedback, votes and record edits."""
        self.integrity = Integrity(config, self.ledger, self.store, names, self.syncer, self._embed, clock)
        """Check and repair of the vector index against the ledger."""
        self.trials = Trials(self.ledger, self.view, clock, config.actor)
        """Paired trials of rules and what they decide (the stability-plasticity gate)."""
        self._closed = False
        self.scopes.refresh()
        if reconcile:
            try:
                self.integrity.reconcile()
            except BaseException:
                self.close()
                raise

    @classmethod
    def open(cls, path: str | Path, **config: Any) -> MemoryBank:
        """Open a bank in a directory with default settings (keyword arguments override config fields)."""
        return cls(MemoryConfig(path=Path(path), **config))

    # -- plumbing -----------------------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts with the injected embedder (default: shared MiniLM)."""
        return self._embed(texts)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable("this MemoryBank was closed; open a new one with MemoryBank(config)")

    def collection(self, kind: MemoryKind, namespace: str) -> str:
        """The Chroma collection holding one kind in one namespace."""
        return collection_name(self.config.collection_prefix, kind, namespace)

    # -- insert -------------------------------------------------------------------------------------------
    def insert(self, text: str, kind: MemoryKind | str = MemoryKind.EXPERIENCE, namespace: str = "agent",
               *, embedding: np.ndarray | None = None, actor: str | None = None, reason: str = "",
               **fields: Any) -> str:  # fmt: skip
        """Insert one memory (idempotent by content) and return its id; ``fields`` are :class:`MemoryInput`'s."""
        item = MemoryInput(text=text, kind=kind, namespace=namespace, **fields)
        embeddings = None if embedding is None else [embedding]
        return self.insert_many([item], embeddings=embeddings, actor=actor, reason=reason)[0]

    def insert_many(
        self,
        items: Sequence[MemoryInput],
        *,
        embeddings: np.ndarray | Sequence[Any] | None = None,
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
        return self.writer.insert_many(items, embeddings=embeddings, actor=actor, reason=reason)

    # -- syncing with the vector store ---------------------------------------------------------------------
    def sync(self) -> int:
        """Push every unsynced change to the vector store (after a crash or an outage); returns how many."""
        self._check_open()
        return self.syncer.sync()

    def flush(self) -> int:
        """Publish changed counters (recalls, strength, utility, votes, status) to Chroma metadata.

        Needed only when other machines read the same Chroma server; returns how many were published.
        """
        self._check_open()
        return self.syncer.flush()

    def check(self) -> IntegrityReport:
        """Compare the vector index with the ledger: missing, extra, unfit vectors, unreadable rows (reads all ids)."""
        self._check_open()
        return self.integrity.check()

    def repair(self) -> RepairReport:
        """Rebuild the index from the ledger's vectors; what cannot be placed goes to quarantine, nothing is lost."""
        self._check_open()
        report = self.integrity.repair()
        self.retriever.invalidate()
        self.scopes.refresh()
        return report

    # -- read ---------------------------------------------------------------------------------------------
    def get(self, memory_id: str) -> MemoryRecord:
        """One memory by id, whatever its status.

        Raises:
            MemoryUsageError: no memory has this id.
        """
        return self.view.get(memory_id)

    def get_many(self, ids: Sequence[str]) -> list[MemoryRecord]:
        """The memories that exist among ``ids``, in the given order."""
        return self.view.get_many(ids)

    def memories(
        self,
        kinds: Iterable[MemoryKind | str] | None = None,
        namespace: str | Sequence[str] | None = None,
        status: MemoryStatus | str | None = MemoryStatus.ACTIVE,
        limit: int | None = None,
    ) -> list[MemoryRecord]:
        """Memories by kind, namespace and status, newest first (no scoring, no recall update)."""
        return self.view.memories(kinds, namespace, status, limit)

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
        include_candidates: bool = False,
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
            include_candidates: also return candidates (rules not yet admitted by a trial).
            min_similarity: drop candidates whose cosine similarity is below this.
            mmr_lambda: diversify with MMR (overrides the config); None: the config's setting.
            query_embedding: a precomputed unit vector for ``query`` (skips embedding).
        """
        self._check_open()
        return self.retriever.retrieve(
            query, k, kinds, namespace, token_budget, now=now, record=record,
            include_superseded=include_superseded, include_candidates=include_candidates,
            min_similarity=min_similarity, mmr_lambda=mmr_lambda, query_embedding=query_embedding,
        )  # fmt: skip

    def mark_recalled(self, memory_ids: Sequence[str], *, now: float | None = None) -> None:
        """Count a recall of these memories (strength grows as on ``retrieve(record=True)``), for callers that
        pick from candidates retrieved with ``record=False`` and should strengthen only what they used."""
        self._check_open()
        self.retriever.mark_recalled(memory_ids, now)

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
        self.writer.feedback(memory_ids, outcome, episode_id, actor=actor, reason=reason)

    def pin(self, memory_id: str, *, actor: str | None = None, reason: str = "") -> MemoryRecord:
        """Protect a memory from every kind of forgetting."""
        return self.writer.pin(memory_id, actor=actor, reason=reason)

    def unpin(self, memory_id: str, *, actor: str | None = None, reason: str = "") -> MemoryRecord:
        """Make a pinned memory forgettable again."""
        return self.writer.unpin(memory_id, actor=actor, reason=reason)

    def set_importance(self, memory_id: str, importance: float, *, actor: str | None = None,
                       reason: str = "") -> MemoryRecord:  # fmt: skip
        """Change a memory's importance (0..1)."""
        return self.writer.set_importance(memory_id, importance, actor=actor, reason=reason)

    def supersede(self, old_id: str, new_id: str, reason: str, *, actor: str | None = None) -> MemoryRecord:
        """Mark ``old_id`` as contradicted by ``new_id``: kept and logged, no longer retrieved by default."""
        return self.writer.supersede(old_id, new_id, reason, actor=actor)

    def edit(self, memory_id: str, text: str, *, derived_from: Sequence[str] = (), actor: str | None = None,
             reason: str = "") -> MemoryRecord:  # fmt: skip
        """Replace a memory's text (same id; new embedding); evidence ids are added to its provenance."""
        return self.writer.edit(memory_id, text, derived_from=derived_from, actor=actor, reason=reason)

    def vote(self, memory_id: str, delta: int, evidence: Sequence[str], *, actor: str | None = None,
             reason: str = "") -> VoteOutcome:  # fmt: skip
        """Change an insight's votes by ``delta`` (+1/-1) for evidence not counted before.

        Upvote evidence joins ``derived_from``; downvote evidence is kept in ``meta["against"]``. A vote
        backed only by evidence already counted changes nothing. At zero votes the memory is archived.
        """
        return self.writer.vote(memory_id, delta, evidence, actor=actor, reason=reason)

    def history(self, memory_id: str | None = None, limit: int | None = None) -> list[HistoryEntry]:
        """The append-only log of one memory (or of the whole bank), oldest first."""
        return self.ledger.history(memory_id, limit)

    # -- lifecycle (see memory.lifecycle and memory.snapshots) ------------------------------------------
    def forget(self, now: float | None = None, *, dry_run: bool = False,
               sync_index: bool | None = None) -> ForgetReport:  # fmt: skip
        """Archive decayed, low-utility and over-capacity memories (never pinned ones).

        See :meth:`memory.lifecycle.Lifecycle.forget`; ``sync_index=False`` leaves the vector-index deletions
        to :meth:`sync`, ``None`` does so only beyond ``config.forget_inline_deletes`` memories.
        """
        self._check_open()
        return self.lifecycle.forget(now, dry_run=dry_run, sync_index=sync_index)

    def restore(self, memory_id: str, *, actor: str | None = None, reason: str = "") -> MemoryRecord:
        """Bring an archived memory back into retrieval."""
        self._check_open()
        self.lifecycle.restore([memory_id], actor=actor or self.config.actor, reason=reason or "restored")
        return self.get(memory_id)

    def archive(self, memory_ids: Sequence[str], reason: str, *, actor: str | None = None) -> int:
        """Forget memories now (archived, restorable); returns how many were archived."""
        self._check_open()
        return self.lifecycle.archive(memory_ids, reason=reason, actor=actor or self.config.actor)

    def snapshot(self, name: str) -> SnapshotInfo:
        """Save the whole bank under ``name``."""
        self._check_open()
        return self.snapshots.snapshot(name)

    def rollback(self, name: str) -> SnapshotInfo:
        """Return the bank to a snapshot (the history log keeps everything, including the rollback)."""
        self._check_open()
        info = self.snapshots.rollback(name)
        self.retriever.invalidate()
        self.scopes.refresh()
        self.sync()
        return info

    def list_snapshots(self) -> list[SnapshotInfo]:
        """Saved snapshots, oldest first."""
        return self.snapshots.list_snapshots()

    def export_jsonl(self, path: str | Path, *, include_archived: bool = True, include_embeddings: bool = True) -> int:
        """Write every memory as one JSON line; returns how many."""
        return self.snapshots.export_jsonl(file_path(path, "export path"), include_archived, include_embeddings)

    def import_jsonl(self, path: str | Path, *, actor: str | None = None) -> int:
        """Read memories written by :meth:`export_jsonl` (ids kept, existing ones skipped); returns how many."""
        self._check_open()
        imported = self.snapshots.import_jsonl(file_path(path, "import path"), actor or self.config.actor)
        if imported:
            self.scopes.add((r.kind, r.namespace) for r in imported)
            self.sync()
        return len(imported)

    def stats(self) -> dict[str, Any]:
        """Counts per kind, namespace and status, plus sync, failure and quarantine counters."""
        store = getattr(self.store, "describe", lambda: type(self.store).__name__)()
        snapshots = [s.name for s in self.list_snapshots()]
        return {"path": str(self.config.path), "store": store, **self.view.stats(), "snapshots": snapshots}

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
