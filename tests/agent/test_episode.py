"""Actor and episode logic with the scripted fake model against the real TextWorldExpress env."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest
from langchain_core.messages import BaseMessage

import envs
from agent.core.actor import nearest_action
from agent.core.context import MemoryContext
from agent.core.episode import cycling, run_episode
from agent.core.state import ActorConfig, ActorState
from agent.core.trajectory import Episode, StepRecord
from agent.errors import ComponentError
from agent.families.textworld.likeness import Embed, Likeness
from agent.families.textworld.recalled import TextWorldRecall
from tests.fakes import ScriptedChatModel, memory_actor


@pytest.fixture(scope="module")
def twc() -> Iterator[envs.Env]:
    env = envs.make("twx-twc", split="train", preset="easy")
    yield env
    env.close()


def reply(action: str, thought: str = "t") -> str:
    return json.dumps({"thought": thought, "action": action})


def test_gold_actions_scripted_win(twc: envs.Env) -> None:
    twc.reset(seed=3)
    gold = twc.gold_actions() or []
    fake = ScriptedChatModel().enqueue(*[reply(a) for a in gold])
    episode = run_episode(twc, memory_actor(fake), seed=3)
    assert episode.success and episode.score == 1.0
    assert episode.stop_reason == "terminated"
    assert [s.action for s in episode.steps] == gold
    assert episode.counters.llm_calls == len(gold)


def test_invalid_model_action_is_matched_and_counted(twc: envs.Env) -> None:
    # "take the dress" is no valid action: it is mapped to the nearest valid one and counted.
    fake = ScriptedChatModel().enqueue(reply("take the dirty teal dress please"))
    fake.enqueue(*[reply("put dirty teal dress in laundry basket")] * 3)
    episode = run_episode(twc, memory_actor(fake), seed=3, max_steps=2)
    assert episode.steps[0].action == "take dirty teal dress"
    assert episode.steps[0].source == "matched"
    assert episode.counters.action_mismatches == 1


def test_unparseable_replies_fall_back_and_are_counted(twc: envs.Env) -> None:
    fake = ScriptedChatModel().enqueue(*["I don't know"] * 4)
    episode = run_episode(twc, memory_actor(fake), seed=3, max_steps=2)
    assert episode.n_steps == 2
    assert episode.counters.parse_failures == 2
    assert all(s.source == "fallback" and "unparseable" in s.error for s in episode.steps)
    assert episode.steps[0].action != "look around"  # fallback explores an informative untried action


def test_model_error_does_not_end_the_run(twc: envs.Env) -> None:
    def boom(_: list[BaseMessage]) -> str:
        raise TimeoutError("model timed out")

    fake = ScriptedChatModel().enqueue(boom, reply("look around"))
    episode = run_episode(twc, memory_actor(fake), seed=3, max_steps=2)
    assert episode.counters.model_errors == 1
    assert episode.n_steps == 2


def test_a_model_that_cannot_run_ends_the_run_with_its_fix(twc: envs.Env) -> None:
    """A broken component (a llama.cpp build that crashes on this CPU) is not a step's mistake to count."""

    def broken(_: list[BaseMessage]) -> str:
        raise ComponentError("the local model cannot run here: the model died of SIGILL", "make reinstall-llama")

    with pytest.raises(ComponentError, match="SIGILL"):
        run_episode(twc, memory_actor(ScriptedChatModel().enqueue(broken)), seed=3, max_steps=2)


def test_repeated_no_effect_action_is_replaced(twc: envs.Env) -> None:
    fake = ScriptedChatModel().enqueue(*[reply("look around")] * 3)
    episode = run_episode(twc, memory_actor(fake), seed=3, max_steps=3)
    actions = [s.action for s in episode.steps]
    assert actions[0] == "look around"
    assert episode.counters.loop_overrides >= 1
    assert "explore" in [s.source for s in episode.steps]


def test_alternating_actions_are_broken_by_exploration(twc: envs.Env) -> None:
    fake = ScriptedChatModel().enqueue(*[reply(a) for a in ["open washing machine", "close washing machine"] * 3])
    episode = run_episode(twc, memory_actor(fake), seed=3, max_steps=6)
    assert episode.counters.loop_overrides >= 2
    assert len({s.action for s in episode.steps}) > 2


