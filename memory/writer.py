"""Writing to the bank: insert (idempotent by content), feedback, votes and the edits of one record.

Write path (crash-safe outbox): a new memory is first committed to the ledger with its embedding and
``synced = 0``, then pushed to the vector store by the syncer, which marks it synced. Every change is
logged in the ledger's history with who, why, and the fields before and after.

Another process may insert into the same ledger at the same time (``MemoryConfig.shared_writers``, or
two commands a user started at once): when it stored the same content between this one's duplicate check
and its insert (a unique-index conflict), the insert is retried and finds the other's id.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from memory.base import (
    MemoryInput,
    MemoryKind,
    MemoryRecord,
    MemoryStatus,
    content_hash,
    parse_kind,
    validate_namespace,
)
from memory.config import MemoryConfig
from memory.embed import Embed
from memory.errors import MemoryUsageError
from memory.ledger import Ledger
from memory.lifecycle import Lifecycle
from memory.schema import record_summary
from memory.scopes import ScopeRegistry
from memory.scoring import initial_strength
from memory.sync import Syncer
from memory.tokens import truncate_to_tokens
from memory.validate import (
    bank_dimension,
    checked_meta,
    checked_text,
    checked_vectors,
    counter,
    encodable,
    finite,
    flag,
    id_list,
    marked,
    optional_text,
    position,
    unit_number,
)
from memory.views import BankView

log = logging.getLogger(__name__)

INSERT_ATTEMPTS = 3
"""Tries of an insert that meets another writer's identical insert."""


@dataclass(frozen=True)
class VoteOutcome:
    """What a vote did."""

    counted: bool
    """False when every piece of evidence had been counted before (nothing changed)."""
    removed: bool
    """True when the memory reached zero votes and was archived."""
    votes: int
    """Votes after the operation."""


