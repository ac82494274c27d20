"""Contract of the memory bank, run on an embedded Chroma and on a real ``chroma run`` server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memory import MemoryInput, MemoryKind, MemoryStatus, MemoryUsageError, StoreUnavailable
from tests.memory.conftest import BankFactory

KITCHEN = [
    "put the blender on the kitchen counter: accepted",
    "the fridge holds milk and eggs",
    "going north from the hallway leads to the kitchen",
    "the red key opens the basement door",
    "Alice prefers tea over coffee in the morning",
]


def _fill(bank, namespace: str = "env:twc") -> list[str]:
    return bank.insert_many([MemoryInput(text=t, namespace=namespace) for t in KITCHEN])


def test_insert_get_and_idempotence(make_bank: BankFactory) -> None:
    bank = make_bank()
    ids = _fill(bank)
    assert len(set(ids)) == len(KITCHEN)
    again = bank.insert_many(
        [MemoryInput(text="  PUT the blender on the kitchen   counter: accepted ", namespace="env:twc")]
    )
    assert again == [ids[0]]
    dup_batch = bank.insert_many([MemoryInput(text="x y z", namespace="agent"), MemoryInput(text="X  y z")])
    assert dup_batch[0] == dup_batch[1]
    record = bank.get(ids[1])
    assert record.text == KITCHEN[1] and record.kind is MemoryKind.EXPERIENCE and record.namespace == "env:twc"
    assert bank.stats()["active"] == len(KITCHEN) + 1
    assert [h.op for h in bank.history(ids[0])] == ["insert"]


def test_retrieve_relevance_filters_and_budget(make_bank: BankFactory) -> None:
    bank = make_bank()
    _fill(bank)
    bank.insert("always check the fridge first when asked for milk", MemoryKind.INSIGHT, "env:twc")
    bank.insert("Alice likes to drink tea", MemoryKind.PROFILE, "user:alice")
    hits = bank.retrieve("where should the blender go?", k=3, namespace="env:twc")
    assert hits[0].text == KITCHEN[0]
    assert all(h.score >= hits[-1].score for h in hits)
    assert hits[0].parts.relevance == pytest.approx(1.0)
    insights = bank.retrieve("milk", k=5, kinds=[MemoryKind.INSIGHT], namespace="env:twc")
    assert [h.record.kind for h in insights] == [MemoryKind.INSIGHT]
    alice = bank.retrieve("what does Alice drink?", k=5, namespace="user:alice")
    assert [h.record.namespace for h in alice] == ["user:alice"]
    everywhere = bank.retrieve("what does Alice drink?", k=10)
    assert {h.record.namespace for h in everywhere} == {"env:twc", "user:alice"}
    budget = bank.retrieve("kitchen", k=5, namespace="env:twc", token_budget=12)
    assert sum(h.tokens for h in budget) <= 12 and len(budget) >= 1
    assert bank.retrieve("kitchen", k=3, namespace="env:other") == []


def test_recall_statistics_update_only_when_recorded(make_bank: BankFactory) -> None:
    now = [1_700_000_000.0]
    bank = make_bank(clock=lambda: now[0])
    ids = _fill(bank)
    before = bank.get(ids[0])
    bank.retrieve("blender counter", k=1, namespace="env:twc", record=False)
    assert bank.get(ids[0]).recall_count == 0
    now[0] += 10 * 86_400
    hit = bank.retrieve("blender counter", k=1, namespace="env:twc")[0]
    after = bank.get(hit.id)
    assert hit.id == ids[0] and after.recall_count == 1 and after.last_recalled_at == now[0]
    assert after.strength > before.strength
    # a caller that chose among record=False candidates strengthens only what it used, the same way
    now[0] += 10 * 86_400
    bank.mark_recalled([ids[0]])
    again = bank.get(ids[0])
    assert again.recall_count == 2 and again.last_recalled_at == now[0] and again.strength > after.strength
    assert bank.get(ids[1]).recall_count == 0
    with pytest.raises(MemoryUsageError, match="unknown memory ids"):
        bank.mark_recalled(["mem-nope"])


def test_feedback_updates_utility_and_history(make_bank: BankFactory) -> None:
    bank = make_bank()
    ids = _fill(bank)
    bank.feedback(ids[:2], True, episode_id="ep-1")
    bank.feedback(ids[:1], 0.0, episode_id="ep-2")
    first, second = bank.get(ids[0]), bank.get(ids[1])
    assert (first.utility_sum, first.utility_count) == (1.0, 2) and first.utility == pytest.approx(0.5)
    assert second.utility == pytest.approx(2 / 3)
    entries = [h for h in bank.history(ids[0]) if h.op == "feedback"]
    assert [e.after["episode_id"] for e in entries] == ["ep-1", "ep-2"]
    with pytest.raises(MemoryUsageError, match="unknown memory"):
        bank.feedback(["mem-nope"], True)
    with pytest.raises(MemoryUsageError, match="0..1"):
        bank.feedback(ids[:1], 1.5)


def test_pin_supersede_edit_archive_restore(make_bank: BankFactory) -> None:
    bank = make_bank()
    ids = _fill(bank)
    assert bank.pin(ids[3]).pinned and not bank.unpin(ids[3]).pinned
    new = bank.insert("the blue key opens the basement door; the red one does not", namespace="env:twc")
    old = bank.supersede(ids[3], new, reason="tried the red key: it failed")
    assert old.status is MemoryStatus.SUPERSEDED and old.superseded_by == new
    hits = [h.id for h in bank.retrieve("which key opens the basement?", k=5, namespace="env:twc")]
    assert new in hits and ids[3] not in hits
    hits = [h.id for h in bank.retrieve("which key opens the basement?", k=6, namespace="env:twc",
                                        include_superseded=True)]  # fmt: skip
    assert ids[3] in hits
    edited = bank.edit(ids[1], "the fridge holds milk, eggs and butter", actor="test")
    assert edited.id == ids[1] and "butter" in edited.text
    assert bank.retrieve("butter", k=1, namespace="env:twc")[0].id == ids[1]
    edit_log = [h for h in bank.history(ids[1]) if h.op == "edit"][0]
    assert edit_log.before == {"text": KITCHEN[1]} and edit_log.actor == "test"
    assert bank.archive([ids[2]], reason="test") == 1
    assert ids[2] not in [h.id for h in bank.retrieve("go north to the kitchen", k=5, namespace="env:twc")]
    assert bank.get(ids[2]).status is MemoryStatus.ARCHIVED
    assert bank.restore(ids[2]).status is MemoryStatus.ACTIVE
    assert bank.retrieve("go north to the kitchen", k=1, namespace="env:twc")[0].id == ids[2]
    assert [h.op for h in bank.history(ids[2])] == ["insert", "archive", "restore"]
    # inserting an archived memory's text again restores it
    bank.archive([ids[4]], reason="test")
    assert bank.insert(KITCHEN[4], namespace="env:twc") == ids[4]
    assert bank.get(ids[4]).status is MemoryStatus.ACTIVE


def test_snapshot_rollback(make_bank: BankFactory) -> None:
    bank = make_bank()
    ids = _fill(bank)
    bank.snapshot("before")
    extra = bank.insert("the attic is above the bedroom", namespace="env:twc")
    bank.archive([ids[0]], reason="test")
    bank.edit(ids[1], "the fridge is empty now", actor="test")
    bank.rollback("before")
    assert bank.get(ids[0]).status is MemoryStatus.ACTIVE
    assert bank.get(ids[1]).text == KITCHEN[1]
    with pytest.raises(MemoryUsageError):
        bank.get(extra)
    assert bank.retrieve("blender on the counter", k=1, namespace="env:twc")[0].id == ids[0]
    assert "attic" not in " ".join(h.text for h in bank.retrieve("attic bedroom", k=5, namespace="env:twc"))
    assert bank.retrieve("fridge milk", k=1, namespace="env:twc")[0].text == KITCHEN[1]
    assert [s.name for s in bank.list_snapshots()] == ["before"]
    assert any(h.op == "rollback" for h in bank.history())
    with pytest.raises(MemoryUsageError, match="no snapshot"):
        bank.rollback("nope")
    with pytest.raises(MemoryUsageError, match="exists"):
        bank.snapshot("before")


def test_export_import_round_trip(make_bank: BankFactory, tmp_path: Path) -> None:
    source = make_bank(sub="a")
    ids = _fill(source)
    source.feedback(ids[:1], True)
    source.archive([ids[4]], reason="test")
    count = source.export_jsonl(tmp_path / "dump.jsonl")
    assert count == len(KITCHEN)
    header = json.loads((tmp_path / "dump.jsonl").read_text().splitlines()[0])
    assert header["format"] == "evolve-memory-jsonl"
    target = make_bank(sub="b", collection_prefix="imp" + ids[0][-6:])
    assert target.import_jsonl(tmp_path / "dump.jsonl") == len(KITCHEN)
    assert target.import_jsonl(tmp_path / "dump.jsonl") == 0
    assert target.get(ids[0]).utility_count == 1
    assert target.get(ids[4]).status is MemoryStatus.ARCHIVED
    assert target.retrieve("blender", k=1, namespace="env:twc")[0].id == ids[0]
    (tmp_path / "bad.jsonl").write_text('{"format": "something-else"}\n')
    with pytest.raises(MemoryUsageError, match="not a evolve-memory-jsonl"):
        target.import_jsonl(tmp_path / "bad.jsonl")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text": "hello", "kind": "dream"}, "unknown memory kind 'dream'"),
        ({"text": "hello", "namespace": "team:x"}, "bad namespace 'team:x'"),
        ({"text": "hello", "namespace": "user"}, "bad namespace 'user'"),
        ({"text": "   "}, "empty"),
        ({"text": "word " * 3000}, "max_text_tokens"),
        ({"text": "hello", "importance": 2.0}, "outside 0..1"),
    ],
)
def test_bad_input_is_refused_clearly(make_bank: BankFactory, kwargs: dict, match: str) -> None:
    bank = make_bank()
    with pytest.raises(MemoryUsageError, match=match):
        bank.insert_many([MemoryInput(**kwargs)])
    assert bank.stats()["total"] == 0


def test_bad_retrieve_arguments(make_bank: BankFactory) -> None:
    bank = make_bank()
    with pytest.raises(MemoryUsageError, match="non-empty"):
        bank.retrieve("  ")
    with pytest.raises(MemoryUsageError, match="unknown memory kind"):
        bank.retrieve("x", kinds=["dream"])
    with pytest.raises(MemoryUsageError, match="bad namespace"):
        bank.retrieve("x", namespace="nobody")


def test_closed_bank_raises_store_unavailable(make_bank: BankFactory) -> None:
    bank = make_bank()
    _fill(bank)
    bank.close()
    bank.close()  # idempotent
    with pytest.raises(StoreUnavailable, match="closed"):
        bank.retrieve("blender")
    with pytest.raises(StoreUnavailable, match="closed"):
        bank.insert("more text")


def test_second_machine_adopts_memories_from_the_shared_server(make_bank: BankFactory) -> None:
    if make_bank.mode != "server":  # type: ignore[attr-defined]
        pytest.skip("sharing between ledgers needs a Chroma server")
    first = make_bank(sub="machine-a")
    ids = _fill(first)
    first.feedback(ids[:1], True)
    assert first.flush() >= 1  # counters published to Chroma metadata
    second = make_bank(sub="machine-b")  # its own ledger, same collections
    hits = second.retrieve("blender on the counter", k=1, namespace="env:twc")
    assert hits[0].id == ids[0] and hits[0].text == KITCHEN[0]
    adopted = second.get(ids[0])
    assert adopted.utility_count == 1 and adopted.namespace == "env:twc"
    assert [h.op for h in second.history(ids[0])] == ["insert"] and second.history(ids[0])[0].actor == "sync"
    everywhere = second.retrieve("kitchen", k=3)  # namespace=None sees the server's collections
    assert everywhere and all(h.record.namespace == "env:twc" for h in everywhere)


def test_mmr_diversifies_near_duplicates(make_bank: BankFactory) -> None:
    bank = make_bank()
    bank.insert_many(
        [
            MemoryInput(text="the blender is on the kitchen counter"),
            MemoryInput(text="the blender is on the kitchen counter now"),
            MemoryInput(text="the blender sits on the kitchen counter"),
            MemoryInput(text="the blender needs a new power cable"),
        ]
    )
    plain = [h.text for h in bank.retrieve("blender", k=2, record=False)]
    diverse = [h.text for h in bank.retrieve("blender", k=2, record=False, mmr_lambda=0.3)]
    assert sum("counter" in t for t in plain) == 2
    assert "the blender needs a new power cable" in diverse
