"""The general valuation of offered actions (:mod:`agent.core.valuation`), the policy that acts on it, spent actions
per state, and recall without the TextWorld plug-in: logic with the real embedder, and a real environment and bank."""

from __future__ import annotations

import json
from pathlib import Path

import envs
from agent.core.context import MemoryContext, with_values
from agent.core.episode import replay_actions, run_episode, spent_in
from agent.core.state import ActorConfig, ActorState
from agent.core.trajectory import StepRecord
from agent.core.valuation import ActionValues, Fact, Value, differing_spans, short_lines, words
from agent.families.registry import policies_for
from agent.learning.experience import experience_inputs, namespace_for
from agent.learning.facts import fact_of
from agent.learning.recall import retrieve_context
from agent.policies.valued import FollowValue
from memory import MemoryBank, MemoryConfig, MemoryKind
from tests.conftest import Embed
from tests.fakes import ScriptedChatModel, memory_actor


def test_actions_differ_in_one_span_when_they_share_the_rest() -> None:
    assert differing_spans("cook chicken wing in toaster", "cook pork chop in toaster", structural=True) == (
        "chicken wing", "pork chop")  # fmt: skip
    assert differing_spans("move east", "move west", structural=True) == ("east", "west")
    assert differing_spans("open fridge", "take apple from fridge", structural=True) is None
    assert differing_spans("open fridge", "open fridge", structural=False) is None
    assert differing_spans("eat meal", "drink water", structural=False) is None


def test_short_lines_are_instructions_and_long_ones_description() -> None:
    lines = short_lines("Recipe: grill the chicken wing. You are in a kitchen with a fridge, a stove, an oven, "
                        "a toaster, a counter, a table and a sofa that nobody ever sits on.")  # fmt: skip
    assert lines == [frozenset({"recipe", "grill", "chicken", "wing"})]  # the long sentence is not an instruction
    assert lines[0].head == "recipe" and short_lines("- fry the purple potato")[0].head == "fry"
    assert words("Put the apple IN the fridge!") == ["put", "apple", "fridge"]


def test_a_gain_transfers_to_alike_actions_as_a_hint_and_a_loss_only_to_the_very_action(embed: Embed) -> None:
    facts = [Fact("put chicken wing in fridge", 1.0, memory_id="m1"), Fact("eat rotten egg", -1.0, memory_id="m2")]
    offered = ["put chicken wing in fridge", "put chicken leg in fridge", "put chicken leg in bin", "eat rotten egg",
               "eat fresh egg", "look around"]  # fmt: skip
    values = ActionValues(facts, embed).values(offered, "")
    assert values["put chicken wing in fridge"] == Value(1.0, ("m1",), values["put chicken wing in fridge"].why, True)
    alike = values["put chicken leg in fridge"]
    assert 0 < alike.score < 1 and alike.grounds == ("m1",) and not alike.certain
    assert values["put chicken leg in bin"].score < alike.score / 2  # differs in two words
    assert values["eat rotten egg"].score == -1.0 and values["eat rotten egg"].grounds == ("m2",)
    assert values["eat fresh egg"].score == 0.0
    assert values["look around"] == Value(0.0)


def test_what_the_text_asks_decides_over_what_earned_points_elsewhere(embed: Embed) -> None:
    # memory saw the toaster grill and the stove fry; this game's recipe asks to fry the chicken wing
    facts = [Fact("cook pork chop in toaster", 1.0, frozenset({"grill"}), "toaster"),
             Fact("cook carrot in stove", 1.0, frozenset({"fry"}), "stove")]  # fmt: skip
    offered = ["cook chicken wing in toaster", "cook chicken wing in stove", "look around"]
    values = ActionValues(facts, embed).values(offered, "Recipe:\nfry the chicken wing\n")
    assert values["cook chicken wing in stove"].score >= 1.0
    assert values["cook chicken wing in toaster"].score < 0
    assert values["cook chicken wing in stove"].grounds == ("stove",)