def test_cycle_detection() -> None:
    def steps(actions: list[str], reward: float = 0.0) -> list[StepRecord]:
        return [StepRecord(action=a, observation="o", reward=reward) for a in actions]

    assert cycling(steps(["open box", "close box"] * 4))
    assert not cycling(steps(["open box", "close box"] * 3))  # too short to judge
    assert not cycling(steps(["open box", "close box"] * 4, reward=1.0))  # progress is no loop
    assert not cycling(steps(["a", "b", "c", "a", "b", "c", "a", "b"]))


def test_prompt_puts_stable_part_first_and_memories_in_it(twc: envs.Env) -> None:
    obs = twc.reset(seed=3)
    context = MemoryContext(facts=("dirty clothes go in the laundry basket",), memory_ids=("m1",),
                            rewarded_actions=frozenset({"take dirty teal dress"}))  # fmt: skip
    state = ActorState(task=obs.task, first_observation=obs.text, observation=obs.text,
                       valid_actions=obs.valid_actions, context=context)  # fmt: skip
    system, user = memory_actor(ScriptedChatModel()).messages(state)
    assert "laundry basket" in system.text and obs.task in system.text
    assert "take dirty teal dress (worked in similar tasks)" in user.text
    schema = memory_actor(ScriptedChatModel()).schema(state)
    assert schema["properties"]["action"]["enum"] == list(obs.valid_actions)


def test_episode_round_trips_through_json(twc: envs.Env) -> None:
    fake = ScriptedChatModel().enqueue(reply("look around"))
    episode = run_episode(twc, memory_actor(fake), seed=3, max_steps=1)
    again = Episode.from_dict(json.loads(json.dumps(episode.to_dict())))
    assert again == episode


@pytest.mark.parametrize(
    ("text", "expected"),
    [("open fridge", "open fridge"), ("OPEN  Fridge", "open fridge"), ("I will open the fridge now", "open fridge"),
     ("opn frdge", "open fridge")],
)
def test_nearest_action(text: str, expected: str) -> None:
    assert nearest_action(text, ["open fridge", "take apple", "look around"]) == expected


def test_spent_actions_leave_the_list_and_the_enum(twc: envs.Env) -> None:
    obs = twc.reset(seed=3)
    actor = memory_actor(ScriptedChatModel())
    spent = StepRecord("look around", obs.text, reward=0.0)
    earned = StepRecord("take dirty teal dress", "You take the dirty teal dress.", reward=1.0)
    state = ActorState(task=obs.task, first_observation=obs.text, observation=obs.text,
                       valid_actions=obs.valid_actions, history=[spent, earned])  # fmt: skip
    offered = actor.options(state)
    assert "look around" not in offered and "- look around" not in actor.messages(state)[-1].text
    assert "look around" not in actor.schema(state)["properties"]["action"]["enum"]
    assert set(offered) == set(obs.valid_actions) - {"look around"}  # a rewarded action stays available
    every = [StepRecord(a, "", reward=0.0) for a in obs.valid_actions]
    assert actor.options(ActorState(task=obs.task, first_observation=obs.text, observation=obs.text,
                                    valid_actions=obs.valid_actions, history=every)) == list(obs.valid_actions)


def test_untried_actions_take_turns_by_verb_within_memory_ranks() -> None:
    # cookingworld offers "examine" for every object: listed as given, they fill the top of the list
    valid = ("examine counter", "examine fridge", "examine oven", "open fridge", "take cookbook")

    def listed(config: ActorConfig, rewarded: frozenset[str] = frozenset()) -> list[str]:
        state = ActorState(task="cook", first_observation="kitchen", observation="kitchen", valid_actions=valid,
                           context=MemoryContext(rewarded_actions=rewarded))  # fmt: skip
        text = memory_actor(ScriptedChatModel(), config).action_list(state)
        return [line[2:].split(" (")[0] for line in text.split("\n")]

    assert listed(ActorConfig()) == ["examine counter", "open fridge", "take cookbook", "examine fridge",
                                     "examine oven"]  # fmt: skip
    assert listed(ActorConfig(), frozenset({"examine oven"}))[0] == "examine oven"  # memory's rank comes first
    assert listed(ActorConfig(mix_verbs=False)) == list(valid)


