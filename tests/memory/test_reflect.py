"""Reflection with a scripted fake model: provenance, ExpeL operations, bad output never loses data."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory import MemoryBank, MemoryConfig, MemoryInput, MemoryKind, MemoryStatus, reflect
from tests.fakes import ScriptExhausted
from tests.memory.fakes import BadOutput, ScriptedJsonLLM, hash_embed

EXPERIENCES = [
    ("put blender on counter -> accepted, score 1", "ep-1", 1.0),
    ("put blender in fridge -> nothing happened, score 0", "ep-2", 0.0),
    ("open fridge, take milk, put milk in fridge -> accepted", "ep-3", 1.0),
]


@pytest.fixture
def bank(tmp_path: Path) -> MemoryBank:
    b = MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=hash_embed)
    b.insert_many(
        [MemoryInput(text=t, namespace="env:twc", episode_id=ep, source_ids=(ep,), meta={"outcome": o})
         for t, ep, o in EXPERIENCES]
    )  # fmt: skip
    yield b
    b.close()


def _lessons() -> dict:
    return {
        "reflections": [
            {"text": "The blender belongs on the counter, not in the fridge", "evidence": ["E1", "E2"]},
            {"text": "Read the instructions carefully before acting", "evidence": ["E1"]},  # generic: rejected
            {"text": "Milk goes back into the fridge", "evidence": []},  # no evidence: rejected
        ],
        "facts": [{"text": "putting the blender on the counter was accepted", "evidence": ["E1"]}],
    }


def test_reflect_writes_grounded_memories_with_provenance(bank: MemoryBank) -> None:
    llm = ScriptedJsonLLM(
        [
            _lessons(),
            {"operations": [{"op": "ADD", "text": "put the blender on the counter", "evidence": ["E1", "E2"]}]},
            {"summary": "Placed kitchen items: the blender on the counter worked, the fridge did not.",
             "evidence": ["E1", "E2", "E3"]},
        ]
    )  # fmt: skip
    report = reflect(bank, llm, namespace="env:twc")
    assert report.failures == 0 and report.experiences_reflected == 3 and report.batches == 1
    assert len(report.reflections) == 1 and len(report.facts) == 1 and len(report.summaries) == 1
    assert len(report.insights_added) == 1 and len(report.rejected) == 2
    exp_ids = [r.id for r in sorted(bank.memories(kinds=["experience"]), key=lambda r: r.created_at)]
    reflection = bank.get(report.reflections[0])
    assert reflection.kind is MemoryKind.REFLECTION
    assert set(reflection.derived_from) == set(exp_ids[:2]) and set(reflection.source_ids) == {"ep-1", "ep-2"}
    fact = bank.get(report.facts[0])
    assert fact.kind is MemoryKind.FACT and fact.derived_from == (exp_ids[0],) and fact.episode_id == "ep-1"
    assert set(bank.get(report.summaries[0]).derived_from) == set(exp_ids)
    insight = bank.get(report.insights_added[0])
    assert insight.votes == 2 and set(insight.derived_from) == set(exp_ids[:2])
    assert all(h.actor == "reflect" for h in bank.history(insight.id))
    # prompts are grounded: experiences are labelled, outcomes shown, the schema sent along
    assert "E1: put blender on counter" in llm.prompts[0] and "(outcome: 1.0)" in llm.prompts[0]
    assert "operations" in llm.calls[1][1]["properties"]
    assert bank.stats()["unreflected_experiences"] == 0
    assert reflect(bank, ScriptedJsonLLM([]), namespace="env:twc").batches == 0  # nothing left to do


def test_malformed_output_keeps_experiences_and_raw_text(bank: MemoryBank) -> None:
    llm = ScriptedJsonLLM([BadOutput("{not json"), ValueError("timeout"), {"reflections": "oops"}])
    report = reflect(bank, llm, namespace="env:twc", steps=["lessons"], retries=1)
    assert report.failures == 1 and report.experiences_reflected == 0
    failures = bank.ledger.failures()
    assert [f["raw"] for f in failures][0] == "{not json" and len(failures) == 2
    assert len(failures[0]["experience_ids"]) == 3
    assert bank.stats()["unreflected_experiences"] == 3  # nothing lost: tried again next time
    # the third scripted reply is schema-less junk: its items are simply ignored
    report = reflect(bank, llm, namespace="env:twc", steps=["lessons"], retries=0)
    assert report.failures == 1 and report.experiences_reflected == 0
    good = ScriptedJsonLLM([_lessons()])
    report = reflect(bank, good, namespace="env:twc", steps=["lessons"])
    assert report.experiences_reflected == 3 and len(report.reflections) == 1


def test_expel_operations_edit_votes_and_removal(bank: MemoryBank) -> None:
    rule = bank.insert("put the blender in the fridge", MemoryKind.INSIGHT, "env:twc")
    other = bank.insert("take the milk out of the fridge first", MemoryKind.INSIGHT, "env:twc")
    ops = {
        "operations": [
            {"op": "DOWNVOTE", "target": "R1", "evidence": ["E2"]},
            {"op": "DOWNVOTE", "target": "R1", "evidence": ["E2"]},  # same evidence: not counted twice
            {"op": "UPVOTE", "target": "R2", "evidence": ["E3"]},
            {"op": "EDIT", "target": "R2", "text": "take the milk out of the fridge, then put milk back",
             "evidence": ["E3"]},
            {"op": "UPVOTE", "target": "R9", "evidence": ["E1"]},  # unknown rule: rejected
            {"op": "ADD", "text": "put the blender in the fridge", "evidence": ["E1"]},  # exists: support
        ]
    }  # fmt: skip
    llm = ScriptedJsonLLM([ops])
    report = reflect(bank, llm, namespace="env:twc", steps=["insights"])
    assert "R1 (2 votes): put the blender in the fridge" in llm.prompts[0]
    assert report.downvotes == 1 and report.upvotes == 2 and report.insights_edited == [other]
    assert any("unknown target" in r for r in report.rejected)
    assert bank.get(rule).votes == 2  # 2 - 1 + 1
    edited = bank.get(other)
    assert edited.votes == 3 and "put milk back" in edited.text
    # a later batch contradicts the rule twice more: it reaches zero and is archived, not deleted
    bank.insert_many([MemoryInput(text=f"blender in fridge failed again, try {i}", namespace="env:twc")
                      for i in range(2)])  # fmt: skip
    down = {"operations": [{"op": "DOWNVOTE", "target": "R2", "evidence": ["E1"]},
                           {"op": "DOWNVOTE", "target": "R2", "evidence": ["E2"]}]}  # fmt: skip
    report = reflect(bank, ScriptedJsonLLM([down]), namespace="env:twc", steps=["insights"])
    assert report.insights_removed == [rule]
    assert bank.get(rule).status is MemoryStatus.ARCHIVED and bank.restore(rule).status is MemoryStatus.ACTIVE


def test_first_insights_batch_must_propose_rules(bank: MemoryBank) -> None:
    # measured with the 1.5B model: offered "return [] if nothing changes", it wrote no rule from 30 solved games
    add = {"operations": [{"op": "ADD", "text": "put the blender on the counter", "evidence": ["E1"]}]}
    llm = ScriptedJsonLLM([add, {"operations": []}])
    report = reflect(bank, llm, namespace="env:twc", steps=["insights"], batch_size=2)
    first, later = llm.calls[0][1]["properties"]["operations"], llm.calls[1][1]["properties"]["operations"]
    assert first["minItems"] == 1 and first["maxItems"] == 5 and first["items"]["properties"]["op"]["enum"] == ["ADD"]
    assert "There are no rules yet" in llm.prompts[0] and "nothing changes" not in llm.prompts[0]
    # once a rule exists, every operation is allowed again, including none at all
    assert "minItems" not in later and set(later["items"]["properties"]["op"]["enum"]) == {"ADD", "EDIT", "UPVOTE",
                                                                                            "DOWNVOTE"}  # fmt: skip
    assert "R1 (2 votes): put the blender on the counter" in llm.prompts[1] and "nothing changes" in llm.prompts[1]
    assert len(report.insights_added) == 1 and report.experiences_reflected == 3


def test_again_reflects_on_experiences_reflected_before(bank: MemoryBank) -> None:
    add = {"operations": [{"op": "ADD", "text": "put the blender on the counter", "evidence": ["E1"]}]}
    assert reflect(bank, ScriptedJsonLLM([add]), namespace="env:twc", steps=["insights"]).experiences_reflected == 3
    assert reflect(bank, ScriptedJsonLLM([]), namespace="env:twc", steps=["insights"]).batches == 0
    up = {"operations": [{"op": "UPVOTE", "target": "R1", "evidence": ["E3"]}]}
    report = reflect(bank, ScriptedJsonLLM([up]), namespace="env:twc", steps=["insights"], again=True)
    assert report.batches == 1 and report.experiences_reflected == 3 and report.upvotes == 1


def test_user_namespace_facts_become_profile(tmp_path: Path) -> None:
    bank = MemoryBank(MemoryConfig(path=tmp_path / "b"), embed=hash_embed)
    bank.insert_many([MemoryInput(text="Alice: I moved to Lyon last spring", namespace="user:alice"),
                      MemoryInput(text="Alice: I teach piano on weekends", namespace="user:alice")])  # fmt: skip
    llm = ScriptedJsonLLM([{"reflections": [], "facts": [
        {"text": "Alice moved to Lyon last spring", "evidence": ["E1"]},
        {"text": "Alice teaches piano on weekends", "evidence": ["e2"]}]}])  # fmt: skip
    report = reflect(bank, llm, namespace="user:alice", steps=["lessons"])
    assert "about the user" in llm.prompts[0]
    kinds = {bank.get(m).kind for m in report.facts}
    assert kinds == {MemoryKind.PROFILE} and len(report.facts) == 2
    bank.close()


def test_the_fake_fails_loudly_when_exhausted(bank: MemoryBank) -> None:
    with pytest.raises(ScriptExhausted):
        reflect(bank, ScriptedJsonLLM([]), namespace="env:twc")


def test_a_callers_check_refuses_what_it_names(bank: MemoryBank) -> None:
    def no_fridge(text: str, evidence: object) -> str | None:
        assert isinstance(evidence, list) and all(r.kind is MemoryKind.EXPERIENCE for r in evidence)
        return "mentions the fridge" if "fridge" in text else None

    ops = {"operations": [{"op": "ADD", "text": "put the blender in the fridge", "evidence": ["E2"]},
                          {"op": "ADD", "text": "put the blender on the counter", "evidence": ["E1"]}]}  # fmt: skip
    lessons = {"reflections": [{"text": "milk goes back into the fridge", "evidence": ["E3"]}],
               "facts": [{"text": "putting the blender on the counter was accepted", "evidence": ["E1"]}]}  # fmt: skip
    report = reflect(bank, ScriptedJsonLLM([lessons, ops]), namespace="env:twc", steps=["lessons", "insights"],
                     check=no_fridge)  # fmt: skip
    assert report.reflections == [] and len(report.facts) == 1 and len(report.insights_added) == 1
    assert [bank.get(i).text for i in report.insights_added] == ["put the blender on the counter"]
    refused = [r for r in report.rejected if "mentions the fridge" in r]
    assert len(refused) == 2 and any(r.startswith("reflection:") for r in refused)
    assert any(r.startswith("insight ADD:") for r in refused)
    assert report.experiences_reflected == 3  # a refused item is not a failed step


def test_a_rule_cites_the_episodes_its_evidence_came_from(tmp_path: Path) -> None:
    with MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=hash_embed) as bank:
        bank.insert("took the knife and sliced the apple: won", namespace="env:twc", episode_id="ep-7",
                    source_ids=("train:seed3",))  # fmt: skip
        rule = {"op": "ADD", "text": "take the knife before you slice the apple", "evidence": ["E1"]}
        report = reflect(bank, ScriptedJsonLLM([{"operations": [rule]}]), namespace="env:twc", steps=["insights"])
        added = bank.get(report.insights_added[0])
        assert added.source_ids == ("train:seed3", "ep-7") and added.meta["origin"] == "reflection"


def test_an_item_cites_the_steps_of_its_evidence_it_stands_on(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agent.cli.memory_cmd import memory_app

    trajectory = "Start: a kitchen with a counter\nSolved: open fridge -> take apple -> take knife -> slice apple (won)"
    with MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=hash_embed) as bank:
        exp = bank.insert(trajectory, namespace="env:twc", episode_id="ep-7")
        other = bank.insert("Start: a bedroom\nSolved: take sock -> put sock in basket (won)", namespace="env:twc")
        rule = {"op": "ADD", "text": "take the knife before you slice", "evidence": ["E1", "E2"]}
        report = reflect(bank, ScriptedJsonLLM([{"operations": [rule]}]), namespace="env:twc", steps=["insights"],
                         gate=True)  # fmt: skip
        added = bank.get(report.insights_added[0])
    # the parts: 1 the start line, 2 "Solved: open fridge", 3 take apple, 4 take knife, 5 slice apple (won)
    assert added.meta["cites"] == f"{exp}#3,{exp}#4,{exp}#5,{other}#2"
    shown = CliRunner().invoke(memory_app, ["show", added.id, "--memory-dir", str(tmp_path / "bank")])
    assert f"stands on part 4 of {exp}: take knife" in shown.output, shown.output
