"""What an episode teaches: enabling steps, the essential path, and the memories written from them."""

from __future__ import annotations

from agent.core.trajectory import Episode, StepRecord, mark_unlocked
from agent.families.textworld.options import kept_steps
from agent.families.textworld.plugin import TextWorld
from agent.learning.experience import experience_inputs
from memory import MemoryKind


def _episode(*steps: tuple[str, float], success: bool = True) -> Episode:
    episode = Episode(env_id="twx-twc", split="train", seed=7, task_type="", task="tidy up",
                      first_observation="You are in the kitchen.", success=success, episode_id="ep-7")  # fmt: skip
    episode.steps = [StepRecord(action, f"You {action}.", reward=reward) for action, reward in steps]
    return episode


KITCHEN = (
    ("look around", 0.0), ("take white onion", 1.0), ("open fridge", 0.0), ("close fridge", 0.0),
    ("open fridge", 0.0), ("open dishwasher", 0.0), ("put white onion in counter", -1.0),
    ("take white onion", 1.0), ("put white onion in fridge", 1.0),
)  # fmt: skip


def test_the_last_step_on_the_target_enabled_the_rewarded_action() -> None:
    episode = _episode(*KITCHEN)
    assert episode.enabling_steps() == {4: "put white onion in fridge"}  # not "close fridge", not the dishwasher
    assert episode.essential_actions() == ["take white onion", "open fridge", "put white onion in fridge"]


def test_a_step_with_a_two_word_verb_enables_by_its_object() -> None:
    episode = _episode(("look around", 0.0), ("pick up seed", 0.0), ("move seed to flower pot", 1.0))
    assert episode.enabling_steps() == {1: "move seed to flower pot"}


def test_memories_of_a_solved_episode_skip_its_detours_and_credit_enablers() -> None:
    items = experience_inputs(_episode(*KITCHEN), "env:twx-twc")
    experience = next(i for i in items if i.kind is MemoryKind.EXPERIENCE)
    assert experience.meta["actions"] == "take white onion -> open fridge -> put white onion in fridge"
    facts = {i.text for i in items if i.kind is MemoryKind.FACT}
    assert "open fridge → needed before put white onion in fridge (earned points)" in facts
    assert "put white onion in counter → lost points (wrong)" in facts
    assert not any(f.startswith(("close fridge", "open dishwasher", "look around")) for f in facts)
    enabler = next(i for i in items if i.meta.get("enabled"))
    assert enabler.meta["action"] == "open fridge" and enabler.source_ids == ("ep-7",)


def test_a_failed_episode_keeps_its_informative_steps() -> None:
    failed = _episode(("look around", 0.0), ("open fridge", 0.0), ("close fridge", 0.0), success=False)
    experience = next(i for i in experience_inputs(failed, "env:twx-twc") if i.kind is MemoryKind.EXPERIENCE)
    assert experience.meta["actions"] == "open fridge -> close fridge"


def test_the_action_that_ended_a_game_unsolved_is_a_fact_with_the_games_reply() -> None:
    # cookingworld: the recipe said grill; roasting in the oven ends the game, with no points lost
    lost = _episode(("take chicken wing", 1.0), ("cook chicken wing in oven", 0.0), success=False)
    lost.steps[-1].observation = "You roast the chicken wing with the oven."
    lost.stop_reason = "terminated"
    facts = {i.text: i for i in experience_inputs(lost, "env:twx-cookingworld") if i.kind is MemoryKind.FACT}
    fatal = 'cook chicken wing in oven → ended the game (lost): "You roast the chicken wing with the oven."'
    took = "take chicken wing → earned points (accepted)"  # "You take the chicken wing." says nothing more
    assert set(facts) == {took, fatal}
    assert facts[fatal].meta["fatal"] is True and "fatal" not in facts[took].meta
    lost.stop_reason = "truncated"  # cut by the step limit: the last action ended nothing
    assert [i.text for i in experience_inputs(lost, "env:twx-cookingworld") if i.kind is MemoryKind.FACT] == [
        "take chicken wing → earned points (accepted)"]


def test_what_a_win_took_and_held_to_the_end_is_kept() -> None:
    # cookingworld: "slice banana" is offered only while the knife is held; no action names the knife
    steps = (("take cookbook", 0.0), ("take knife", 0.0), ("take apple", 0.0), ("put apple in counter", 0.0),
             ("take banana", 1.0), ("slice banana", 1.0), ("take fork", 0.0))  # fmt: skip
    assert kept_steps(_episode(*steps)) == {0: "cookbook", 1: "knife"}  # the apple was let go, the fork too late
    assert kept_steps(_episode(*steps, success=False)) == {}
    facts = {i.text: i.meta for i in experience_inputs(_episode(*steps), "env:twx-cookingworld", family=TextWorld())}
    assert facts["take knife → kept until the game was won"]["kept"] == "knife"
    assert not any("kept" in t for t in {i.text for i in experience_inputs(_episode(*steps), "ns")})


def test_a_free_answer_is_an_experience_not_a_fact() -> None:
    episode = _episode(("42", 1.0))
    episode.stop_reason = "answered"
    items = experience_inputs(episode, "ns")
    assert [i.kind for i in items] == [MemoryKind.EXPERIENCE] and "42" in items[0].text


def test_a_step_that_made_a_rewarded_action_valid_enabled_it_without_any_shared_word() -> None:
    episode = _episode(("take knife", 0.0), ("look around", 0.0), ("slice yellow potato", 1.0))
    knife, sliceable = frozenset({"take knife"}), frozenset({"slice yellow potato", "look around"})
    mark_unlocked(episode.steps, [knife, sliceable, sliceable], [sliceable, sliceable, frozenset()])
    assert episode.steps[0].unlocked == ("look around", "slice yellow potato")
    assert episode.enabling_steps() == {}  # no word of "take knife" is in "slice yellow potato"
    assert episode.enabling_steps(unlocks=True) == {0: "slice yellow potato"}
    texts = [i.text for i in experience_inputs(episode, "ns")]
    assert "take knife → needed before slice yellow potato (earned points)" in texts
