"""Retrieval: candidates from the vector index and BM25, one ledger read, scoring, MMR, token packing.

Hot path per query: embed the query (~5-15 ms), one Chroma query per (kind, namespace) collection
(``max(candidate_pool, k * oversample)`` neighbours), a BM25 query of the same scope, one batched ledger
read, numpy scoring, then one ledger transaction for the recall counters. Chroma is never written.

Relevance: the dense cosine similarities are standardised over all candidates together, each BM25 score
against its own index's statistics; their weighted sum gets a neighbour boost (same thread, seq±1) and is
min-max scaled to 0..1 over the candidates, then mixed with recency, importance, retention and utility.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from memory.base import MemoryKind, MemoryStatus, RetrievedMemory, ScoreParts, kind_list
from memory.config import MemoryConfig
from memory.embed import Embed
from memory.errors import MemoryUsageError
from memory.keyword import KeywordIndex
from memory.ledger import Ledger
from memory.schema import ScoringRow
from memory.scopes import CollectionNames, Scope, ScopeRegistry
from memory.scoring import fuse, minmax, mix, mmr, neighbour_boost, pack_by_tokens, recency, retention, utility
from memory.store import VectorStore
from memory.sync import Syncer
from memory.validate import counter, encodable, finite, moment, unit_number


@dataclass
class KeywordState:
    """A scope's BM25 index and the history position it reflects."""

    index: KeywordIndex
    seq: int


MAX_K = 10_000
"""The most memories one retrieval returns (a larger k would only ask Chroma for more than it holds)."""