def test_an_action_the_text_spells_out_is_asked_for_only_when_memory_saw_one_like_it_pay(embed: Embed) -> None:
    text = "Directions:\n- prepare meal\nThen move it to the orange box in the living room."
    alone = ActionValues([], embed).values(["prepare meal", "move orange box to living room"], text)
    assert alone["prepare meal"].score == 0.0 and alone["move orange box to living room"].score == 0.0
    values = ActionValues([Fact("eat meal", 1.0, memory_id="m")], embed).values(["prepare meal", "eat meal"], text)
    assert values["prepare meal"].score >= 1.0 and "asks" in values["prepare meal"].why
    assert values["eat meal"].score == 1.0  # memory saw it pay; no line spells it out


def test_an_effect_counts_as_asked_only_on_the_offered_actions_own_words(embed: Embed) -> None:
    # "You move to the hallway." after "go to hallway": the task line asking to "move" it to a box asks for no door
    facts = [Fact("go to hallway", 1.0, frozenset({"move"}), "m")]
    values = ActionValues(facts, embed).values(["go to door", "close door to hallway"],
                                               "Then move it to the orange box in the living room.")
    assert not any(v.certain or v.score >= 1 for v in values.values()), values


def test_fact_of_reads_sign_effect_and_skips_what_says_nothing() -> None:
    fact = fact_of("a", 'cook pork chop in toaster → earned points (accepted): "You grill the pork chop."',
                   {"action": "cook pork chop in toaster", "reward": 1.0})  # fmt: skip
    assert fact is not None and fact.sign == 1.0 and fact.effect == frozenset({"grill"})
    assert fact_of("b", "open fridge → needed before …", {"action": "open fridge", "reward": 0.0,
                                                          "enabled": "take milk"}).sign == 0.5  # type: ignore[union-attr]
    assert fact_of("c", "x", {"action": "eat", "reward": 0.0, "fatal": True}).sign == -1.0  # type: ignore[union-attr]
    assert fact_of("d", "x", {"action": "look", "reward": 0.0}) is None
    assert fact_of("e", "x", {"reward": 1.0}) is None


def test_follow_value_takes_the_best_untried_action_over_the_threshold() -> None:
    state = ActorState(task="t", first_observation="o", observation="o", valid_actions=["a", "b", "c"],
                       values={"a": Value(0.6, ("f1",), certain=True), "b": Value(0.9, ("f2",), "why b", True),
                               "c": Value(0.2, certain=True), "d": Value(2.0, ("f3",), "like d2")})  # fmt: skip
    decision = FollowValue().choose(state, ["a", "b", "c"], ["a", "b", "c"], ActorConfig(families=()))
    assert decision is not None and decision.action == "b" and decision.source == "memory"
    assert decision.grounds == ("b",) and "why b" in decision.thought
    assert FollowValue().choose(state, ["a", "c"], ["c"], ActorConfig(families=())) is None
    assert FollowValue().choose(state, ["a", "c"], ["a"], ActorConfig(families=(), value_threshold=0.7)) is None
    # an inherited value is a hint for the model, not a step memory takes
    assert FollowValue().choose(state, ["d"], ["d"], ActorConfig(families=())) is None
    assert FollowValue().favoured(state, ["a", "b", "d"], ActorConfig(families=())) == {"d": "like d2"}


def test_values_tag_and_ground_the_context() -> None:
    context = MemoryContext(penalised_actions=frozenset({"x"}))
    tagged = with_values(context, {"a": Value(1.0, ("f1",), certain=True), "b": Value(-0.5, ("f2",)),
                                   "x": Value(0.7, certain=True), "y": Value(0.9)}, 0.5)  # fmt: skip
    assert tagged.rewarded_actions == {"a", "x"} and tagged.penalised_actions == {"b"}
    assert tagged.earned_ids == {"a": ("f1",)}


def test_the_plugin_switch_chooses_the_policies() -> None:
    assert [type(p).__name__ for p in policies_for(())] == ["Retake", "FollowValue"]
    assert [type(p).__name__ for p in policies_for(("textworld",))] == [
        "FollowMemory", "PlaceByAnalogy", "PlaceByLikeness"]  # fmt: skip


