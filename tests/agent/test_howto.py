"""How-to facts: what a reply says an action did, applied where a game's instructions ask for it (pure logic,
then real cookingworld games into a real bank: embedded Chroma, ledger and MiniLM embedder)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

import envs
from agent.core.episode import replay_actions
from agent.core.state import ActorState
from agent.core.trajectory import StepRecord
from agent.families.textworld.howto import HowTo, apply, how_done, instructed_objects, template_of
from agent.families.textworld.plugin import TextWorld
from agent.families.textworld.recalled import recalled
from agent.learning.experience import experience_inputs
from agent.learning.recall import retrieve_context
from agent.text import action_object
from memory import MemoryBank, MemoryConfig, MemoryKind
from tests.conftest import Embed
from tests.fakes import ScriptedChatModel, memory_actor

TW = TextWorld()
recall = functools.partial(retrieve_context, family=TW)
"""Recall with the TextWorld plug-in."""

NS = "env:twx-cookingworld"
RECIPE = ("Gather all following ingredients and follow the directions to prepare this tasty meal.\n\n"
          "Ingredients:\n  red potato\n\n"
          "Directions:\n  slice the red potato\n  fry the red potato\n  prepare meal")


@pytest.mark.parametrize(("action", "obj", "template"), [
    ("cook pork chop in toaster", "pork chop", "cook {} in toaster"),
    ("pick up seed", "seed", "pick up {}"),
    ("move seed to flower pot", "seed", "move {} to flower pot"),
    ("slice red potato", "red potato", "slice {}"),
    ("look around", "", ""),
])  # fmt: skip
def test_an_actions_object_and_template(action: str, obj: str, template: str) -> None:
    assert action_object(action) == obj
    assert template_of(action) == template


def test_the_reply_names_what_an_action_did() -> None:
    assert how_done("cook pork chop in toaster", "You grill the pork chop with the toaster.") == "grill"
    assert how_done("take milk", "You take the milk.") == "take"
    assert how_done("open fridge", "You open the fridge. The fridge contains a raw chicken wing.") == "open"
    assert how_done("take milk", "That is not something you can take.") == ""


def test_only_a_line_that_is_just_the_instruction_instructs() -> None:
    assert instructed_objects("fry", RECIPE) == ["red potato"]
    assert instructed_objects("slice", RECIPE) == ["red potato"]
    assert instructed_objects("grill", RECIPE) == []
    # a reply naming the same verb and object is not an instruction
    assert instructed_objects("take", "You take the red potato.") == []
    assert instructed_objects("fry", "- Fry the red potato.\n1. dice the carrot") == ["red potato"]


def how(mid: str, verb: str, template: str, processing: bool = True) -> HowTo:
    return HowTo(mid, verb, template, f"You {verb} the thing.", processing)


FACTS = [how("g", "grill", "cook {} in toaster"), how("r", "roast", "cook {} in oven"),
         how("f", "fry", "cook {} in stove"), how("s", "slice", "slice {}"), how("d", "dice", "dice {}"),
         how("t", "take", "take {}", processing=False)]


def test_instructions_pick_the_way_and_rule_out_the_other_ways_of_processing() -> None:
    applied = apply(FACTS, f"You are in the kitchen.\n{RECIPE}")
    assert applied.asked == {"slice red potato", "cook red potato in stove"}
    assert applied.unasked == {"cook red potato in toaster", "cook red potato in oven", "dice red potato"}
    line = '"fry the red potato" is done by: cook red potato in stove (an earlier game said "You fry the thing.")'
    assert line in applied.lines
    assert set(applied.memory_ids) == {"g", "r", "f", "s", "d"}  # taking is no way of processing: never against
    # nothing instructed, nothing applies (the start of a game, or a game without instruction lines)
    assert apply(FACTS, "You are in the kitchen. You take the red potato.") == type(applied)()


def test_real_recipes_teach_which_appliance_and_cut_a_new_recipe_asks_for(tmp_path: Path, embed: Embed) -> None:
    # seeds 14, 16, 18: slice+grill (toaster), dice+fry (stove), chop+roast (oven); seed 33 asks to dice and fry
    # a purple potato, an ingredient none of them had
    with envs.make("twx-cookingworld", split="train", preset="easy") as env, \
            MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=embed) as bank:  # fmt: skip
        for seed in (14, 16, 18):
            episode = replay_actions(env, seed)
            assert episode.success
            bank.insert_many(experience_inputs(episode, NS, corrected=True, family=TW))
        played = replay_actions(env, 33, ["take cookbook", "read cookbook", "open kitchen cupboard", "take knife"])
        seen = "\n".join([played.first_observation, *(s.observation for s in played.steps)])
        start = recall(bank, task=played.task, observation=played.first_observation, namespace=NS,
                                 kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        assert not any("is done by" in f for f in start.facts)  # the recipe is not read yet
        context = recall(bank, task=played.task, observation=played.steps[1].observation, seen=seen,
                                   namespace=NS, kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        assert {"dice purple potato", "cook purple potato in stove"} <= context.rewarded_actions
        assert {"cook purple potato in oven", "cook purple potato in toaster", "slice purple potato",
                "chop purple potato"} <= context.penalised_actions  # fmt: skip
        # taking, preparing, eating: no instruction line asked for them ("Adding the meal to your inventory."
        # is a reply), so they are no ways of processing
        assert not any(a.startswith(("take", "prepare", "eat")) for a in context.penalised_actions)
        assert context.facts[0].startswith('"dice the purple potato" is done by: dice purple potato')
        assert '"fry the purple potato" is done by: cook purple potato in stove' in " ".join(context.facts)
        # without how-tos (an older bench resumed as it ran), memory knows nothing about a purple potato
        plain = recall(bank, task=played.task, observation=played.steps[1].observation, seen=seen, namespace=NS,
                       kinds=(MemoryKind.FACT,), record=False, switches={"howtos": False})  # fmt: skip
        assert not plain.rewarded_actions & {"dice purple potato", "cook purple potato in stove"}
        # holding the potato, the actor is offered the stove and not the other appliances
        result = env.step("take purple potato")
        assert result.reward > 0
        played.steps.append(StepRecord("take purple potato", result.observation, reward=result.reward))
        state = ActorState(task=played.task, first_observation=played.first_observation, observation=result.observation,
                           valid_actions=result.valid_actions, history=played.steps, context=context)  # fmt: skip
        offered = memory_actor(ScriptedChatModel()).options(state)
        assert "cook purple potato in stove" in offered and "dice purple potato" in offered
        hidden = {"cook purple potato in oven", "cook purple potato in toaster"}
        assert hidden <= set(result.valid_actions) and not hidden & set(offered)


def test_a_game_lost_in_the_wrong_appliance_still_teaches_what_that_appliance_does(
    tmp_path: Path, embed: Embed
) -> None:
    # seed 0 asks to grill; the oven roasts the chicken wing and ends the game. Seed 18 asks to roast.
    with envs.make("twx-cookingworld", split="train", preset="easy") as env, \
            MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=embed) as bank:  # fmt: skip
        lost = replay_actions(env, 0, ["take cookbook", "read cookbook", "open fridge", "take chicken wing",
                                     "cook chicken wing in oven"])  # fmt: skip
        assert lost.stop_reason == "terminated" and not lost.success
        bank.insert_many(experience_inputs(lost, NS, family=TW))
        roast = replay_actions(env, 18, ["take cookbook", "read cookbook"])
        seen = "\n".join([roast.first_observation, *(s.observation for s in roast.steps)])
        context = recall(bank, task=roast.task, observation=roast.steps[-1].observation, seen=seen,
                                   namespace=NS, kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        assert "cook yellow potato in oven" in context.rewarded_actions
        assert '"roast the yellow potato" is done by: cook yellow potato in oven' in " ".join(context.facts)


def test_how_an_ingredient_was_cooked_before_is_no_reason_to_cook_it_so_again(tmp_path: Path, embed: Embed) -> None:
    # seed 13 fried a red hot pepper (stove); seed 502 asks to grill one (toaster). Nothing says how to cook it
    # before the recipe is read, nor after, where the stove fries, which is not asked (in a probe a fact about
    # the same pepper first forced the stove, then, only shown, led the model to it: the game was lost)
    with envs.make("twx-cookingworld", split="train", preset="easy") as env, \
            MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=embed) as bank:  # fmt: skip
        bank.insert_many(experience_inputs(replay_actions(env, 13), NS, corrected=True, family=TW))
        grill = replay_actions(env, 502, ["take cookbook", "read cookbook"])
        assert "red hot pepper" in grill.first_observation and "grill the red hot pepper" in grill.steps[1].observation
        start = recall(bank, task=grill.task, observation=grill.first_observation, namespace=NS,
                                 kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        assert "take red hot pepper" in start.rewarded_actions  # taking is no way of processing
        assert "cook red hot pepper in stove" not in start.rewarded_actions
        assert not any(f.startswith("cook red hot pepper") for f in start.facts)  # not even shown: it misled
        assert any(f.startswith("take red hot pepper → earned points") for f in start.facts)
        seen = "\n".join([grill.first_observation, *(s.observation for s in grill.steps)])
        read = recall(bank, task=grill.task, observation=grill.steps[1].observation, seen=seen,
                                namespace=NS, kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        assert "cook red hot pepper in stove" in read.penalised_actions  # fries; the recipe says grill
        assert "cook red hot pepper in toaster" not in read.rewarded_actions  # grilling was never seen
        old = recall(bank, task=grill.task, observation=grill.first_observation, namespace=NS,
                               kinds=(MemoryKind.FACT,), record=False, switches={"howtos": False})  # fmt: skip
        assert "cook red hot pepper in stove" in old.rewarded_actions  # as before how-to facts


def test_processing_waits_for_the_instruction_that_names_the_object(tmp_path: Path, embed: Embed) -> None:
    # memory knows the three appliances (seeds 13, 14, 18); seed 502 asks to slice and grill a red hot pepper.
    # Holding the pepper before reading the recipe, no cooking is offered (in a probe the 1.5B model cooked it
    # in the oven at once and lost); after reading it, the toaster is
    with envs.make("twx-cookingworld", split="train", preset="easy") as env, \
            MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=embed) as bank:  # fmt: skip
        for seed in (13, 14, 18):
            bank.insert_many(experience_inputs(replay_actions(env, seed), NS, corrected=True, family=TW))
        played = replay_actions(env, 502, ["take red hot pepper"])
        assert played.steps[0].reward > 0
        context = recall(bank, task=played.task, observation=played.first_observation, namespace=NS,
                                   kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        assert set(recalled(context).waiting_templates) >= {"cook {} in toaster", "cook {} in stove", "cook {} in oven"}
        state = ActorState(task=played.task, first_observation=played.first_observation,
                           observation=played.steps[0].observation, valid_actions=env.step("look around").valid_actions,
                           history=played.steps, context=context)  # fmt: skip
        offered = memory_actor(ScriptedChatModel()).options(state)
        assert "cook red hot pepper in oven" in state.valid_actions and not any(a.startswith("cook") for a in offered)
        result = env.step("read cookbook")
        seen = "\n".join([played.first_observation, played.steps[0].observation, result.observation])
        read = recall(bank, task=played.task, observation=result.observation, seen=seen, namespace=NS,
                                kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        offered = memory_actor(ScriptedChatModel()).options(
            ActorState(task=played.task, first_observation=played.first_observation, observation=result.observation,
                       valid_actions=result.valid_actions, history=played.steps, context=read))  # fmt: skip
        assert [a for a in offered if a.startswith("cook")] == ["cook red hot pepper in toaster"]
        # without memory everything stays offered
        bare = ActorState(task=played.task, first_observation=played.first_observation,
                          observation=result.observation, valid_actions=result.valid_actions)  # fmt: skip
        assert "cook red hot pepper in oven" in memory_actor(ScriptedChatModel()).options(bare)


def test_a_real_win_keeps_the_knife_and_a_new_game_does_not_let_go_of_it(tmp_path: Path, embed: Embed) -> None:
    # seed 500's gold path takes the knife (no points, no action names it) and slices the banana with it
    with envs.make("twx-cookingworld", split="train", preset="easy") as env, \
            MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=embed) as bank:  # fmt: skip
        bank.insert_many(experience_inputs(replay_actions(env, 500), NS, corrected=True, family=TW))
        played = replay_actions(env, 503, ["open cutlery drawer", "take knife"])
        seen = "\n".join([played.first_observation, *(s.observation for s in played.steps)])
        context = recall(bank, task=played.task, observation=played.steps[0].observation, seen=seen,
                                   namespace=NS, kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        assert "knife" in recalled(context).kept_objects and "take knife" in context.rewarded_actions
        assert "take knife → kept until the game was won" in context.facts
        before = recall(bank, task=played.task, observation=played.first_observation, namespace=NS,
                                  kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        # the knife was in the closed drawer when memory was last retrieved: the fact is not shown, yet the knife
        # is kept once taken (the bench's training lost games putting down a knife found after the last retrieval)
        assert "knife" in recalled(before).kept_objects
        assert "take knife → kept until the game was won" not in before.facts
        early = ActorState(task=played.task, first_observation=played.first_observation,
                           observation=played.steps[-1].observation, valid_actions=env.step("inventory").valid_actions,
                           history=played.steps, context=before)  # fmt: skip
        assert "put knife in counter" not in memory_actor(ScriptedChatModel()).options(early)
        valid = env.step("inventory").valid_actions
        state = ActorState(task=played.task, first_observation=played.first_observation,
                           observation=played.steps[-1].observation, valid_actions=valid, history=played.steps,
                           context=context)  # fmt: skip
        offered = memory_actor(ScriptedChatModel()).options(state)
        assert "put knife in counter" in state.valid_actions and "put knife in counter" not in offered
        assert "take cookbook" in offered
        off = recall(bank, task=played.task, observation=played.steps[0].observation, seen=seen, namespace=NS,
                     kinds=(MemoryKind.FACT,), record=False, switches={"kept": False})  # fmt: skip
        assert not recalled(off).kept_objects and "take knife" not in off.rewarded_actions
        assert "put knife in counter" in memory_actor(ScriptedChatModel()).options(
            ActorState(task=played.task, first_observation="", observation="", valid_actions=state.valid_actions,
                       history=played.steps, context=off))  # fmt: skip


def test_where_placing_never_paid_a_rewarded_take_is_not_put_away(tmp_path: Path, embed: Embed) -> None:
    # cookingworld pays for taking the parsley, never for putting it anywhere; the bench's training put it in the
    # trash can. twc pays for taking the shirt and again for putting it in the wardrobe: there placing stays
    with envs.make("twx-cookingworld", split="train", preset="easy") as env, \
            MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=embed) as bank:  # fmt: skip
        bank.insert_many(experience_inputs(replay_actions(env, 500), NS, corrected=True, family=TW))
        played = replay_actions(env, 503)  # the gold path: it takes ingredients, and puts nothing anywhere
        taken = next(i for i, s in enumerate(played.steps) if s.action.startswith("take ") and s.reward > 0)
        thing = played.steps[taken].action.removeprefix("take ").split(" from ")[0]
        history = played.steps[: taken + 1]
        context = recall(bank, task=played.task, observation=played.first_observation, namespace=NS,
                                   kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        assert recalled(context).takes_are_kept
        puts = [f"put {thing} in fridge", f"put {thing} in counter", f"drop {thing}"]
        state = ActorState(task=played.task, first_observation=played.first_observation, observation="",
                           valid_actions=[*puts, "open fridge"], history=history, context=context)  # fmt: skip
        assert memory_actor(ScriptedChatModel()).options(state) == ["open fridge"]
        bare = ActorState(task=played.task, first_observation="", observation="",
                          valid_actions=[*puts, "open fridge"], history=history)  # fmt: skip
        assert memory_actor(ScriptedChatModel()).options(bare) == [*puts, "open fridge"]  # without memory: no such rule
    with envs.make("twx-twc", split="train", preset="easy") as twc, \
            MemoryBank(MemoryConfig(path=tmp_path / "twc"), embed=embed) as bank:  # fmt: skip
        bank.insert_many(experience_inputs(replay_actions(twc, 0), "env:twx-twc", corrected=True, family=TW))
        shirt = recall(bank, task="tidy up", observation="a clean brown shirt", namespace="env:twx-twc",
                                 kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        assert not recalled(shirt).takes_are_kept  # "put clean brown shirt in wardrobe" earned points
        assert not recalled(recall(bank, task="t", observation="o", namespace="env:twx-twc",
                                             kinds=(), record=False)).takes_are_kept  # fmt: skip


def test_what_memory_only_saw_earn_is_tagged_when_offered_even_out_of_view(tmp_path: Path, embed: Embed) -> None:
    # the meal exists only once prepared, after the last retrieval: the bench's training prepared it and never ate
    # it. What the recipe decides (slicing, cooking an ingredient) and what ever lost stay untagged out of view
    with envs.make("twx-cookingworld", split="train", preset="easy") as env, \
            MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=embed) as bank:  # fmt: skip
        won = replay_actions(env, 500)
        bank.insert_many(experience_inputs(won, NS, corrected=True, family=TW))
        lost = replay_actions(env, 503, ["take cookbook", "read cookbook", "open cutlery drawer", "take knife",
                                         "take banana", "eat banana"])  # fmt: skip
        assert lost.stop_reason == "terminated" and not lost.success
        bank.insert_many(experience_inputs(lost, NS, family=TW))
        context = recall(bank, task=won.task, observation="You are in the kitchen.", namespace=NS,
                                   kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        assert {"prepare meal", "eat meal"} <= context.rewarded_actions
        assert "eat banana" not in context.rewarded_actions  # it ended a game
        processing = [s.action for s in won.steps if s.action.startswith(("slice", "chop", "dice", "cook"))]
        assert processing and not set(processing) & context.rewarded_actions
        assert not recall(bank, task=won.task, observation="You are in the kitchen.", namespace=NS,
                                    kinds=(MemoryKind.EXPERIENCE,), record=False).rewarded_actions  # fmt: skip
