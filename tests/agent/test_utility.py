"""Memory utility: paired comparisons with the no-memory agent, the sign test, and the bank's credit."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.bench.statistics import paired_table, paired_with_none, sign_test
from agent.core.trajectory import Episode
from agent.learning.credit import credit
from memory import MemoryBank, MemoryConfig, MemoryKind
from tests.memory.fakes import hash_embed


def ep(seed: int, success: bool, score: float | None = None) -> Episode:
    return Episode(env_id="x", split="test", seed=seed, task_type="t", task="", first_observation="",
                   success=success, score=float(success) if score is None else score)  # fmt: skip


def test_sign_test_matches_the_exact_binomial() -> None:
    assert sign_test(8, 1) == pytest.approx(2 * (1 + 9) / 512)
    assert sign_test(1, 8) == sign_test(8, 1)
    assert sign_test(0, 0) == 1.0 and sign_test(3, 3) == 1.0
    assert sign_test(10, 0) == pytest.approx(2 / 1024)


def test_paired_with_none_counts_task_by_task() -> None:
    none = [ep(1, False), ep(2, True), ep(3, False, 0.5), ep(4, True)]
    full = [ep(1, True), ep(2, False, 0.5), ep(3, True), ep(4, True), ep(9, True)]  # seed 9: none never played it
    (row,) = paired_with_none({"none": none, "full": full})
    assert (row.name, row.tasks, row.helped, row.hurt, row.both_solved, row.both_failed) == ("full", 4, 2, 1, 1, 0)
    assert row.score_delta == pytest.approx((1 - 0 + 0.5 - 1 + 1 - 0.5 + 0) / 4)
    assert row.sign_test_p == pytest.approx(1.0)  # 2 vs 1 is no evidence either way
    assert paired_with_none({"full": full}) == []  # nothing to pair with
    table = paired_table([row.to_dict()], "t")
    assert "| full | 4 | 2 | 1 | 1 | 0 | +0.25 | 1.000 |" in table


def test_a_tiny_p_value_is_not_printed_as_zero() -> None:
    none, full = [ep(s, False) for s in range(17)], [ep(s, True) for s in range(17)]
    (row,) = paired_with_none({"none": none, "full": full})
    assert 0 < row.sign_test_p < 1e-4
    assert "| full | 17 | 17 | 0 | 0 | 0 | +1.00 | <0.001 |" in paired_table([row.to_dict()], "t")


def test_credit_names_useful_and_useless_memories(tmp_path: Path) -> None:
    with MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=hash_embed) as bank:
        good = bank.insert("put the milk in the fridge: accepted", MemoryKind.FACT, "env:x")
        bad = bank.insert("put the milk in the oven: accepted", MemoryKind.FACT, "env:x")
        bank.insert("a solved game", MemoryKind.EXPERIENCE, "env:x")  # never retrieved: not credited
        for outcome in (1.0, 1.0, 0.5):
            bank.feedback([good], outcome)
        for outcome in (0.0, 0.0):
            bank.feedback([bad], outcome)
        report = credit(bank, "env:x")
    assert report["kinds"]["fact"] == {"memories": 2, "credited": 2, "uses": 5,
                                       "mean_utility": round(((2.5 + 1) / 5 + 1 / 4) / 2, 3)}  # fmt: skip
    assert report["kinds"]["experience"]["credited"] == 0 and report["kinds"]["experience"]["mean_utility"] is None
    assert [r["id"] for r in report["most_useful"]] == [good, bad]
    assert report["least_useful"][0]["id"] == bad and report["least_useful"][0]["uses"] == 2
