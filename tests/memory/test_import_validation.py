"""Import checks every record with insert's rules before writing anything (issue 24's bad-import probes).

Each case edits one line of a real export and imports it into a bank that already holds memories; the import
must fail with one line naming the bad value, and the bank must be exactly as it was: same records, search and
stats still work, and a reopened bank has nothing pending and checks clean. Embedded and on a Chroma server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memory import MemoryBank, MemoryConfig, MemoryInput, MemoryUsageError
from tests.conftest import Embed
from tests.memory.conftest import BankFactory

TEXTS = ["the blender belongs on the counter", "milk goes in the fridge", "the coin is in the attic"]
OTHER = ["keys hang by the door", "the red apple is sliced with a knife"]

Edit = Callable[[dict[str, Any]], None]


def _set(field: str, value: Any) -> Edit:
    def edit(line: dict[str, Any]) -> None:
        line["record"][field] = value

    return edit


def _embedding(value: Any) -> Edit:
    def edit(line: dict[str, Any]) -> None:
        line["embedding"] = value

    return edit


def _whole(value: Any) -> Edit:
    def edit(line: dict[str, Any]) -> None:
        line.clear()
        line["record"] = value

    return edit


CASES: list[tuple[str, Edit, str]] = [
    ("short embedding", _embedding([0.1, 0.2, 0.3]), "shape 1x3, expected 1x384"),
    ("nan embedding", _embedding([float("nan")] * 384), "NaN"),
    ("zero embedding", _embedding([0.0] * 384), "only zeros"),
    ("string embedding", _embedding(["a"] * 384), "not numbers"),
    ("huge importance", _set("importance", 1e308), "outside 0..1"),
    ("infinite strength", _set("strength", float("inf")), "strength"),
    ("negative counter", _set("recall_count", -5), "recall_count"),
    ("utility over count", _set("utility_sum", 9.0), "utility_sum"),
    ("empty text", _set("text", "   "), "empty"),
    ("long text", _set("text", "word " * 5000), "max_text_tokens"),
    ("path id", _set("id", "../../etc/passwd\x00"), "not a memory id"),
    ("string source ids", _set("source_ids", "abc"), "list of id strings"),
    ("list meta", _set("meta", ["a"]), "meta must be an object"),
    ("nested meta", _set("meta", {"a": {"b": 1}}), "meta\\['a'\\]"),
    ("lone surrogate", _set("text", "bad \ud800 text"), "not valid Unicode"),
    ("record is a list", _whole([1, 2]), "record must be an object"),
    ("unknown status", _set("status", "sleeping"), "status 'sleeping'"),
    ("bool importance", _set("importance", True), "importance must be a number"),
]


def _export(source: MemoryBank, path: Path) -> list[dict[str, Any]]:
    source.insert_many([MemoryInput(text=t, namespace="env:twc") for t in OTHER])
    source.export_jsonl(path)
    return [json.loads(line) for line in path.read_text().splitlines()]


def _state(bank: MemoryBank) -> tuple[list[str], list[str]]:
    records = sorted(r.id for r in bank.memories())
    found = [h.id for h in bank.retrieve("blender counter", k=3, namespace="env:twc")]
    return records, found


@pytest.fixture
def banks(tmp_path: Path, embed: Embed, make_bank: BankFactory) -> tuple[MemoryBank, MemoryBank, list[dict[str, Any]]]:
    """A target bank (embedded, or on the Chroma server) with three memories, and the lines of another bank's export."""
    source = MemoryBank(MemoryConfig(path=tmp_path / "source"), embed=embed)
    lines = _export(source, tmp_path / "dump.jsonl")
    source.close()
    target = make_bank(sub="target")
    for text in TEXTS:
        target.insert(text, namespace="env:twc")
    return source, target, lines


@pytest.mark.parametrize(("name", "edit", "match"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_line_imports_nothing(banks: tuple[MemoryBank, MemoryBank, list[dict[str, Any]]], tmp_path: Path,
                                    make_bank: BankFactory, name: str, edit: Edit, match: str) -> None:  # fmt: skip
    _, target, lines = banks
    lines = json.loads(json.dumps(lines))
    edit(lines[-1])
    path = tmp_path / f"{name.replace(' ', '-')}.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    before = _state(target)
    with pytest.raises(MemoryUsageError, match=match) as error:
        target.import_jsonl(path)
    assert "\n" not in str(error.value) and "line 3" in str(error.value)
    assert _state(target) == before
    target.close()
    reopened = make_bank(sub="target")
    assert _state(reopened) == before
    assert reopened.stats()["unsynced"] == 0 and reopened.check().ok


def test_a_forged_hash_does_not_let_a_duplicate_in(banks: tuple[MemoryBank, MemoryBank, list[dict[str, Any]]],
                                                   tmp_path: Path) -> None:  # fmt: skip
    _, target, lines = banks
    copy = json.loads(json.dumps(lines[1]))
    copy["record"].update(id="mem-" + "a" * 20, text=TEXTS[0], content_hash="f" * 64)
    path = tmp_path / "forged.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in [lines[0], copy]) + "\n")
    assert target.import_jsonl(path) == 0
    assert sum(r.text == TEXTS[0] for r in target.memories()) == 1


def test_repeated_ids_and_directories_are_named(banks: tuple[MemoryBank, MemoryBank, list[dict[str, Any]]],
                                                tmp_path: Path) -> None:  # fmt: skip
    _, target, lines = banks
    path = tmp_path / "twice.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in [*lines, lines[1]]) + "\n")
    with pytest.raises(MemoryUsageError, match="is repeated"):
        target.import_jsonl(path)
    with pytest.raises(MemoryUsageError, match="is a directory"):
        target.import_jsonl(tmp_path)


def test_insert_checks_the_callers_vectors(bank: MemoryBank) -> None:
    bank.insert("milk goes in the fridge", namespace="env:twc")
    with pytest.raises(MemoryUsageError, match="shape 1x3, expected 1x384"):
        bank.insert_many([MemoryInput(text="a new one", namespace="env:other")], embeddings=np.ones((1, 3)))
    with pytest.raises(MemoryUsageError, match="bytes"):
        bank.insert(b"raw bytes")  # type: ignore[arg-type]
    with pytest.raises(MemoryUsageError, match="not valid Unicode"):
        bank.insert("lone \ud800 surrogate")
    assert bank.retrieve("fridge", k=1, namespace="env:twc")[0].text == "milk goes in the fridge"
    assert len(bank.memories()) == 1
