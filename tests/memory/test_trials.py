"""The gate's ledger (memory.trials): candidates are not retrieved until a paired trial admits them; trials decide
status and utility, are kept, shown and survive reopening; bad trials are refused whole."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from memory import MemoryBank, MemoryConfig, MemoryInput, MemoryKind, MemoryStatus, MemoryUsageError, reflect
from memory.trials import ADMITTED, DEMOTED, HELPED, HURT, KEPT, NO_DIFFERENCE, REFUSED, REVISES, Outcome, compare
from tests.memory.fakes import ScriptedJsonLLM, hash_embed

NS = "env:twc"
WON, LOST = Outcome(True, 1.0, 5), Outcome(False, 0.5, 30)


@pytest.fixture
def bank(tmp_path: Path) -> MemoryBank:
    b = MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=hash_embed)
    yield b
    b.close()


def _candidate(bank: MemoryBank, text: str = "put the blender on the counter first") -> str:
    return bank.insert_many([MemoryInput(text=text, kind=MemoryKind.INSIGHT, namespace=NS, candidate=True)])[0]


def _found(bank: MemoryBank, query: str) -> list[str]:
    return [h.id for h in bank.retrieve(query, k=5, kinds=[MemoryKind.INSIGHT], namespace=NS, record=False)]


def test_compare_goes_seed_by_seed() -> None:
    assert compare([WON, LOST], [LOST, LOST]) == (HELPED, [1.0, 0.5])
    assert compare([WON, LOST], [LOST, WON]) == (NO_DIFFERENCE, [1.0, 0.0])
    assert compare([LOST], [WON]) == (HURT, [0.0])
    # the same win in fewer steps is better; a loss's step count says nothing
    assert compare([Outcome(True, 1.0, 4)], [Outcome(True, 1.0, 9)])[0] == HELPED
    assert compare([Outcome(False, 0.5, 4)], [Outcome(False, 0.5, 30)])[0] == NO_DIFFERENCE


def test_a_candidate_is_retrieved_only_once_a_trial_admits_it(bank: MemoryBank) -> None:
    rule = _candidate(bank)
    assert bank.get(rule).status is MemoryStatus.CANDIDATE and _found(bank, "blender counter") == []
    assert [r.id for r in bank.trials.due(NS, 5)] == [rule]
    trial = bank.trials.record(rule, [3, 4], [WON, LOST], [LOST, LOST], model_calls=40, seconds=12.5)
    assert (trial.decision, trial.verdict, trial.seeds) == (ADMITTED, HELPED, (3, 4))
    record = bank.get(rule)
    assert record.status is MemoryStatus.ACTIVE and record.meta["gate"] == ADMITTED
    assert (record.utility_sum, record.utility_count) == (1.5, 2)  # 1 (better) + 0.5 (same)
    assert _found(bank, "blender counter") == [rule]
    (logged,) = [h for h in bank.history(rule) if h.op == "trial"]
    assert logged.after["decision"] == ADMITTED and logged.after["utility_count"] == 2  # the dashboard's curve


def test_a_rule_that_hurts_is_refused_and_waits_for_new_evidence(bank: MemoryBank) -> None:
    rule = _candidate(bank)
    assert bank.trials.record(rule, [1], [LOST], [WON]).decision == REFUSED
    assert bank.get(rule).status is MemoryStatus.CANDIDATE and bank.get(rule).utility == pytest.approx(1 / 3)
    assert bank.trials.due(NS, 5) == []  # nothing changed since its trial
    bank.vote(rule, +1, ["exp-new"])  # new evidence: tried again
    assert [r.id for r in bank.trials.due(NS, 5)] == [rule]


def test_an_active_rule_that_hurts_later_is_demoted(bank: MemoryBank) -> None:
    rule = bank.insert("take the knife before you slice anything", MemoryKind.INSIGHT, NS)
    assert bank.trials.record(rule, [1, 2], [WON, WON], [WON, WON]).decision == KEPT
    assert bank.trials.record(rule, [5, 6], [LOST, LOST], [WON, LOST]).decision == DEMOTED
    assert bank.get(rule).status is MemoryStatus.CANDIDATE and _found(bank, "knife slice") == []
    assert [t.decision for t in bank.trials.of(rule)] == [KEPT, DEMOTED]


def test_due_puts_changed_candidates_first_then_the_least_recently_tried(bank: MemoryBank) -> None:
    old = bank.insert("open the fridge before taking food", MemoryKind.INSIGHT, NS)
    tried = bank.insert("close the door after you leave", MemoryKind.INSIGHT, NS)
    bank.trials.record(tried, [1], [WON], [WON])
    new = _candidate(bank)
    assert [r.id for r in bank.trials.due(NS, 5)] == [new, old, tried]
    assert [r.id for r in bank.trials.due(NS, 2)] == [new, old]


def test_an_admitted_revision_supersedes_the_rule_it_revises(bank: MemoryBank) -> None:
    rule = bank.insert("take the milk out of the fridge", MemoryKind.INSIGHT, NS)
    bank.insert_many([MemoryInput(text="milk goes in the fridge", namespace=NS, episode_id="ep-1",
                                  source_ids=("ep-1",))])  # fmt: skip
    edit = {"operations": [{"op": "EDIT", "target": "R1", "text": "take the milk out of the fridge, then put it back",
                            "evidence": ["E1"]}]}  # fmt: skip
    report = reflect(bank, ScriptedJsonLLM([edit]), namespace=NS, steps=["insights"], gate=True)
    assert report.insights_edited == [] and len(report.revisions) == 1
    revision = bank.get(report.revisions[0])
    assert revision.status is MemoryStatus.CANDIDATE and revision.meta[REVISES] == rule
    assert "ep-1" in revision.source_ids
    assert bank.get(rule).status is MemoryStatus.ACTIVE  # the old rule serves until the revision passes
    bank.trials.record(revision.id, [1], [WON], [WON])
    assert bank.get(rule).status is MemoryStatus.SUPERSEDED and bank.get(rule).superseded_by == revision.id
    assert bank.get(revision.id).status is MemoryStatus.ACTIVE


def test_gated_reflection_writes_candidates_and_lists_them(bank: MemoryBank) -> None:
    bank.insert_many([MemoryInput(text="put blender on counter -> accepted", namespace=NS)])
    add = {"operations": [{"op": "ADD", "text": "put the blender on the counter", "evidence": ["E1"]}]}
    report = reflect(bank, ScriptedJsonLLM([add]), namespace=NS, steps=["insights"], gate=True)
    (rule,) = report.insights_added
    assert bank.get(rule).status is MemoryStatus.CANDIDATE
    bank.insert_many([MemoryInput(text="the blender stayed on the counter -> accepted", namespace=NS)])
    llm = ScriptedJsonLLM([{"operations": []}])
    reflect(bank, llm, namespace=NS, steps=["insights"], gate=True)
    assert "R1 (2 votes, candidate): put the blender on the counter" in llm.prompts[0]
    # without the gate a rule is active when written
    bank.insert_many([MemoryInput(text="open the fridge -> accepted", namespace=NS)])
    add = {"operations": [{"op": "ADD", "text": "open the fridge when you need food", "evidence": ["E1"]}]}
    report = reflect(bank, ScriptedJsonLLM([add]), namespace=NS, steps=["insights"])
    assert bank.get(report.insights_added[0]).status is MemoryStatus.ACTIVE


@pytest.mark.parametrize(
    ("seeds", "with_rule", "without_rule", "named"),
    [
        ([1, 2], [WON], [WON, WON], "with_rule must hold one outcome per seed"),
        ([], [], [], "at least one seed"),
        ([1], [Outcome(True, 1.5, 3)], [WON], "with_rule[0].score"),
        ([1], [WON], [Outcome(True, 1.0, -1)], "without_rule[0].steps"),
        ([1], [("won", 1.0, 3)], [WON], "must be an Outcome"),
        (["1"], [WON], [WON], "trial seed"),
    ],
)
def test_a_bad_trial_is_refused_whole(bank: MemoryBank, seeds: list, with_rule: list, without_rule: list,
                                      named: str) -> None:  # fmt: skip
    rule = _candidate(bank)
    with pytest.raises(MemoryUsageError, match=re.escape(named)):
        bank.trials.record(rule, seeds, with_rule, without_rule)
    assert bank.trials.of(rule) == [] and bank.get(rule).status is MemoryStatus.CANDIDATE


def test_only_candidates_and_active_rules_are_tried(bank: MemoryBank) -> None:
    rule = _candidate(bank)
    bank.archive([rule], "test")
    with pytest.raises(MemoryUsageError, match="archived"):
        bank.trials.record(rule, [1], [WON], [WON])
    with pytest.raises(MemoryUsageError, match="no memory"):
        bank.trials.record("mem-nope", [1], [WON], [WON])


def test_trials_survive_reopening_and_are_summed(tmp_path: Path) -> None:
    with MemoryBank(MemoryConfig(path=tmp_path / "b"), embed=hash_embed) as bank:
        rule = _candidate(bank)
        bank.trials.record(rule, [7], [WON], [LOST], model_calls=12, seconds=3.0)
    with MemoryBank(MemoryConfig(path=tmp_path / "b"), embed=hash_embed) as bank:
        (trial,) = bank.trials.of(rule)
        assert trial.with_rule == (WON,) and trial.without_rule == (LOST,) and trial.model_calls == 12
        assert bank.trials.summary(NS) == {ADMITTED: 1, REFUSED: 0, KEPT: 0, DEMOTED: 0, "model_calls": 12,
                                           "seconds": 3.0}  # fmt: skip
        assert bank.check().ok


def test_rules_sort_by_what_their_trials_showed(bank: MemoryBank) -> None:
    worse = _candidate(bank, "walk west before anything else")
    better = _candidate(bank, "take the knife before you slice")
    bank.trials.record(worse, [1, 2], [LOST, LOST], [WON, WON])
    bank.trials.record(better, [1, 2], [WON, WON], [LOST, LOST])
    ordered = bank.view.memories([MemoryKind.INSIGHT], NS, None, order="utility")
    assert [r.id for r in ordered] == [better, worse] and ordered[0].utility == pytest.approx(3 / 4)
    assert [r.id for r in bank.view.memories([MemoryKind.INSIGHT], NS, None)] == [better, worse]  # newest first
    with pytest.raises(MemoryUsageError, match="unknown order 'best'"):
        bank.view.memories(order="best")