def test_actions_memory_says_lost_points_leave_the_list_while_others_remain(twc: envs.Env) -> None:
    obs = twc.reset(seed=3)
    wrong = [a for a in obs.valid_actions if a != "take dirty teal dress"]
    actor = memory_actor(ScriptedChatModel())

    def state(penalised: set[str], valid: tuple[str, ...] = tuple(obs.valid_actions)) -> ActorState:
        return ActorState(task=obs.task, first_observation=obs.text, observation=obs.text, valid_actions=valid,
                          context=MemoryContext(penalised_actions=frozenset(penalised)))  # fmt: skip

    assert actor.options(state({wrong[0]})) == [a for a in obs.valid_actions if a != wrong[0]]
    assert wrong[0] not in actor.schema(state({wrong[0]}))["properties"]["action"]["enum"]
    assert actor.options(state(set(obs.valid_actions))) == list(obs.valid_actions)  # nothing else left: all stay
    keep = memory_actor(ScriptedChatModel(), ActorConfig(hide_penalised=False))
    assert keep.options(state({wrong[0]})) == list(obs.valid_actions)


def test_an_action_whose_object_changed_since_is_not_spent() -> None:
    from agent.families.textworld.options import spent_actions

    def steps(*pairs: tuple[str, float]) -> list[StepRecord]:
        return [StepRecord(action=a, observation="", reward=r) for a, r in pairs]

    # the trash can was opened and closed again: opening it is worth a second try, looking around is not
    assert spent_actions(steps(("open trash can", 0), ("close trash can", 0), ("look around", 0))) == {
        "close trash can", "look around"}  # fmt: skip
    assert spent_actions(steps(("open trash can", 0), ("close trash can", 0), ("open trash can", 0))) == {
        "open trash can"}  # fmt: skip
    # taken twice without earning, an action is spent: opening and closing cannot cycle on
    assert spent_actions(steps(("open trash can", 0), ("close trash can", 0), ("open trash can", 0),
                               ("close trash can", 0))) == {"open trash can", "close trash can"}  # fmt: skip
    assert spent_actions(steps(("open trash can", 1), ("close trash can", 0), ("open trash can", 0))) == set()
    assert spent_actions(steps(("take tissue", 1), ("put tissue in sink", -1), ("inventory", 0))) == {
        "put tissue in sink", "inventory"}  # fmt: skip
    # the object is what follows the verb phrase: "look at seed" is on the seed that was picked up since
    assert spent_actions(steps(("look at seed", 0), ("pick up seed", 0))) == {"pick up seed"}


def test_what_a_step_earned_is_not_undone() -> None:
    from agent.families.textworld.options import undoing_actions

    def steps(*pairs: tuple[str, float]) -> list[StepRecord]:
        return [StepRecord(action=a, observation="", reward=r) for a, r in pairs]

    offered = ["put meal in dishwasher", "drop meal", "eat meal", "put knife in counter", "take apple from fridge",
               "take apple", "put cookbook in fridge"]  # fmt: skip
    # cookingworld: the meal prepared and the wing grilled (points) are kept; the knife (no points) is not
    held = steps(("take knife", 0), ("take chicken wing", 1), ("cook chicken wing in toaster", 1), ("prepare meal", 1))
    assert undoing_actions(held, offered) == {"put meal in dishwasher", "drop meal"}
    assert undoing_actions(held, ["put chicken wing in fridge"]) == {"put chicken wing in fridge"}
    # taking is no such step: twc pays for taking the shirt, then for putting it where it belongs
    assert undoing_actions(steps(("take shirt", 1)), ["put shirt in wardrobe", "drop shirt"]) == set()
    # twc: an object put where it belongs (points) is not taken back; one put wrongly (lost points) may be
    placed = steps(("take apple", 1), ("put apple in fridge", 1), ("put tissue in sink", -1))
    assert undoing_actions(placed, offered + ["take tissue from sink"]) == {"take apple from fridge", "take apple"}
    assert undoing_actions(steps(("take apple", 0), ("look around", 0)), offered) == set()