class Writer:
    """Every change to a record's content or counters that is not retrieval, archive or restore."""

    def __init__(self, config: MemoryConfig, ledger: Ledger, view: BankView, scopes: ScopeRegistry, syncer: Syncer,
                 lifecycle: Lifecycle, embed: Embed, clock: Callable[[], float]) -> None:  # fmt: skip
        self.config = config
        self.ledger = ledger
        self.view = view
        self.scopes = scopes
        self.syncer = syncer
        self.lifecycle = lifecycle
        self.embed = embed
        self.clock = clock

    def insert_many(
        self,
        items: Sequence[MemoryInput],
        *,
        embeddings: np.ndarray | Sequence[Any] | None = None,
        actor: str | None = None,
        reason: str = "",
    ) -> list[str]:
        """Insert memories in one batch (see :meth:`MemoryBank.insert_many`); one id per item, in order."""
        attempts = 0
        while True:
            try:
                return self._insert_many(items, embeddings=embeddings, actor=actor, reason=reason)
            except sqlite3.IntegrityError:
                attempts += 1
                if attempts == INSERT_ATTEMPTS:
                    raise
                log.info("another worker inserted the same memory concurrently; retrying the insert")

    def _insert_many(
        self,
        items: Sequence[MemoryInput],
        *,
        embeddings: np.ndarray | Sequence[Any] | None = None,
        actor: str | None = None,
        reason: str = "",
    ) -> list[str]:
        if embeddings is not None:
            size = bank_dimension(self.ledger.vector_size(), self.embed)
            embeddings = checked_vectors(embeddings, len(items), size, "embeddings")
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
                vectors = embeddings[fresh]
            else:
                vectors = self.embed([r.text for r in records])
            with self.ledger.tx():
                self.ledger.insert(records, vectors, tokens)
                self.ledger.log(
                    ("insert", r.id, r.kind.value, r.namespace, actor, reason, None, record_summary(r)) for r in records
                )
            self.scopes.add((r.kind, r.namespace) for r in records)
            self.syncer.push({r.id: (r, v) for r, v in zip(records, vectors, strict=True)})
        if to_restore:
            self.lifecycle.restore(to_restore, actor=actor, reason="inserted again")
        return ids

    def _prepare(self, item: MemoryInput, now: float, where: str) -> tuple[MemoryRecord, int]:
        kind = parse_kind(item.kind)
        namespace = validate_namespace(item.namespace)
        text, tokens = checked_text(item.text, where, self.config)
        importance = unit_number(item.importance, f"{where}: importance")
        meta = marked(checked_meta(item.meta, where), text, item.origin, where)
        context = encodable(optional_text(item.context, f"{where}: context") or "", f"{where}: context")
        if context and self.config.max_context_tokens >= 0:
            context = truncate_to_tokens(context, self.config.max_context_tokens, self.config.token_encoding)
        votes = item.votes or (self.config.insight_initial_votes if kind is MemoryKind.INSIGHT else 0)
        created = finite(item.created_at, f"{where}: created_at") if item.created_at is not None else now
        record = MemoryRecord(
            id="mem-" + uuid.uuid4().hex[:20],
            kind=kind,
            namespace=namespace,
            text=text,
            created_at=created,
            updated_at=now,
            context=context,
            importance=importance,
            strength=initial_strength(importance, self.config.base_strength_days),
            votes=counter(votes, f"{where}: votes", low=0),
            pinned=flag(item.pinned, f"{where}: pinned"),
            status=MemoryStatus.CANDIDATE if flag(item.candidate, f"{where}: candidate") else MemoryStatus.ACTIVE,
            source_ids=id_list(item.source_ids, f"{where}: source_ids"),
            derived_from=id_list(item.derived_from, f"{where}: derived_from"),
            episode_id=optional_text(item.episode_id, f"{where}: episode_id"),
            thread=optional_text(item.thread, f"{where}: thread"),
            seq=position(item.seq, f"{where}: seq"),
            meta=meta,
            content_hash=content_hash(kind, namespace, text),
        )
        return record, tokens


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
        value = float(outcome) if isinstance(outcome, bool) else unit_number(outcome, "outcome")
        episode_id = optional_text(episode_id, "episode_id")
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
        record = self.view.get(memory_id)
        before = {k: getattr(record, k) for k in fields if hasattr(record, k)}
        with self.ledger.tx():
            self.ledger.update_fields(memory_id, {**fields, "updated_at": self.clock()}, store_dirty=store_dirty)
            self.ledger.log([(op, memory_id, record.kind.value, record.namespace, actor or self.config.actor,
                              reason, _jsonable(before), _jsonable(fields))])  # fmt: skip
        return self.view.get(memory_id)

    def pin(self, memory_id: str, *, actor: str | None = None, reason: str = "") -> MemoryRecord:
        """Protect a memory from every kind of forgetting."""
        return self._set(memory_id, "pin", {"pinned": 1}, actor, reason)

    def unpin(self, memory_id: str, *, actor: str | None = None, reason: str = "") -> MemoryRecord:
        """Make a pinned memory forgettable again."""
        return self._set(memory_id, "unpin", {"pinned": 0}, actor, reason)

    def set_importance(self, memory_id: str, importance: float, *, actor: str | None = None,
                       reason: str = "") -> MemoryRecord:  # fmt: skip
        """Change a memory's importance (0..1)."""
        value = unit_number(importance, "importance")
        return self._set(memory_id, "importance", {"importance": value}, actor, reason)

    def supersede(self, old_id: str, new_id: str, reason: str, *, actor: str | None = None) -> MemoryRecord:
        """Mark ``old_id`` as contradicted by ``new_id``: kept and logged, no longer retrieved by default."""
        if old_id == new_id:
            raise MemoryUsageError("a memory cannot supersede itself")
        new = self.view.get(new_id)
        old = self._set(old_id, "supersede",
                        {"status": MemoryStatus.SUPERSEDED.value, "superseded_by": new_id}, actor, reason)  # fmt: skip
        self.ledger.log([("supersedes", new_id, new.kind.value, new.namespace, actor or self.config.actor, reason,
                          None, {"superseded": old_id})])  # fmt: skip
        return old

    def edit(self, memory_id: str, text: str, *, derived_from: Sequence[str] = (), actor: str | None = None,
             reason: str = "") -> MemoryRecord:  # fmt: skip
        """Replace a memory's text (same id; new embedding); evidence ids are added to its provenance."""
        record = self.view.get(memory_id)
        derived_from = id_list(derived_from, "derived_from")
        new, tokens = self._prepare(MemoryInput(text=text, kind=record.kind, namespace=record.namespace),
                                    self.clock(), "edit")  # fmt: skip
        if self.ledger.ids_by_hash([(record.kind.value, record.namespace, new.content_hash)]):
            raise MemoryUsageError(f"another {record.kind.value} memory already has the text {text!r:.60}")
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
        updated = self.view.get(memory_id)
        self.syncer.push({memory_id: (updated, vector)})
        return updated

    def vote(self, memory_id: str, delta: int, evidence: Sequence[str], *, actor: str | None = None,
             reason: str = "") -> VoteOutcome:  # fmt: skip
        """Change an insight's votes by ``delta`` (+1/-1) for evidence not counted before.

        Upvote evidence joins ``derived_from``; downvote evidence is kept in ``meta["against"]``. A vote
        backed only by evidence already counted changes nothing. At zero votes the memory is archived.
        """
        if isinstance(delta, bool) or delta not in (1, -1):
            raise MemoryUsageError(f"a vote is +1 or -1, got {delta!r:.40}")
        evidence = id_list(evidence, "vote evidence")
        record = self.view.get(memory_id)
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
            self.lifecycle.archive([memory_id], reason="votes reached zero", actor=actor or self.config.actor)
            removed = True
        return VoteOutcome(True, removed, votes)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in d.items()}
