"""Retrieval: candidates from the vector index and BM25, one ledger read, scoring, MMR, token packing.

Hot path per query: embed the query (~5-15 ms), one Chroma query per (kind, namespace) collection
(``max(candidate_pool, k * oversample)`` neighbours), a BM25 query of the same scope, one batched ledger
read, numpy scoring, then one ledger transaction for the recall counters. Chroma is never written.

Relevance: the dense cosine similarities are standardised over all candidates together, each BM25 score
against its own index's statistics; their weighted sum gets a neighbour boost (same thread, seq±1) and is
min-max scaled to 0..1 over the candidates, then mixed with recency, importance, retention and utility.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from memory.base import (
    MemoryKind,
    MemoryStatus,
    RetrievedMemory,
    ScoreParts,
    parse_kind,
    validate_namespace,
)
from memory.errors import MemoryUsageError
from memory.keyword import KeywordIndex
from memory.ledger import ScoringRow
from memory.scoring import fuse, minmax, mix, mmr, neighbour_boost, pack_by_tokens, recency, retention, utility
from memory.sync import Scope, adopt

if TYPE_CHECKING:
    from memory.bank import MemoryBank


@dataclass
class KeywordState:
    """A scope's BM25 index and the history position it reflects."""

    index: KeywordIndex
    seq: int


def keyword_index(bank: MemoryBank, scope: Scope) -> KeywordIndex:
    """The scope's BM25 index, brought up to date from the history log (incrementally when it can)."""
    kind, ns = scope
    state = bank._keyword.get(scope)
    if state is not None:
        changes = bank.ledger.content_changes(kind.value, ns, state.seq)
        if not changes:
            return state.index
        if any(mid is None for _, _, mid in changes):
            state = None  # a bank-wide change (rollback, import): rebuild
        else:
            ids = list(dict.fromkeys(mid for _, _, mid in changes if mid is not None))
            found = bank.ledger.get(ids)
            live = [(m, found[m][0]) for m in ids if m in found and found[m][0].status is not MemoryStatus.ARCHIVED]
            state.index.remove([m for m in ids if m not in dict(live)])
            state.index.add((m, f"{r.text} {r.context}") for m, r in live)
            state.seq = changes[-1][0]
            if state.index.needs_rebuild:
                state = None
            else:
                return state.index
    seq = bank.ledger.last_history_seq()
    rows = bank.ledger.query(
        "SELECT id, text, context FROM memories WHERE kind = ? AND namespace = ? AND status != ?",
        [kind.value, ns, MemoryStatus.ARCHIVED.value],
    )
    index = KeywordIndex()
    index.rebuild((mid, f"{text} {context}") for mid, text, context in rows)
    bank._keyword[scope] = KeywordState(index, seq)
    return index


def resolve_scopes(
    bank: MemoryBank, kinds: Iterable[MemoryKind | str] | None, namespace: str | Sequence[str] | None
) -> list[Scope]:
    """The (kind, namespace) collections a query covers; validates kinds and namespaces."""
    kind_list = list(MemoryKind) if kinds is None else [parse_kind(k) for k in kinds]
    if namespace is None:
        return sorted(s for s in bank._scopes if s[0] in kind_list)
    nss = [validate_namespace(n) for n in ([namespace] if isinstance(namespace, str) else namespace)]
    return [(k, n) for k in kind_list for n in nss if (k, n) in bank._scopes]


def _dense_hits(bank: MemoryBank, name: str, qvec: np.ndarray, pool: int, need: int) -> Any:
    """The ``pool`` nearest vectors of a collection, reaching past archived ones still in the index.

    After a deferred forget (see :func:`memory.lifecycle.forget`) archived vectors wait in the index for
    :meth:`MemoryBank.sync`; when they crowd the top, the pool grows (x4) until it holds ``need`` live
    candidates or covers every pending deletion.
    """
    pending = bank._pending_deletes.get(name, 0)
    n = pool
    while True:
        hits = bank.store.query(name, qvec, n)
        if not pending or len(hits.ids) < n or n >= pool + pending:
            return hits
        stale = 0
        for start in range(0, len(hits.ids), 900):
            chunk = hits.ids[start : start + 900]
            marks = ", ".join("?" * len(chunk))
            stale += int(bank.ledger.query(
                f"SELECT COUNT(*) FROM memories WHERE status = 'archived' AND synced = 0 AND id IN ({marks})", chunk
            )[0][0])  # fmt: skip
        if len(hits.ids) - stale >= need:
            return hits
        n = min(n * 4, pool + pending)