def test_memory_is_retrieved_again_when_a_step_brings_new_things_into_view() -> None:
    # cookingworld seed 0: the recipe (read cookbook) names the chicken wing and how to cook it, which the
    # first observation did not show; the replies after it add too little to retrieve again ("raw";
    # "adding", "inventory")
    with envs.make("twx-cookingworld", split="train", preset="easy") as cooking:
        obs = cooking.reset(seed=0)
        gold = cooking.gold_actions() or []
        calls: list[tuple[str, str]] = []

        def recall(observation: str, seen: str) -> MemoryContext:
            calls.append((observation, seen))
            return MemoryContext(facts=("cook chicken wing in toaster → earned points",), memory_ids=("m2",))

        fake = ScriptedChatModel().enqueue(*[reply(a) for a in gold])
        episode = run_episode(cooking, memory_actor(fake), seed=0, context=MemoryContext(memory_ids=("m1",)),
                              recall=recall, recalls=2)  # fmt: skip
        assert episode.success
        assert len(calls) == 1 and "grill the chicken wing" in calls[0][0]
        assert obs.text in calls[0][1] and calls[0][0] in calls[0][1]  # seen: everything shown so far
        assert episode.counters.recalls == 1 and episode.memory_ids == ["m1", "m2"]
        read = gold.index("read cookbook")
        prompts = ["\n".join(m.text for m in call) for call in fake.calls]
        assert "toaster → earned points" not in prompts[read] and "toaster → earned points" in prompts[read + 1]
        # the recipe stays in the prompt after it left the window of recent steps
        window = memory_actor(ScriptedChatModel()).config.history_window
        assert len(gold) > read + 1 + window
        assert "Found out earlier in this game:\n> read cookbook" not in prompts[read + window]
        assert "Found out earlier in this game:\n> read cookbook\nGather all" in prompts[read + 1 + window]

        fake = ScriptedChatModel().enqueue(*[reply(a) for a in gold])
        calls.clear()
        episode = run_episode(cooking, memory_actor(fake), seed=0, recall=recall, recalls=0)
        assert episode.success and not calls and episode.counters.recalls == 0


def test_a_retrieval_that_changes_nothing_keeps_the_prompt() -> None:
    with envs.make("twx-cookingworld", split="train", preset="easy") as cooking:
        cooking.reset(seed=0)
        gold = cooking.gold_actions() or []
        same = MemoryContext(facts=("take chicken wing → earned points",), memory_ids=("m1",))
        fake = ScriptedChatModel().enqueue(*[reply(a) for a in gold])
        episode = run_episode(cooking, memory_actor(fake), seed=0, context=same, recall=lambda o, s: same, recalls=2)
        assert episode.counters.recalls == 1 and episode.memory_ids == ["m1"]
        systems = {call[0].text for call in fake.calls}
        assert len(systems) == 1 and "take chicken wing → earned points" in systems.pop()


def test_a_verb_whose_last_uses_changed_nothing_is_idle() -> None:
    from agent.core.episode import idle_verbs

    steps = [StepRecord(a, "") for a in ("examine knife", "open fridge", "examine oven", "examine stove")]
    assert idle_verbs(steps, [True, True, False, False]) == set()  # two uses without effect only
    assert idle_verbs(steps, [False, True, False, False]) == {"examine"}  # three, whatever came between
    steps.append(StepRecord("examine toaster", ""))
    assert idle_verbs(steps, [False, True, False, True, False]) == set()  # one of the last three showed something
    assert idle_verbs(steps, [True, False, True, True, True]) == set()  # "open" used once


def test_examining_that_shows_nothing_stops_being_offered_in_cookingworld() -> None:
    # cookingworld seed 0: "examine knife" → "a knife"; after three such replies the other "examine" actions
    # leave the list and the enum, except what memory says earned points; the recipe stays readable
    with envs.make("twx-cookingworld", split="train", preset="easy") as cooking:
        obs = cooking.reset(seed=0)
        examines = [a for a in obs.valid_actions if a.startswith("examine") and a != "examine cookbook"][:3]
        fake = ScriptedChatModel().enqueue(*[reply(a) for a in [*examines, "read cookbook"]])
        context = MemoryContext(rewarded_actions=frozenset({"examine cookbook"}))
        episode = run_episode(cooking, memory_actor(fake, ActorConfig(follow_memory=False)), seed=0, context=context,
                              max_steps=4)  # fmt: skip
        assert [s.action for s in episode.steps] == [*examines, "read cookbook"]
        before, after = fake.prompts[2], fake.prompts[3]
        assert f"- {examines[2]}" in before and "- examine toaster" in before
        assert "- examine toaster" not in after and "- examine cookbook" in after and "- read cookbook" in after
        # off: every examine stays offered
        fake = ScriptedChatModel().enqueue(*[reply(a) for a in [*examines, "read cookbook"]])
        run_episode(cooking, memory_actor(fake, ActorConfig(hide_idle_verbs=False)), seed=0, max_steps=4)
        assert "- examine toaster" in fake.prompts[3]