class Retriever:
    """Ranks memories for a query; owns the per-scope BM25 indexes, kept current from the history log."""

    def __init__(self, config: MemoryConfig, ledger: Ledger, store: VectorStore, names: CollectionNames,
                 scopes: ScopeRegistry, syncer: Syncer, embed: Embed, clock: Callable[[], float]) -> None:  # fmt: skip
        self.config = config
        self.ledger = ledger
        self.store = store
        self.names = names
        self.scopes = scopes
        self.syncer = syncer
        self.embed = embed
        self.clock = clock
        self._keyword: dict[Scope, KeywordState] = {}

    def invalidate(self) -> None:
        """Drop every keyword index (after the ledger was replaced wholesale, e.g. by a rollback)."""
        self._keyword.clear()

    def mark_recalled(self, memory_ids: Sequence[str], now: float | None = None) -> None:
        """Count a recall of these memories, as ``retrieve(record=True)`` does for what it returns."""
        found = self.ledger.get_all(memory_ids, "mark_recalled for")
        now = moment(now)
        self.ledger.record_recalls(list(found), self.clock() if now is None else now, self.config.recall_growth,
                                   self.config.max_strength_days)  # fmt: skip

    def keyword_index(self, scope: Scope) -> KeywordIndex:
        """The scope's BM25 index, brought up to date from the history log (incrementally when it can)."""
        kind, ns = scope
        state = self._keyword.get(scope)
        if state is not None:
            changes = self.ledger.content_changes(kind.value, ns, state.seq)
            if not changes:
                return state.index
            if any(mid is None for _, _, mid in changes):
                state = None  # a bank-wide change (rollback, import): rebuild
            else:
                ids = list(dict.fromkeys(mid for _, _, mid in changes if mid is not None))
                found = self.ledger.get(ids)
                live = [(m, found[m][0]) for m in ids if m in found and found[m][0].status is not MemoryStatus.ARCHIVED]
                state.index.remove([m for m in ids if m not in dict(live)])
                state.index.add((m, f"{r.text} {r.context}") for m, r in live)
                state.seq = changes[-1][0]
                if state.index.needs_rebuild:
                    state = None
                else:
                    return state.index
        seq = self.ledger.last_history_seq()
        rows = self.ledger.query(
            "SELECT id, text, context FROM memories WHERE kind = ? AND namespace = ? AND status != ?",
            [kind.value, ns, MemoryStatus.ARCHIVED.value],
        )
        index = KeywordIndex()
        index.rebuild((mid, f"{text} {context}") for mid, text, context in rows)
        self._keyword[scope] = KeywordState(index, seq)
        return index

    def _dense_hits(self, name: str, qvec: np.ndarray, pool: int, need: int) -> Any:
        """The ``pool`` nearest vectors of a collection, reaching past archived ones still in the index.

        After a deferred forget (see :meth:`memory.lifecycle.Lifecycle.forget`) archived vectors wait in the
        index for :meth:`MemoryBank.sync`; when they crowd the top, the pool grows (x4) until it holds ``need``
        live candidates or covers every pending deletion.
        """
        pending = self.syncer.pending(name)
        n = pool
        while True:
            hits = self.store.query(name, qvec, n)
            if not pending or len(hits.ids) < n or n >= pool + pending:
                return hits
            stale = 0
            for start in range(0, len(hits.ids), 900):
                chunk = hits.ids[start : start + 900]
                marks = ", ".join("?" * len(chunk))
                stale += int(self.ledger.query(
                    f"SELECT COUNT(*) FROM memories WHERE status = 'archived' AND synced = 0 AND id IN ({marks})", chunk
                )[0][0])  # fmt: skip
            if len(hits.ids) - stale >= need:
                return hits
            n = min(n * 4, pool + pending)

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
        """The work behind :meth:`MemoryBank.retrieve` (see there for the arguments)."""
        if not isinstance(query, str) or not query.strip():
            raise MemoryUsageError("retrieve needs a non-empty query text")
        encodable(query, "the query")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise MemoryUsageError(f"k must be a whole number from 1 to {MAX_K}; got {k!r:.40}")
        now = self.clock() if now is None else finite(now, "now")
        if token_budget is not None:
            token_budget = counter(token_budget, "token_budget", low=1)
        if min_similarity is not None:
            min_similarity = finite(min_similarity, "min_similarity", low=-1.0)
        if mmr_lambda is not None:
            mmr_lambda = unit_number(mmr_lambda, "mmr_lambda")
        scopes = self.scopes.resolve(None if kinds is None else kind_list(kinds), namespace)
        if not scopes:
            return []
        qvec = query_embedding if query_embedding is not None else self.embed([query])[0]
        qvec = np.asarray(qvec, dtype=np.float32)
        pool = max(self.config.candidate_pool, k * self.config.oversample)
        lam = self.config.mmr_lambda if mmr_lambda is None else mmr_lambda
        candidates: list[tuple[Scope, dict[str, float], Any]] = []
        wanted: list[str] = []
        for scope in scopes:
            name = self.names.of(*scope)
            hits = self._dense_hits(name, qvec, pool, need=max(k * self.config.oversample, pool // 2))
            dense = dict(zip(hits.ids, hits.similarities.tolist(), strict=True))
            kw = self.keyword_index(scope).query(query, pool) if self.config.hybrid else None
            candidates.append((scope, dense, kw))
            wanted.extend(dense)
            if kw is not None:
                wanted.extend(kw.top_ids)
        rows = self.ledger.scoring_rows(list(dict.fromkeys(wanted)))
        missing = [m for m in dict.fromkeys(wanted) if m not in rows]
        if missing and self.config.server_url:
            for scope, dense, _ in candidates:
                ids = [m for m in dense if m not in rows]
                if ids:
                    self.syncer.adopt(self.names.of(*scope), ids)
            rows.update(self.ledger.scoring_rows(missing))
        allowed = ({MemoryStatus.ACTIVE.value} | ({MemoryStatus.SUPERSEDED.value} if include_superseded else set())
                   | ({MemoryStatus.CANDIDATE.value} if include_candidates else set()))
        need_vectors = [m for _, dense, kw in candidates if kw is not None for m in kw.top_ids if m not in dense]
        vectors = self.ledger.embeddings(need_vectors) if need_vectors else {}
        # Gather candidates of every scope; relevance is normalised over all of them together, so a
        # scope with one weak candidate cannot outrank a scope with a strong one.
        cands: list[ScoringRow] = []
        sims_l: list[float] = []
        kw_raw: list[float] = []
        kw_z: list[float] = []
        threads: list[str | None] = []
        for scope, dense, kw in candidates:
            ids = [m for m in dict.fromkeys([*dense, *(kw.top_ids if kw else [])]) if m in rows]
            for m in ids:
                r = rows[m]
                if r.status not in allowed:
                    continue
                sim = dense[m] if m in dense else float(vectors[m] @ qvec) if m in vectors else -1.0
                if min_similarity is not None and sim < min_similarity:
                    continue
                raw = kw.score(m) if kw is not None else 0.0
                cands.append(r)
                sims_l.append(sim)
                kw_raw.append(raw)
                kw_z.append((raw - kw.mean) / kw.std if kw is not None and kw.std > 1e-12 else 0.0)
                threads.append(f"{scope[0].value}|{scope[1]}|{r.thread}" if r.thread is not None else None)
        if not cands:
            return []
        sims = np.array(sims_l)
        kws = np.array(kw_raw)
        fused = fuse(sims, np.array(kw_z) if self.config.hybrid else None, self.config.dense_weight,
                     self.config.keyword_weight)  # fmt: skip
        fused = neighbour_boost(fused, threads, [r.seq for r in cands], self.config.neighbor_boost)

        def col(field: str) -> np.ndarray:
            return np.array([getattr(r, field) for r in cands], dtype=np.float64)

        parts = self.score_arrays(col("created_at"), col("last_recalled_at"), col("strength"), col("importance"),
                             col("utility_sum"), col("utility_count"), now)  # fmt: skip
        parts["relevance"] = minmax(fused)
        total = mix(parts, self.config.weights.model_dump())
        order = [int(i) for i in np.argsort(-total, kind="stable")]
        if lam is not None and len(order) > 1:
            head = order[: max(k * self.config.oversample, k)]
            embs = self.ledger.embeddings([cands[i].id for i in head])
            mat = np.stack([embs.get(cands[i].id, np.zeros_like(qvec)) for i in head])
            picks = mmr(minmax(total[head]), mat, len(head), lam)
            order = [head[i] for i in picks]
        chosen = [order[i] for i in pack_by_tokens([int(cands[i].tokens) for i in order], token_budget)][:k]
        records = self.ledger.get([cands[i].id for i in chosen])
        out: list[RetrievedMemory] = []
        for i in chosen:
            rec, tokens = records[cands[i].id]
            sp = ScoreParts(
                relevance=float(parts["relevance"][i]), similarity=float(sims[i]), keyword=float(kws[i]),
                recency=float(parts["recency"][i]), importance=float(parts["importance"][i]),
                retention=float(parts["retention"][i]), utility=float(parts["utility"][i]),
            )  # fmt: skip
            out.append(RetrievedMemory(rec, float(total[i]), sp, tokens))
        if record and out:
            self.ledger.record_recalls([m.id for m in out], now, self.config.recall_growth,
                                       self.config.max_strength_days)  # fmt: skip
        return out

    def score_arrays(
        self,
        created: np.ndarray,
        last_recalled: np.ndarray,
        strength: np.ndarray,
        importance: np.ndarray,
        utility_sum: np.ndarray,
        utility_count: np.ndarray,
        now: float,
    ) -> dict[str, np.ndarray]:
        """Recency, importance, retention and utility of candidates given as columns (each 0..1, higher is better);
        ``last_recalled`` is ``created`` where never recalled."""
        last = np.maximum(created, last_recalled)
        return {
            "recency": recency(created, now, self.config.recency_half_life_days),
            "importance": importance,
            "retention": retention(last, strength, now),
            "utility": utility(utility_sum, utility_count),
        }
