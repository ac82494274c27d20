"""The gold-path memory builder: real cookingworld games, the real embedding model, a real bank."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.families.textworld.plugin import TextWorld
from agent.learning.experience import namespace_for
from agent.learning.recall import retrieve_context
from memory import MemoryBank, MemoryConfig, MemoryKind

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import gold_memory  # noqa: E402


def test_gold_paths_make_a_bank_whose_how_tos_serve_a_new_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bank"
    assert gold_memory.main(["twx-cookingworld", "--seeds", "16-18", "--out", str(out)]) == 0
    assert "from 3 gold paths" in capsys.readouterr().out
    with MemoryBank(MemoryConfig(path=out)) as bank:
        kinds = {r.kind for r in bank.memories(namespace=namespace_for("twx-cookingworld"))}
        assert kinds == {MemoryKind.EXPERIENCE, MemoryKind.FACT}
        recipe = "Directions:\n  dice the purple potato\n  fry the purple potato\n  prepare meal"
        context = retrieve_context(bank, task="Cook.", observation=recipe, namespace=namespace_for("twx-cookingworld"),
                                   kinds=(MemoryKind.FACT,), record=False, family=TextWorld())  # fmt: skip
        assert {"dice purple potato", "cook purple potato in stove"} <= context.rewarded_actions
    # an existing bank is never written over; a bad seed range names the fix
    with pytest.raises(SystemExit):
        gold_memory.main(["twx-cookingworld", "--seeds", "0-1", "--out", str(out)])
    with pytest.raises(SystemExit):
        gold_memory.main(["twx-cookingworld", "--seeds", "zero", "--out", str(tmp_path / "other")])
    assert "FIRST-LAST" in capsys.readouterr().err