def test_what_memory_says_earned_points_is_taken_without_the_model() -> None:
    # cookingworld seed 0 (grill the chicken wing): memory knows the winning actions; the model only explores
    with envs.make("twx-cookingworld", split="train", preset="easy") as cooking:
        cooking.reset(seed=0)
        known = frozenset({"take chicken wing", "cook chicken wing in toaster", "prepare meal", "eat meal"})
        fake = ScriptedChatModel().enqueue(*[reply(a) for a in ["open fridge", "look around"]])
        episode = run_episode(cooking, memory_actor(fake), seed=0, context=MemoryContext(rewarded_actions=known),
                              max_steps=10)  # fmt: skip
        assert [s.action for s in episode.steps] == ["open fridge", "take chicken wing", "cook chicken wing in toaster",
                                                     "prepare meal", "eat meal"]  # fmt: skip
        assert episode.success and episode.counters.memory_actions == 4 and len(fake.prompts) == 1
        assert [s.source for s in episode.steps] == ["model", "memory", "memory", "memory", "memory"]
        # the facts behind the steps memory took are credited with the episode's outcome, shown or not
        ids = {a: (f"fact-{i}",) for i, a in enumerate(sorted(known))}
        fake = ScriptedChatModel().enqueue(*[reply(a) for a in ["open fridge", "look around"]])
        episode = run_episode(cooking, memory_actor(fake), seed=0, max_steps=10,
                              context=MemoryContext(rewarded_actions=known, earned_ids=ids, memory_ids=("shown",)))
        assert sorted(episode.memory_ids) == sorted(["shown", *(i for (i,) in ids.values())])
        # off: the model chooses every action (here it looks around, as the 1.5B model ignores the tag)
        fake = ScriptedChatModel().enqueue(*[reply(a) for a in ["open fridge", "look around"]])
        episode = run_episode(cooking, memory_actor(fake, ActorConfig(follow_memory=False)), seed=0,
                              context=MemoryContext(rewarded_actions=known), max_steps=2)  # fmt: skip
        assert [s.action for s in episode.steps] == ["open fridge", "look around"]
        assert episode.counters.memory_actions == 0
        assert "- take chicken wing (worked in similar tasks)" in fake.prompts[1]


def test_an_object_like_one_memory_placed_goes_where_that_one_earned_points(twc: envs.Env) -> None:
    # twc seed 3: the dirty teal dress goes in the laundry basket; memory placed only a dirty brown dress there,
    # and a clean teal dress in the wardrobe (another state: no analogy)
    known = frozenset({"put dirty brown dress in laundry basket", "put clean teal dress in wardrobe"})
    fake = ScriptedChatModel().enqueue(reply("take dirty teal dress"))
    episode = run_episode(twc, memory_actor(fake), seed=3, context=MemoryContext(rewarded_actions=known), max_steps=4)
    assert [s.action for s in episode.steps] == ["take dirty teal dress", "put dirty teal dress in laundry basket"]
    assert [s.source for s in episode.steps] == ["model", "analogy"]
    assert episode.success and episode.counters.analogy_actions == 1 and len(fake.prompts) == 1
    # off: the model chooses, and the list tags and ranks the placing
    fake = ScriptedChatModel().enqueue(*[reply(a) for a in ["take dirty teal dress", "put dirty teal dress in bench"]])
    actor = memory_actor(fake, ActorConfig(place_by_analogy=False))
    episode = run_episode(twc, actor, seed=3, context=MemoryContext(rewarded_actions=known), max_steps=2)
    assert [s.source for s in episode.steps] == ["model", "model"] and episode.counters.analogy_actions == 0
    fake = ScriptedChatModel().enqueue(*[reply(a) for a in ["take dirty teal dress", "put dirty teal dress in bench"]])
    run_episode(twc, memory_actor(fake, ActorConfig(follow_memory=False)), seed=3,
                context=MemoryContext(rewarded_actions=known), max_steps=2)  # fmt: skip
    listed = fake.prompts[1].split("- ", 1)[1]
    assert listed.startswith("put dirty teal dress in laundry basket (a like object went there in similar tasks)")