def retrieve(
    bank: MemoryBank,
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
    """The work behind :meth:`MemoryBank.retrieve` (see there for the arguments)."""
    if not isinstance(query, str) or not query.strip():
        raise MemoryUsageError("retrieve needs a non-empty query text")
    if k < 1:
        raise MemoryUsageError(f"k must be >= 1, got {k}")
    now = bank._now(now)
    scopes = resolve_scopes(bank, kinds, namespace)
    if not scopes:
        return []
    qvec = query_embedding if query_embedding is not None else bank.embed([query])[0]
    qvec = np.asarray(qvec, dtype=np.float32)
    pool = max(bank.config.candidate_pool, k * bank.config.oversample)
    lam = bank.config.mmr_lambda if mmr_lambda is None else mmr_lambda
    candidates: list[tuple[Scope, dict[str, float], Any]] = []
    wanted: list[str] = []
    for scope in scopes:
        name = bank.collection(*scope)
        hits = _dense_hits(bank, name, qvec, pool, need=max(k * bank.config.oversample, pool // 2))
        dense = dict(zip(hits.ids, hits.similarities.tolist(), strict=True))
        kw = keyword_index(bank, scope).query(query, pool) if bank.config.hybrid else None
        candidates.append((scope, dense, kw))
        wanted.extend(dense)
        if kw is not None:
            wanted.extend(kw.top_ids)
    rows = bank.ledger.scoring_rows(list(dict.fromkeys(wanted)))
    missing = [m for m in dict.fromkeys(wanted) if m not in rows]
    if missing and bank.config.server_url:
        for scope, dense, _ in candidates:
            ids = [m for m in dense if m not in rows]
            if ids:
                adopt(bank, bank.collection(*scope), ids)
        rows.update(bank.ledger.scoring_rows(missing))
    allowed = {MemoryStatus.ACTIVE.value} | ({MemoryStatus.SUPERSEDED.value} if include_superseded else set())
    need_vectors = [m for _, dense, kw in candidates if kw is not None for m in kw.top_ids if m not in dense]
    vectors = bank.ledger.embeddings(need_vectors) if need_vectors else {}
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
    fused = fuse(sims, np.array(kw_z) if bank.config.hybrid else None, bank.config.dense_weight,
                 bank.config.keyword_weight)  # fmt: skip
    fused = neighbour_boost(fused, threads, [r.seq for r in cands], bank.config.neighbor_boost)

    def col(field: str) -> np.ndarray:
        return np.array([getattr(r, field) for r in cands], dtype=np.float64)

    parts = score_arrays(bank, col("created_at"), col("last_recalled_at"), col("strength"), col("importance"),
                         col("utility_sum"), col("utility_count"), now)  # fmt: skip
    parts["relevance"] = minmax(fused)
    total = mix(parts, bank.config.weights.model_dump())
    order = [int(i) for i in np.argsort(-total, kind="stable")]
    if lam is not None and len(order) > 1:
        head = order[: max(k * bank.config.oversample, k)]
        embs = bank.ledger.embeddings([cands[i].id for i in head])
        mat = np.stack([embs.get(cands[i].id, np.zeros_like(qvec)) for i in head])
        picks = mmr(minmax(total[head]), mat, len(head), lam)
        order = [head[i] for i in picks]
    chosen = [order[i] for i in pack_by_tokens([int(cands[i].tokens) for i in order], token_budget)][:k]
    records = bank.ledger.get([cands[i].id for i in chosen])
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
        bank.ledger.record_recalls([m.id for m in out], now, bank.config.recall_growth, bank.config.max_strength_days)
    return out


def score_arrays(
    bank: MemoryBank,
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
        "recency": recency(created, now, bank.config.recency_half_life_days),
        "importance": importance,
        "retention": retention(last, strength, now),
        "utility": utility(utility_sum, utility_count),
    }
