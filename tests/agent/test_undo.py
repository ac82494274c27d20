"""Undoing what was earned, told from the valid actions alone: recorded, remembered, predicted, made up for."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

import envs
from agent.core.context import MemoryContext
from agent.core.episode import replay_actions, run_episode
from agent.core.state import ActorConfig, ActorState
from agent.core.trajectory import StepRecord
from agent.core.undo import about_same, predicts, undoing, undone_by
from agent.core.valuation import Value
from agent.learning.experience import experience_inputs
from agent.learning.recall import retrieve_context
from memory import MemoryBank, MemoryConfig, MemoryKind
from tests.fakes import ScriptedChatModel, memory_actor

GENERAL = ActorConfig(families=())
LET_GO = ("take red apple", "put red apple in dishwasher")


def reply(action: str) -> str:
    return json.dumps({"thought": "t", "action": action})


@pytest.mark.parametrize(("offered", "held", "expected"), [
    ("put yellow potato in dishwasher", "take yellow potato", True),  # the same step, another thing
    ("put yellow potato in fridge", "take yellow potato", True),  # and another place
    ("put red apple in fridge", "take red apple", True),  # the same thing, another place
    ("cook yellow potato in stove", "take yellow potato", False),  # another kind of step on it
    ("put knife in dishwasher", "take yellow potato", False),  # not about what is held
    ("eat yellow potato", "take yellow potato", False),
])  # fmt: skip
def test_a_remembered_undoing_step_predicts_alike_ones(offered: str, held: str, expected: bool) -> None:
    assert predicts(offered, held, LET_GO) is expected


def test_leaving_a_place_is_no_undoing_and_a_rewarded_step_undoes_nothing() -> None:
    earned = [StepRecord("go to kitchen", "", reward=1.0)]
    assert not about_same("go to hallway", "go to kitchen")
    assert undone_by("go to hallway", 0.0, ["go to hallway"], ["go to kitchen"], earned) == ()
    took = [StepRecord("take shirt", "", reward=1.0)]
    assert undone_by("put shirt in wardrobe", 0.0, [], ["take shirt"], took) == ("take shirt",)
    assert undone_by("put shirt in basket", 1.0, [], ["take shirt"], took) == ()  # it moved on
    # held back only while the episode holds what was earned (the earned action not valid now)
    assert undoing(["put shirt in drawer"], ["take shirt"], took, [("take shirt", "put shirt in wardrobe")]) == set()
    assert undoing(["put shirt in drawer"], [], took, [("take shirt", "put shirt in wardrobe")]) == {
        "put shirt in drawer"
    }


def test_an_undoing_step_is_recorded_remembered_and_recalled(tmp_path: Path) -> None:
    # cookingworld seed 301 (a development seed): the grilled apple put away is a loss never made up for
    with envs.make("twx-cookingworld", split="train", preset="easy") as cooking:
        episode = replay_actions(cooking, 301, ["take red apple", "cook red apple in toaster", "open dishwasher",
                                                "put red apple in dishwasher", "look around"])  # fmt: skip
    assert [s.undid for s in episode.steps] == [(), (), (), ("take red apple",), ()]
    assert episode.undoing_steps() == {3: "take red apple"}
    facts = [m for m in experience_inputs(episode, "env:t") if m.meta.get("undid")]
    assert [m.text for m in facts] == [
        "put red apple in dishwasher → undid take red apple, which had earned points (nothing was earned after)"
    ]
    won = replay_actions(envs.make("twx-cookingworld", split="train", preset="easy"), 301)
    assert won.success and won.undoing_steps() == {}
    with MemoryBank(MemoryConfig(path=tmp_path / "memory")) as bank:
        bank.insert_many(experience_inputs(episode, "env:t"))
        context = retrieve_context(bank, task=episode.task, observation=episode.first_observation,
                                   namespace="env:t", kinds=[MemoryKind.FACT], record=False)  # fmt: skip
    assert context.undoes == (LET_GO,)
    assert facts[0].text in context.facts


def test_the_general_agent_takes_back_what_it_let_go_and_then_keeps_it() -> None:
    with envs.make("twx-cookingworld", split="train", preset="easy") as cooking:
        fake = ScriptedChatModel().enqueue(*[reply(a) for a in ["take red apple", "cook red apple in toaster",
                                                               "open dishwasher", "put red apple in dishwasher",
                                                               "open fridge", "look around"]])  # fmt: skip
        actor = memory_actor(fake, GENERAL)
        episode = run_episode(cooking, actor, seed=301, max_steps=6)
        actions = [s.action for s in episode.steps]
        assert actions[:6] == ["take red apple", "cook red apple in toaster", "open dishwasher",
                               "put red apple in dishwasher", "take red apple", "open fridge"]  # fmt: skip
        assert episode.steps[4].source == "memory" and episode.counters.memory_actions == 1
        # holding it again, the episode's own undoing step and alike ones are no longer offered
        state = ActorState(task=episode.task, first_observation=episode.first_observation, observation="",
                           valid_actions=["put red apple in fridge", "put red apple in dishwasher", "close fridge"],
                           history=episode.steps)  # fmt: skip
        assert actor.options(state) == ["close fridge"]
        # a remembered pair about another thing does the same before anything was let go
        fresh = [StepRecord("take yellow potato", "", reward=1.0)]
        state = ActorState(task="", first_observation="", observation="", history=fresh,
                           valid_actions=["put yellow potato in fridge", "cook yellow potato in stove"],
                           context=MemoryContext(undoes=(LET_GO,)))  # fmt: skip
        assert actor.options(state) == ["cook yellow potato in stove"]
        # a hint below the value threshold does not keep it on offer; memory valuing it as good does
        hint = replace(state, values={"put yellow potato in fridge": Value(0.3)})
        assert actor.options(hint) == ["cook yellow potato in stove"]
        good = replace(state, values={"put yellow potato in fridge": Value(0.6)})
        assert actor.options(good) == state.valid_actions
        assert memory_actor(fake, ActorConfig(families=(), keep_earned=False)).options(state) == state.valid_actions


def test_taking_back_what_was_let_go_again_is_no_repeat_for_loop_control() -> None:
    # the same reply ("You put the red apple in the dishwasher.") came before both takes; the second is no repeat
    plan = ["take red apple", "cook red apple in toaster", "open dishwasher", "put red apple in dishwasher",
            "take red apple", "put red apple in dishwasher", "take red apple"]  # fmt: skip
    with envs.make("twx-cookingworld", split="train", preset="easy") as cooking:
        fake = ScriptedChatModel().enqueue(*[reply(a) for a in plan])
        config = ActorConfig(families=(), follow_memory=False, keep_earned=False)
        episode = run_episode(cooking, memory_actor(fake, config), seed=301, max_steps=len(plan))
    assert [s.action for s in episode.steps] == plan
    assert episode.counters.loop_overrides == 0