def test_an_object_memory_cannot_place_goes_where_the_most_alike_ones_went(twc: envs.Env, embed: Embed) -> None:
    # twc seed 500: the white tuna goes in the fridge, which is closed; memory placed no tuna but a chicken leg
    # there, a wooden spoon in the cutlery drawer and a long coat on the coat hanger (real MiniLM vectors)
    earned = ["put chicken leg in fridge", "put wooden spoon in cutlery drawer", "put long coat in coat hanger"]
    context = MemoryContext(family=TextWorldRecall(likeness=Likeness(earned, embed)))
    fake = ScriptedChatModel().enqueue(reply("take white tuna"))
    episode = run_episode(twc, memory_actor(fake), seed=500, context=context, max_steps=4)
    assert [s.action for s in episode.steps] == ["take white tuna", "open fridge", "put white tuna in fridge"]
    assert [s.source for s in episode.steps] == ["model", "likeness", "likeness"]
    assert episode.success and episode.counters.likeness_actions == 2 and len(fake.prompts) == 1
    assert episode.memory_ids == []  # no fact ids known: nothing to credit
    # off: the model chooses
    fake = ScriptedChatModel().enqueue(*[reply(a) for a in ["take white tuna", "put white tuna in counter"]])
    episode = run_episode(twc, memory_actor(fake, ActorConfig(place_by_likeness=False)), seed=500, context=context,
                          max_steps=2)  # fmt: skip
    assert [s.source for s in episode.steps] == ["model", "model"] and episode.counters.likeness_actions == 0


def test_a_wrong_guess_is_taken_back_and_the_next_place_tried(twc: envs.Env) -> None:
    # vectors that make the wooden spoon the most alike to the white tuna: the cutlery drawer is guessed first
    vectors = {"white tuna": (1.0, 0.0), "wooden spoon": (0.9, 0.1), "chicken leg": (0.5, 0.5)}

    def embed(texts: list[str]) -> np.ndarray:
        return np.array([vectors[t] for t in texts], dtype=np.float32)

    earned = ["put wooden spoon in cutlery drawer", "put chicken leg in fridge"]
    fake = ScriptedChatModel().enqueue(reply("take white tuna"))
    context = MemoryContext(family=TextWorldRecall(likeness=Likeness(earned, embed)))
    episode = run_episode(twc, memory_actor(fake), seed=500, context=context, max_steps=8)
    actions = [s.action for s in episode.steps]
    wrong = actions.index("put white tuna in cutlery drawer")
    assert episode.steps[wrong].reward < 0 and actions[wrong + 1] == "take white tuna"
    assert actions[-2:] == ["open fridge", "put white tuna in fridge"] and episode.success
    assert {s.source for s in episode.steps[1:]} == {"likeness"} and len(fake.prompts) == 1


def test_closing_what_was_opened_changes_nothing_and_closing_goes_idle() -> None:
    # each "close" returns to a state seen before: after three, "close fridge" is no longer offered, while
    # "open" (each opening reached new actions) still is
    with envs.make("twx-cookingworld", split="train", preset="easy") as cooking:
        cooking.reset(seed=0)
        script = ["open fridge", "open dishwasher", "close dishwasher", "open trash can", "close trash can",
                  "open kitchen cupboard", "close kitchen cupboard", "look around"]  # fmt: skip
        fake = ScriptedChatModel().enqueue(*[reply(a) for a in script])
        episode = run_episode(cooking, memory_actor(fake), seed=0, max_steps=len(script))
        assert [s.action for s in episode.steps] == script
        assert "- close fridge" in fake.prompts[6] and "- close fridge" not in fake.prompts[7]
        assert "- open cutlery drawer" in fake.prompts[7]


def test_when_everything_would_be_hidden_idle_verbs_come_back_before_spent_actions() -> None:
    # the coin dev trace (seed 1): in a room of five actions, four spent and the fifth's verb idle, showing every
    # action let the model look around seven times; the idle verb's action comes back alone
    history = [StepRecord(a, "") for a in ("look around", "inventory", "move north", "open door to north")]
    state = ActorState(task="", first_observation="", observation="", history=history,
                       valid_actions=["close door to north", "inventory", "look around", "move north",
                                      "open door to north"],
                       spent_here=frozenset(a.action for a in history), idle_verbs=frozenset({"close"}))  # fmt: skip
    actor = memory_actor(ScriptedChatModel(), ActorConfig(families=()))
    assert actor.options(state) == ["close door to north"]
    spent_all = replace(state, spent_here=frozenset(state.valid_actions))
    assert actor.options(spent_all) == list(state.valid_actions)  # nothing left to prefer: all of them
