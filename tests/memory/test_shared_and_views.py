"""Banks that share a directory with other writers, mirroring a ledger into its store, and the read-only view."""

from __future__ import annotations

import pytest

from memory import MemoryInput, MemoryKind, MemoryStatus
from tests.memory.conftest import BankFactory


def test_a_shared_writer_sees_scopes_another_writer_made(make_bank: BankFactory) -> None:
    shared = make_bank(shared_writers=True)
    alone = make_bank()
    other = make_bank()  # the same directory (and server): another process's bank
    other.insert("always open the fridge before taking the milk", MemoryKind.INSIGHT, "env:twc")
    query = {"kinds": [MemoryKind.INSIGHT], "namespace": "env:twc", "record": False}
    assert alone.retrieve("milk", **query) == []  # its scopes are those it saw when it opened
    assert [h.text for h in shared.retrieve("milk", **query)] == ["always open the fridge before taking the milk"]


@pytest.mark.parametrize("shared", [True, False])
def test_an_insert_racing_another_writer_returns_the_other_writers_id(
    make_bank: BankFactory, monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    bank = make_bank(shared_writers=shared)
    first = make_bank().insert("the red key opens the basement door", namespace="env:twc")
    real = bank.ledger.ids_by_hash
    calls = []

    def missed_once(keys):  # the other writer committed between this bank's duplicate check and its insert
        calls.append(keys)
        return {} if len(calls) == 1 else real(keys)

    monkeypatch.setattr(bank.ledger, "ids_by_hash", missed_once)
    # two `evolve memory insert` commands started at once race the same way without shared_writers
    assert bank.insert("the red key opens the basement door", namespace="env:twc") == first
    assert len(calls) == 2


def test_mirror_into_store_pushes_what_the_store_lacks(make_bank: BankFactory) -> None:
    bank = make_bank()
    ids = bank.insert_many([MemoryInput(text=f"the key number {i} is under mat {i}") for i in range(5)])
    name = bank.collection(MemoryKind.EXPERIENCE, "agent")
    bank.store.delete(name, ids[:3])  # e.g. a fresh Chroma server holding part of the ledger
    assert bank.store.count(name) == 2
    assert bank.syncer.mirror() == 3
    assert bank.store.count(name) == 5
    assert bank.syncer.mirror() == 0  # counts match: nothing to do


def test_view_answers_the_lookups_of_dashboards_and_chat(make_bank: BankFactory) -> None:
    bank = make_bank()
    base, other = bank.insert_many([MemoryInput(text="Alice drinks tea every morning", namespace="user:alice"),
                                    MemoryInput(text="the fridge holds milk", namespace="env:twc")])  # fmt: skip
    summary = bank.insert("Alice likes tea", MemoryKind.SUMMARY, "user:alice", derived_from=[base])
    bank.archive([other], reason="test")
    view = bank.view
    assert view.namespaces() == ["env:twc", "user:alice"]
    assert view.count(namespace="user:alice") == 2
    assert view.count([MemoryKind.EXPERIENCE], "user:alice", MemoryStatus.ACTIVE, unreflected=True) == 1
    assert view.count(namespace="env:twc", status=MemoryStatus.ARCHIVED) == 1
    assert view.ids_with_prefix("user:alice", base[:12], limit=3) == [base]
    assert view.ids_with_prefix("env:twc", base[:12], limit=3) == []
    assert view.ids_containing("tea", limit=10) == [summary, base]  # newest first
    assert view.ids_containing("tea", kind="summary", namespace="user:alice", status="active", limit=10) == [summary]
    assert view.ids_citing(base) == [summary]
    archived_at, reason = view.archive_info(other) or (None, None)
    assert archived_at is not None and reason == "test"
    assert view.archive_info(base) == (None, None) and view.archive_info("mem-none") is None
    assert sorted(kind for kind, *_ in view.retention_inputs()) == ["experience", "summary"]
