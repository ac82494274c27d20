"""Rules checked against the actions of their evidence (agent/learning/grounding.py)."""

from __future__ import annotations

from agent.core.trajectory import Episode, StepRecord
from agent.learning.experience import experience_inputs
from agent.learning.grounding import check_rule, evidence_actions, untaken_action
from memory.base import MemoryKind, MemoryRecord

ACTIONS = ["take knife", "open fridge", "take red potato from fridge", "slice red potato with knife",
           "cook red potato with stove", "put red potato in counter", "eat meal"]  # fmt: skip


def test_a_verb_and_thing_never_taken_together_are_named() -> None:
    assert untaken_action("When you are in the kitchen and you see a stove, take the stove.", ACTIONS) == "take stove"
    assert untaken_action("Eat the red potato when you are hungry", ACTIONS) == "eat red potato"
    # a later mention is found too, not only the first use of the verb
    assert untaken_action("take the knife first, then take the stove", ACTIONS) == "take stove"
    # a thing the episodes only saw counts: the rule names it, and no action took it
    seen = {"toaster", "oven", "counter"}
    assert untaken_action("when you see a toaster, take the toaster", ACTIONS, seen) == "take toaster"


def test_actions_the_evidence_took_or_words_it_never_used_pass() -> None:
    assert untaken_action("take the knife before you slice the red potato", ACTIONS) is None
    assert untaken_action("cook the red potato with the stove, then put it in the counter", ACTIONS) is None
    assert untaken_action("open the fridge to find ingredients", ACTIONS) is None
    assert untaken_action("take the potato from the fridge", ACTIONS) is None  # its last word names the object
    assert untaken_action("grab the stove", ACTIONS) is None  # a verb the evidence never used: maybe a paraphrase
    assert untaken_action("take the oven", ACTIONS) is None  # a thing it never mentioned (unseen_thing refuses it)
    assert untaken_action("take it and take them all", ACTIONS) is None  # pronouns name no thing
    assert untaken_action("take the stove", []) is None


def _record(meta: dict[str, object], text: str = "t") -> MemoryRecord:
    return MemoryRecord(
        id="m", kind=MemoryKind.EXPERIENCE, namespace="env:x", text=text, created_at=0.0, updated_at=0.0, meta=meta
    )


def test_check_rule_reads_every_action_and_what_the_episodes_saw() -> None:
    evidence = [
        _record({"taken": "take knife -> cook red potato with stove", "actions": "cook red potato with stove"},
                text="Start: you see a stove and a toaster."),
        _record({"actions": "open fridge"}),  # an experience written before `taken` existed
        _record({"action": "Take Carrot"}),
    ]  # fmt: skip
    assert evidence_actions(evidence) == ["take knife", "cook red potato with stove", "open fridge", "take carrot"]
    reason = check_rule("when you see a toaster, take the toaster", evidence)
    assert reason is not None and "'take toaster'" in reason and "never took" in reason
    assert check_rule("open the fridge, then take the knife", evidence) is None


def test_an_experience_records_every_action_it_took_besides_its_solution() -> None:
    steps = [
        StepRecord(action="take knife", observation="You take the knife."),
        StepRecord(action="dance", observation="Invalid.", invalid=True),
        StepRecord(action="cook red potato with stove", observation="You fry it.", reward=1.0, score=1.0),
    ]
    episode = Episode(env_id="twx-cookingworld", split="train", seed=0, task_type="c", task="cook",
                      first_observation="kitchen", steps=steps, success=True, score=1.0)  # fmt: skip
    (experience,) = [i for i in experience_inputs(episode, "env:x") if i.kind is MemoryKind.EXPERIENCE]
    assert experience.meta["actions"] == "cook red potato with stove"  # the solution, without the knife
    assert experience.meta["taken"] == "take knife -> cook red potato with stove"


def test_a_rule_naming_a_thing_its_evidence_never_saw_is_refused() -> None:
    # twc-100 kept "when you see an oven, take a baking sheet and put it on the oven": no episode saw a baking sheet
    evidence = [
        _record({"taken": "take knife -> cook red potato with stove -> put red potatoes in counter"},
                text="Start: you see an oven, a stove and a counter."),
    ]  # fmt: skip
    reason = check_rule("when you see an oven, take a baking sheet and put it on the oven", evidence)
    assert reason is not None and "'take baking sheet'" in reason and "never saw" in reason
    assert check_rule("put the red potato on the counter before you cook it", evidence) is None  # plural taken
    assert check_rule("cook the red potatoes with the stove", evidence) is None
    assert check_rule("grab a baking sheet", evidence) is None  # a verb it never used: maybe a paraphrase
    assert check_rule("take the knife, then take it to the stove", evidence) is None
