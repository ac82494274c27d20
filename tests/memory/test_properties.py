"""Property tests of bad input (issue 24): over generated import lines and API calls, every outcome is either
success with a consistent bank or one clear :class:`MemoryUsageError` line with the bank exactly as it was, and
nothing acknowledged is ever lost.

Each test keeps one real bank (embedded Chroma, the real embedding model) across its examples, so a success
changes what later examples start from, as a long-lived bank would.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory import MemoryBank, MemoryConfig, MemoryInput, MemoryKind, MemoryUsageError
from memory.base import MemoryRecord
from tests.conftest import Embed
from tests.probes import fingerprint, one_line

EXPLORE = int(os.environ.get("EVOLVE_PROPERTY_EXAMPLES", "0"))
SETTINGS = settings(max_examples=EXPLORE or 120, deadline=None, derandomize=not EXPLORE,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
"""The same 120 examples on every run, so a failure replays; ``EVOLVE_PROPERTY_EXAMPLES=N`` explores N new ones."""

ODD = st.sampled_from([
    None, True, False, 0, -1, 1, 2, 0.5, -0.0, 1e308, -1e308, 2**63, -(2**63) - 1, 10**30, float("nan"),
    float("inf"), float("-inf"), "", " ", "\x00", "\ud800", "x" * 100_000, "../../etc/passwd", "mem-" + "0" * 20,
    "[red]markup[/red]", "\x1b]0;title\x07", "env:", "user:", "agent", "experience", "bogus", [], [1, 2], ["a"],
    {}, {"a": {"b": 1}}, {"a": 1}, b"bytes",
])  # fmt: skip
"""Values people and programs get wrong: wrong types, limits, empty and huge, control and markup text."""

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
VALUE = ODD | JSON


class Acknowledged:
    """Ids and texts the bank acknowledged; each must stay readable whatever happens after."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def add(self, records: list[MemoryRecord]) -> None:
        self.texts.update((r.id, r.text) for r in records)

    def verify(self, bank: MemoryBank) -> None:
        found = {r.id: r.text for r in bank.get_many(list(self.texts))}
        assert found == self.texts


# -- import -------------------------------------------------------------------------------------------------
FIELDS = list(MemoryRecord(id="mem-" + "0" * 20, kind=MemoryKind.EXPERIENCE, namespace="agent", text="t",
                           created_at=0.0, updated_at=0.0).to_dict())  # fmt: skip


def mutation() -> st.SearchStrategy[tuple[str, Any, Any]]:
    """(where, key, value): a record field set, deleted or added; the embedding replaced; the whole line replaced."""
    return st.one_of(
        st.tuples(st.just("field"), st.sampled_from([*FIELDS, "unknown_field"]), VALUE),
        st.tuples(st.just("drop"), st.sampled_from(FIELDS), st.none()),
        st.tuples(st.just("embedding"), st.none(), VALUE | st.lists(st.floats(), min_size=384, max_size=384)),
        st.tuples(st.just("line"), st.none(), VALUE),
        st.tuples(st.just("raw"), st.none(), st.text(max_size=40)),
    )


def _line(n: int, rng: np.random.Generator) -> dict[str, Any]:
    vector = rng.normal(size=384)
    record = MemoryRecord(id=f"mem-{n:020x}", kind=MemoryKind.FACT, namespace="env:prop", text=f"imported note {n}",
                          created_at=1.7e9, updated_at=1.7e9)  # fmt: skip
    return {"record": record.to_dict(), "embedding": (vector / np.linalg.norm(vector)).tolist(), "archived_at": None}


def _render(line: dict[str, Any], where: str, key: Any, value: Any) -> str:
    if where == "field":
        line["record"][key] = value
    elif where == "drop":
        line["record"].pop(key, None)
    elif where == "embedding":
        line["embedding"] = value
    elif where == "line":
        line = value
    else:
        return str(value)
    return json.dumps(line, default=repr)  # bytes become their repr: still a bad value


