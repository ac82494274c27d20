"""Rules checked against the actions of their evidence (agent/grounding.py)."""

from __future__ import annotations

from agent.grounding import check_rule, evidence_actions, untaken_action
from memory.base import MemoryKind, MemoryRecord

ACTIONS = ["take knife", "open fridge", "take red potato from fridge", "slice red potato with knife",
           "cook red potato with stove", "put red potato in counter", "eat meal"]  # fmt: skip


def test_a_verb_and_thing_never_taken_together_are_named() -> None:
    assert untaken_action("When you are in the kitchen and you see a stove, take the stove.", ACTIONS) == "take stove"
    assert untaken_action("Eat the red potato when you are hungry", ACTIONS) == "eat red potato"
    # a later mention is found too, not only the first use of the verb
    assert untaken_action("take the knife first, then take the stove", ACTIONS) == "take stove"


def test_actions_the_evidence_took_or_words_it_never_used_pass() -> None:
    assert untaken_action("take the knife before you slice the red potato", ACTIONS) is None
    assert untaken_action("cook the red potato with the stove, then put it in the counter", ACTIONS) is None
    assert untaken_action("open the fridge to find ingredients", ACTIONS) is None
    assert untaken_action("grab the stove", ACTIONS) is None  # a verb the evidence never used: maybe a paraphrase
    assert untaken_action("take the oven", ACTIONS) is None  # a thing it never used
    assert untaken_action("take the stove", []) is None


def _record(meta: dict[str, object]) -> MemoryRecord:
    return MemoryRecord(
        id="m", kind=MemoryKind.EXPERIENCE, namespace="env:x", text="t", created_at=0.0, updated_at=0.0, meta=meta
    )


def test_check_rule_reads_the_actions_of_experiences_and_facts() -> None:
    evidence = [_record({"actions": "take knife -> cook red potato with stove"}), _record({"action": "Open Fridge"})]
    assert evidence_actions(evidence) == ["take knife", "cook red potato with stove", "open fridge"]
    reason = check_rule("take the stove", evidence)
    assert reason is not None and "'take stove'" in reason and "never took" in reason
    assert check_rule("open the fridge, then take the knife", evidence) is None
