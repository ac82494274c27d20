"""A bank whose files were damaged or lost on disk: a clear error that changes nothing, or a rebuild from the
ledger (issue 24, causes 6 and 8)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from memory import MemoryBank, MemoryConfig
from memory.errors import BankDamaged, MemoryUsageError
from tests.conftest import Embed

TEXTS = ["milk goes in the fridge", "the blender belongs on the counter"]


@pytest.fixture
def made(tmp_path: Path, embed: Embed) -> Callable[[str], Path]:
    """A copy of a two-memory embedded bank under ``tmp_path/NAME``."""
    original = tmp_path / "original"
    with MemoryBank(MemoryConfig(path=original), embed=embed) as bank:
        for text in TEXTS:
            bank.insert(text, namespace="env:twc")

    def copy(name: str) -> Path:
        shutil.copytree(original, tmp_path / name)
        return tmp_path / name

    return copy


def _garbage(path: Path) -> None:
    path.write_bytes(b"garbage" * 100)


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize(("damage", "match"), [(_garbage, "not a database"), (_truncated, "malformed"),
                                                (_empty, "is empty while the vector index")])  # fmt: skip
def test_a_damaged_ledger_is_named_and_left_alone(made: Callable[[str], Path], embed: Embed,
                                                  damage: Callable[[Path], None], match: str) -> None:  # fmt: skip
    path = made("bank")
    damage(path / "ledger.sqlite3")
    before = (path / "ledger.sqlite3").read_bytes()
    with pytest.raises(BankDamaged, match=match) as error:
        MemoryBank(MemoryConfig(path=path), embed=embed)
    assert "ledger.sqlite3" in str(error.value) and "\n" not in str(error.value)
    assert (path / "ledger.sqlite3").read_bytes() == before


def test_a_garbled_index_is_named_and_a_lost_one_is_rebuilt(made: Callable[[str], Path], embed: Embed) -> None:
    path = made("bank")
    _garbage(path / "chroma" / "chroma.sqlite3")
    with pytest.raises(BankDamaged, match="move that directory aside"), \
            MemoryBank(MemoryConfig(path=path), embed=embed) as bank:  # fmt: skip
        bank.retrieve("fridge", k=1, namespace="env:twc")
    shutil.move(path / "chroma", path.parent / "chroma-aside")  # what the message says to do
    with MemoryBank(MemoryConfig(path=path), embed=embed) as bank:
        hit = bank.retrieve("fridge", k=1, namespace="env:twc")[0]
        assert hit.text == TEXTS[0] and hit.parts.similarity > 0.3  # found by its vector, not only by keyword
        assert bank.stats()["unsynced"] == 0
        assert bank.store.count(bank.collection(hit.record.kind, "env:twc")) == len(TEXTS)


def test_retrieve_refuses_a_k_it_cannot_use(made: Callable[[str], Path], embed: Embed) -> None:
    with MemoryBank(MemoryConfig(path=made("bank")), embed=embed) as bank:
        for k in (10**12, "5", 0, True):
            with pytest.raises(MemoryUsageError, match="k must be a whole number from 1 to"):
                bank.retrieve("fridge", k=k)  # type: ignore[arg-type]