@pytest.fixture
def import_bank(tmp_path: Path, embed: Embed) -> MemoryBank:
    bank = MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=embed)
    bank.insert_many([MemoryInput(text=t, namespace="env:prop") for t in ("the coin is in the attic", "milk")])
    return bank


@SETTINGS
@given(change=mutation(), seed=st.integers(0, 2**32 - 1))
def test_import_of_any_line_is_all_or_nothing(import_bank: MemoryBank, tmp_path: Path, change: tuple[str, Any, Any],
                                              seed: int) -> None:  # fmt: skip
    bank, rng = import_bank, np.random.default_rng(seed)
    base = 3 * (seed % 10**6)
    lines = [json.dumps(_line(base, rng)), _render(_line(base + 1, rng), *change), json.dumps(_line(base + 2, rng))]
    path = tmp_path / "in.jsonl"
    path.write_text('{"format": "evolve-memory-jsonl", "version": 1}\n' + "\n".join(lines) + "\n")
    before = fingerprint(bank)
    try:
        count = bank.import_jsonl(path)
    except MemoryUsageError as error:
        assert one_line(error), str(error)
        assert fingerprint(bank) == before
        return
    assert count in (0, 1, 2, 3)
    assert bank.check().ok, bank.check().problems()
    assert all(math.isfinite(r.importance) and 0 <= r.importance <= 1 for r in bank.memories())


# -- the Python API ------------------------------------------------------------------------------------------
OPS = ["insert", "insert_many", "retrieve", "feedback", "vote", "set_importance", "archive", "restore", "get",
       "pin", "edit", "supersede", "mark_recalled"]  # fmt: skip


def _call(bank: MemoryBank, op: str, args: list[Any], known: list[str]) -> Any:
    """Call one API operation with generated arguments (ids drawn from known ones where an id is expected)."""
    a, b, c = args
    some_id = known[abs(hash(repr(a))) % len(known)] if known and isinstance(a, int) else a
    if op == "insert":
        return bank.insert(a, kind=b, namespace=c) if isinstance(b, str) else bank.insert(a, importance=b)
    if op == "insert_many":
        return bank.insert_many([MemoryInput(text=a, namespace="env:prop", importance=b, meta=c)])
    if op == "retrieve":
        return bank.retrieve(a, k=b, namespace=c, record=False)
    if op == "feedback":
        return bank.feedback([some_id], b, episode_id=c)
    if op == "vote":
        return bank.vote(some_id, b, c)
    if op == "set_importance":
        return bank.set_importance(some_id, b)
    if op == "archive":
        return bank.archive([some_id], reason=b)
    if op == "restore":
        return bank.restore(some_id)
    if op == "get":
        return bank.get(some_id)
    if op == "pin":
        return bank.pin(some_id, reason=b)
    if op == "edit":
        return bank.edit(some_id, b)
    if op == "supersede":
        return bank.supersede(some_id, b, reason=c)
    return bank.mark_recalled([some_id], now=b)


@SETTINGS
@given(op=st.sampled_from(OPS), args=st.lists(VALUE, min_size=3, max_size=3))
def test_api_calls_with_any_arguments_succeed_or_refuse_cleanly(import_bank: MemoryBank, op: str,
                                                                args: list[Any]) -> None:  # fmt: skip
    bank = import_bank
    acknowledged = getattr(bank, "acknowledged", None) or Acknowledged()
    bank.acknowledged = acknowledged  # type: ignore[attr-defined]
    known = sorted(r.id for r in bank.memories(status=None))
    before = fingerprint(bank)
    try:
        result = _call(bank, op, args, known)
    except MemoryUsageError as error:
        assert one_line(error), str(error)
        assert fingerprint(bank) == before, f"{op}{tuple(args)!r} refused but changed the bank"
    else:
        if op in ("insert", "insert_many"):
            ids = [result] if isinstance(result, str) else result
            acknowledged.add(bank.get_many(ids))
    acknowledged.verify(bank)
