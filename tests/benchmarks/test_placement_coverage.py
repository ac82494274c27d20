"""The placement-coverage check: real twc gold paths, the real embedding model, the agent's own placing code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import placement_coverage  # noqa: E402

from memory import MemoryBank, MemoryConfig, MemoryInput, MemoryKind  # noqa: E402


def test_gold_placements_are_classified_by_what_training_earned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    episodes = tmp_path / "episodes.jsonl"
    rows = [{"tag": "train", "steps": [{"action": "take chicken leg", "reward": 1.0},
                                       {"action": "put chicken leg in fridge", "reward": 1.0}]},
            {"tag": "train", "steps": [{"action": "put white onion in counter", "reward": -1.0},
                                       {"action": "put white onion in shelf", "reward": 1.0}]},
            # a held-out episode is not training: the white tuna stays unknown to memory
            {"tag": "in/full", "steps": [{"action": "put white tuna in fridge", "reward": 1.0}]}]  # fmt: skip
    episodes.write_text("\n".join(json.dumps(r) for r in rows) + "\n{torn by a crash")
    out = tmp_path / "coverage.json"
    assert placement_coverage.main([str(episodes), "--seeds", "500-502", "--out", str(out)]) == 0
    assert "3 gold placements; memory from 2 placings" in capsys.readouterr().out
    found = {row["seed"]: row["memory"] for row in json.loads(out.read_text())["rows"]}
    # seed 500: the white tuna goes where the chicken leg went (the kitchen has no shelf); 501: the black pepper
    # on the pantry's shelf, where the onion went; 502: the white onion, placed in training
    assert found == {500: "likeness right", 501: "likeness right", 502: "exact"}
    guesses = {row["seed"]: (row.get("guess"), row.get("cosine")) for row in json.loads(out.read_text())["rows"]}
    assert guesses[500][0] == "put white tuna in fridge" and 0 < guesses[500][1] <= 1  # the chicken leg's cosine
    assert guesses[502] == (None, None)
    with pytest.raises(SystemExit):
        placement_coverage.main([str(tmp_path / "missing.jsonl")])
    assert "give a bench's memory directory or its episodes.jsonl" in capsys.readouterr().err


def test_the_bank_is_read_by_the_rule_the_agent_retrieves_with(tmp_path: Path) -> None:
    facts = [("take chicken leg", 1.0), ("put chicken leg in fridge", 1.0), ("put white onion in counter", -1.0),
             ("put white onion in shelf", 1.0), ("put black pepper in shelf", 1.0), ("put black pepper in shelf", -1.0)]
    with MemoryBank(MemoryConfig(path=tmp_path / "memory")) as bank:
        bank.insert_many([MemoryInput(text=f"{a} → {'earned' if r > 0 else 'lost'} points", kind=MemoryKind.FACT,
                                      namespace="env:twx-twc", meta={"action": a, "reward": r}) for a, r in facts])
        bank.insert_many([MemoryInput(text="put white tuna in fridge → earned points", kind=MemoryKind.FACT,
                                      namespace="env:twx-cookingworld",
                                      meta={"action": "put white tuna in fridge", "reward": 1.0})])  # fmt: skip
    # a placing that also lost (the black pepper) is not earned; another environment's facts are not read
    assert placement_coverage.bank_placings(tmp_path / "memory", "twx-twc") == {
        "put chicken leg in fridge", "put white onion in shelf"}  # fmt: skip
    out = tmp_path / "coverage.json"
    assert placement_coverage.main([str(tmp_path / "memory"), "--seeds", "500-502", "--out", str(out)]) == 0
    found = {row["seed"]: row["memory"] for row in json.loads(out.read_text())["rows"]}
    # 501: the black pepper's placing earned and lost in training: not known exactly, only by likeness
    assert found == {500: "likeness right", 501: "likeness right", 502: "exact"}