def test_an_action_is_spent_only_in_the_state_it_changed_nothing_in() -> None:
    kitchen, hall = frozenset({"move east", "look"}), frozenset({"move west", "look"})
    steps = [StepRecord("look", "a kitchen"), StepRecord("move east", "a hall"), StepRecord("move west", "a kitchen")]
    before, after = [kitchen, kitchen, hall], [kitchen, hall, kitchen]
    assert spent_in(kitchen, before, steps, after) == {"look"}  # "move east" led somewhere: still useful here
    assert spent_in(hall, before, steps, after) == frozenset()
    again = [*steps, StepRecord("move east", "a hall")]
    assert spent_in(kitchen, [*before, kitchen], again, [*after, hall]) == {"look", "move east"}  # twice: spent
    rewarded = [StepRecord("look", "a coin!", reward=1.0)]
    assert spent_in(kitchen, [kitchen], rewarded, [kitchen]) == frozenset()
    assert spent_in(kitchen, before, steps, after, since=1) == frozenset()  # what changed since counts alone


def test_a_move_against_a_closed_door_is_offered_again_once_the_door_is_open() -> None:
    # coin seed 302 (a development seed): the corridor offers the same actions with the door shut and open
    plan = ["move west", "move west", "open door to west", "move west"]
    with envs.make("twx-coin", split="train", preset="medium") as coin:
        fake = ScriptedChatModel().enqueue(*[json.dumps({"thought": "t", "action": a}) for a in plan])
        episode = run_episode(coin, memory_actor(fake, ActorConfig(families=())), seed=302, max_steps=4)
    assert episode.steps[1].observation.startswith("You can't move there")
    assert "- move west" not in fake.prompts[2]  # spent against the shut door
    assert "- move west" in fake.prompts[3] and episode.steps[3].observation.startswith("You are in the backyard")


def test_real_bank_and_game_memory_picks_gold_actions_without_textworld_code(tmp_path: Path) -> None:
    """Gold paths of five training games in a real bank; along an unseen development game's gold path, the best
    untried action valued at least 0.5 from facts recalled without the plug-in is one of the game's remaining gold
    actions at most steps where memory names one, and memory names one at several steps."""
    good, bad = 0, 0
    with envs.make("twx-cookingworld", split="train", preset="easy") as env:
        bank = MemoryBank(MemoryConfig(path=tmp_path / "memory"))
        namespace = namespace_for(env.env_id)
        try:
            for seed in range(5):
                episode = replay_actions(env, seed, episode_id=f"gold-{seed}")
                bank.insert_many(experience_inputs(episode, namespace, corrected=True))
            obs = env.reset(seed=300)
            gold = env.gold_actions() or []
            valid, seen, tried = list(obs.valid_actions), f"{obs.task}\n{obs.text}", set()
            context = retrieve_context(bank, task=obs.task, observation=obs.text, namespace=namespace,
                                       kinds=[MemoryKind.FACT], record=False, seen=seen)  # fmt: skip
            assert context.valuer is not None and not context.rewarded_actions
            for index, action in enumerate(gold):
                values = context.valuer.values([a for a in valid if a not in tried], seen)
                best = max(values, key=lambda a: values[a].score)
                if values[best].score >= 0.5:
                    assert values[best].grounds or "asks" in values[best].why
                    good, bad = (good + 1, bad) if best in gold[index:] else (good, bad + 1)
                tried.add(action)
                result = env.step(action)
                valid, seen = list(result.valid_actions), f"{seen}\n{result.observation}"
        finally:
            bank.close()
    print(f"memory picks along the gold path: {good} good, {bad} bad")
    assert good >= 3 and good > 2 * bad, (good, bad)


def test_an_enabling_step_counts_only_where_what_it_enabled_is_in_the_text(embed: Embed) -> None:
    fact = fact_of("f", "open fridge → needed before take yellow potato (earned points)",
                   {"action": "open fridge", "reward": 0.0, "enabled": "take yellow potato"})  # fmt: skip
    assert fact is not None and fact.needs == {"take", "yellow", "potato"}
    valuer = ActionValues([fact], embed)
    assert valuer.values(["open fridge"], "Recipe: slice the yellow potato")["open fridge"].score == 0.5
    assert valuer.values(["open fridge"], "Recipe: grill the red apple")["open fridge"].score == 0.0
