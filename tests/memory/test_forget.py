"""Forgetting with a fixed clock: decay, strength, pinning, superseding, capacity, utility, votes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from memory import MemoryBank, MemoryConfig, MemoryInput, MemoryKind, MemoryStatus
from memory.scoring import DAY

T0 = 1_700_000_000.0


def _bank(tmp_path: Path, embed, now: list[float], **overrides) -> MemoryBank:
    return MemoryBank(MemoryConfig(path=tmp_path / "bank", **overrides), embed=embed, clock=lambda: now[0])


def test_decay_archives_unused_memories_and_recall_protects(tmp_path: Path, embed) -> None:
    now = [T0]
    bank = _bank(tmp_path, embed, now)
    recalled, forgotten, pinned = bank.insert_many(
        [MemoryInput(text="the oven is in the kitchen"), MemoryInput(text="the garage door is stuck"),
         MemoryInput(text="never feed the cat chocolate", pinned=True)]
    )  # fmt: skip
    rule = bank.insert("open the oven before taking the cake out", MemoryKind.INSIGHT)
    # recall the first memory at spaced intervals: its strength grows
    for day in (5, 15, 35):
        now[0] = T0 + day * DAY
        hits = bank.retrieve("where is the oven?", k=1, kinds=[MemoryKind.EXPERIENCE])
        assert hits[0].id == recalled
    assert bank.get(recalled).strength > 2.5 * bank.get(forgotten).strength
    report = bank.forget(now=T0 + 60 * DAY, dry_run=True)
    assert report.dry_run and forgotten in report.decayed and bank.get(forgotten).status is MemoryStatus.ACTIVE
    report = bank.forget(now=T0 + 60 * DAY)
    assert report.decayed == [forgotten]
    assert report.pinned_kept == 1
    assert bank.get(forgotten).status is MemoryStatus.ARCHIVED
    assert bank.get(recalled).status is MemoryStatus.ACTIVE  # strength grew with spaced recalls
    assert bank.get(pinned).status is MemoryStatus.ACTIVE  # pinned: never forgotten
    assert bank.get(rule).status is MemoryStatus.ACTIVE  # insights do not decay with time
    entry = bank.history(forgotten)[-1]
    assert entry.op == "archive" and entry.actor == "forget" and "retention" in entry.reason
    assert entry.ts == T0 + 60 * DAY  # logged at the sweep's time
    assert bank.history(recalled)[0].ts == T0  # history follows the bank's clock, not the wall clock
    restored = bank.restore(forgotten)
    assert restored.status is MemoryStatus.ACTIVE
    assert bank.forget(now=T0 + 60 * DAY).archived == 0  # restoring resets the forgetting clock
    bank.close()


def test_superseded_memories_are_kept_not_forgotten(tmp_path: Path, embed) -> None:
    now = [T0]
    bank = _bank(tmp_path, embed, now)
    old = bank.insert("the shop closes at 5 pm", MemoryKind.FACT, "user:bob")
    new = bank.insert("the shop closes at 7 pm since June", MemoryKind.FACT, "user:bob")
    bank.supersede(old, new, reason="the user corrected the closing time")
    bank.forget(now=T0 + 400 * DAY)
    record = bank.get(old)
    assert record.status is MemoryStatus.SUPERSEDED and record.superseded_by == new
    assert [h.op for h in bank.history(old)] == ["insert", "supersede"]
    bank.close()


def test_capacity_keeps_the_strongest_and_pinned(tmp_path: Path, embed) -> None:
    now = [T0]
    bank = _bank(tmp_path, embed, now, capacity={MemoryKind.SUMMARY: 2})
    ids = bank.insert_many(
        [MemoryInput(text=f"summary of day {i}: visited place {i}", kind="summary", importance=imp, pinned=pin)
         for i, (imp, pin) in enumerate([(0.1, True), (0.9, False), (0.2, False), (0.8, False)])]
    )  # fmt: skip
    report = bank.forget(now=T0 + DAY)
    assert sorted(report.over_capacity) == sorted([ids[2], ids[3]])
    active = {r.id for r in bank.memories(kinds=["summary"])}
    assert active == {ids[0], ids[1]}
    bank.close()


def test_low_utility_pruning(tmp_path: Path, embed) -> None:
    now = [T0]
    bank = _bank(tmp_path, embed, now)
    bad, good = bank.insert_many([MemoryInput(text="try the door north first"), MemoryInput(text="look around")])
    for _ in range(10):  # 0 of 10: even an optimistic estimate (mean + 1 sd = 0.16) is below 0.2
        bank.feedback([bad, good], False)
        bank.feedback([good], True)
    report = bank.forget(now=T0 + DAY)
    assert report.low_utility == [bad]
    assert "low utility" in bank.history(bad)[-1].reason
    bank.close()


def test_insight_votes_evidence_and_removal_at_zero(tmp_path: Path, embed) -> None:
    now = [T0]
    bank = _bank(tmp_path, embed, now)
    rule = bank.insert("take the key before opening the chest", MemoryKind.INSIGHT)
    assert bank.get(rule).votes == 2
    assert bank.vote(rule, +1, ["e1"]).votes == 3
    assert not bank.vote(rule, +1, ["e1"]).counted  # the same evidence cannot vote twice
    assert bank.get(rule).derived_from == ("e1",)
    bank.vote(rule, -1, ["e2"])
    bank.vote(rule, -1, ["e3"])
    outcome = bank.vote(rule, -1, ["e4"])
    assert outcome.removed and outcome.votes == 0
    assert bank.get(rule).status is MemoryStatus.ARCHIVED
    assert bank.retrieve("key chest", kinds=["insight"]) == []
    assert [h.op for h in bank.history(rule)].count("vote") == 4
    bank.close()


def test_forget_sweep_is_fast_and_model_free(tmp_path: Path) -> None:
    now = [T0 + 100 * DAY]
    calls = []

    def fake_embed(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.zeros((len(texts), 384), dtype=np.float32)

    bank = _bank(tmp_path, fake_embed, now)
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(3000, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    items = [
        MemoryInput(text=f"memory number {i}", created_at=T0 + float(rng.uniform(0, 100)) * DAY) for i in range(3000)
    ]
    bank.insert_many(items, embeddings=vecs)
    calls.clear()
    report = bank.forget()
    assert calls == []  # no embedding, no model
    assert 0 < report.archived < 3000 and report.seconds < 5
    assert bank.stats()["active"] == 3000 - report.archived
    bank.close()


def test_large_sweep_defers_index_deletes_and_retrieval_skips_archived(tmp_path: Path, embed) -> None:
    now = [T0]
    bank = _bank(tmp_path, embed, now, forget_inline_deletes=3, candidate_pool=4, oversample=1, hybrid=False)
    old = bank.insert_many([MemoryInput(text=f"where is the red key? {i}") for i in range(8)])
    now[0] = T0 + 59 * DAY
    fresh = bank.insert_many([MemoryInput(text=f"a key lies under rug {i}") for i in range(3)])
    collection = bank.collection(MemoryKind.EXPERIENCE, "agent")
    report = bank.forget(now=T0 + 60 * DAY)
    assert sorted(report.decayed) == sorted(old) and report.index_pending == 8 and report.index_seconds == 0.0
    assert bank.store.count(collection) == 11  # vectors still indexed; ledger says archived
    hits = bank.retrieve("where is the red key?", k=3, kinds=[MemoryKind.EXPERIENCE], record=False)
    assert sorted(h.id for h in hits) == sorted(fresh)  # the pool reached past the 8 archived vectors
    assert bank.sync() == 8
    assert bank.store.count(collection) == 3 and bank.syncer.pending_all() == {}
    assert all(bank.get(m).status is MemoryStatus.ARCHIVED for m in old)  # archived, restorable
    bank.close()
