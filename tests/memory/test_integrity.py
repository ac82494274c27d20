"""Check and repair: every kind of mismatch between the vector index and the ledger is found, repaired from the
ledger's vectors, and what cannot be placed is quarantined whole (issue 24), embedded and on a Chroma server."""

from __future__ import annotations

import json

import numpy as np
import pytest

from memory import MemoryBank, MemoryConfig, MemoryKind
from memory.errors import BankDamaged
from memory.schema import to_blob
from memory.sync import store_metadata
from tests.conftest import Embed
from tests.memory.conftest import BankFactory

TEXTS = ["milk goes in the fridge", "the blender belongs on the counter", "open the door before going north"]


def _filled(make_bank: BankFactory) -> tuple[MemoryBank, list[str], str]:
    bank = make_bank()
    ids = [bank.insert(t, namespace="env:twc") for t in TEXTS]
    return bank, ids, bank.collection(MemoryKind.EXPERIENCE, "env:twc")


def test_a_healthy_bank_checks_clean_and_repair_changes_nothing(make_bank: BankFactory) -> None:
    bank, _, name = _filled(make_bank)
    report = bank.check()
    assert report.ok and report.rows == 3 and report.dimension == 384, report.problems()
    assert [c.index_items for c in report.collections if c.name == name] == [3]
    repaired = bank.repair()
    assert (repaired.reembedded, repaired.adopted, repaired.quarantined, repaired.removed_from_index) == (0, 0, 0, 0)
    assert repaired.after.ok and json.dumps(repaired.to_dict())


def test_missing_and_stale_index_items_are_found_and_repaired(make_bank: BankFactory) -> None:
    bank, ids, name = _filled(make_bank)
    bank.store.delete(name, ids[:2])  # lost from the index behind the bank's back
    archived = bank.insert("a memory that was forgotten", namespace="env:twc")
    bank.archive([archived], reason="test")
    record = bank.get(archived)
    bank.store.add(name, [archived], bank.embed([record.text]), [record.text], [store_metadata(record)])
    report = bank.check()
    [c] = [c for c in report.collections if c.name == name]
    assert sorted(c.missing) == sorted(ids[:2]) and c.stale == [archived] and not report.ok
    assert any("missing from the index" in p for p in report.problems())
    repaired = bank.repair()
    assert repaired.after.ok, repaired.after.problems()
    assert repaired.removed_from_index == 1 and bank.store.count(name) == 3
    hit = bank.retrieve("milk fridge", k=1, namespace="env:twc", record=False)[0]
    assert hit.id == ids[0] and hit.parts.similarity > 0.3  # found by its vector again


def test_unfit_vectors_are_embedded_again_and_a_wrong_size_collection_is_rebuilt(
    make_bank: BankFactory, embed: Embed
) -> None:
    bank, ids, _ = _filled(make_bank)
    # what an old import let in: a 3-number vector in a new namespace, which made a 3-dimensional collection
    odd = bank.insert("the key is under the mat", namespace="env:other", embedding=bank.embed(["x"])[0])
    other = bank.collection(MemoryKind.EXPERIENCE, "env:other")
    bank.store.drop(other)
    bank.store.add(other, [odd], np.ones((1, 3), dtype=np.float32) / np.sqrt(3), ["the key is under the mat"],
                   [store_metadata(bank.get(odd))])  # fmt: skip
    with bank.ledger.tx() as conn:
        conn.execute("UPDATE vectors SET embedding = ? WHERE id = ?", (to_blob(np.ones(3, np.float32)), odd))
        conn.execute("UPDATE vectors SET embedding = ? WHERE id = ?",
                     (to_blob(np.full(384, np.nan, np.float32)), ids[1]))  # fmt: skip
    report = bank.check()
    assert report.unfit_vectors == {
        odd: "3 numbers, the bank's vectors have 384",
        ids[1]: "numbers that are not finite",
    }
    assert any("its vectors have 3 numbers" in p for p in report.problems())
    repaired = bank.repair()
    assert repaired.after.ok, repaired.after.problems()
    assert repaired.reembedded == 2 and repaired.dropped_collections == [other]
    hit = bank.retrieve("where is the key", k=1, namespace="env:other", record=False)[0]
    assert hit.id == odd and hit.parts.similarity > 0.3
    assert np.allclose(bank.ledger.embeddings([ids[1]])[ids[1]], embed([TEXTS[1]])[0], atol=1e-5)


def test_unreadable_rows_and_unexplained_items_are_quarantined_not_lost(make_bank: BankFactory) -> None:
    bank, ids, name = _filled(make_bank)
    stranger = bank.get(ids[0])
    with bank.ledger.tx() as conn:
        conn.execute("UPDATE memories SET kind = 'bogus' WHERE id = ?", (ids[2],))
    junk_vec = bank.embed(["a stray item"])
    bank.store.add(name, ["stray-1"], junk_vec, ["a stray item"], [{"note": "no record here"}])
    bank.store.add(name, ["stray-2"], bank.embed(["adopt me"]),
                   ["adopt me"], [store_metadata(stranger.__class__.from_dict(
                       {**stranger.to_dict(), "id": "stray-2", "text": "adopt me", "content_hash": ""}))])  # fmt: skip
    report = bank.check()
    assert list(report.unreadable_rows) == [ids[2]] and "bogus" in report.unreadable_rows[ids[2]]
    [c] = [c for c in report.collections if c.name == name]
    assert c.stale == [ids[2]]
    if not report.shared:
        assert c.unknown == ["stray-1", "stray-2"]
    repaired = bank.repair()
    assert repaired.after.ok, repaired.after.problems()
    assert repaired.adopted == 1 and bank.get("stray-2").text == "adopt me"
    rows = bank.ledger.query("SELECT memory_id, origin, reason, data FROM quarantine ORDER BY memory_id")
    assert rows[0][0] == ids[2] and rows[0][1] == "ledger" and json.loads(rows[0][3])["row"]["text"] == TEXTS[2]
    assert len(json.loads(rows[0][3])["embedding"]) == 384
    if report.shared:  # another machine's item in the shared server: left there
        assert len(rows) == 1 and bank.store.get(name, ["stray-1"])
    else:
        assert [r[0] for r in rows[1:]] == ["stray-1"] and json.loads(rows[1][3])["document"] == "a stray item"
        assert not bank.store.get(name, ["stray-1"])
    assert bank.stats()["quarantined"] == len(rows) and len(bank.memories()) == 3  # listing works again
    assert [e.op for e in bank.history(ids[2])][-1] == "quarantine"


def test_an_index_that_refuses_the_ledger_names_repair_and_repair_opens_it(tmp_path, embed: Embed) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bank"
    with MemoryBank(MemoryConfig(path=path), embed=embed) as bank:
        mid = bank.insert("milk goes in the fridge", namespace="env:twc")
        name = bank.collection(MemoryKind.EXPERIENCE, "env:twc")
        bank.store.drop(name)
        bank.store.add(name, ["x"], np.ones((1, 3), np.float32), ["x"], [{"kind": "experience"}])
        bank.ledger.mark_unsynced([mid])
    with pytest.raises(BankDamaged, match="evolve memory repair") as error:
        MemoryBank(MemoryConfig(path=path), embed=embed)
    assert "\n" not in str(error.value)
    with MemoryBank(MemoryConfig(path=path), embed=embed, reconcile=False) as bank:
        assert not bank.check().ok
        assert bank.repair().after.ok
    with MemoryBank(MemoryConfig(path=path), embed=embed) as bank:
        assert bank.retrieve("fridge", k=1, namespace="env:twc", record=False)[0].id == mid


def test_a_lost_ledger_is_refused_and_repair_rebuilds_records_from_the_index(tmp_path, embed: Embed) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bank"
    with MemoryBank(MemoryConfig(path=path), embed=embed) as bank:
        ids = [bank.insert(t, namespace="env:twc") for t in TEXTS]
    for suffix in ("", "-wal", "-shm"):
        (path / f"ledger.sqlite3{suffix}").unlink(missing_ok=True)
    with pytest.raises(BankDamaged, match="is missing while the vector index"):
        MemoryBank(MemoryConfig(path=path), embed=embed)
    assert not (path / "ledger.sqlite3").exists()  # refused without creating an empty one
    with MemoryBank(MemoryConfig(path=path), embed=embed, reconcile=False) as bank:
        repaired = bank.repair()
        assert repaired.adopted == 3 and repaired.after.ok
    with MemoryBank(MemoryConfig(path=path), embed=embed) as bank:
        assert sorted(r.id for r in bank.memories()) == sorted(ids)
        assert bank.retrieve("milk fridge", k=1, namespace="env:twc", record=False)[0].id == ids[0]
