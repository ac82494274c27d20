"""ScienceWorld adapters against the real simulator (Java): short tasks, splits, gold paths, shortlists."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import envs
from envs.scienceworld import SHORT_TASKS, ScienceWorldEnv, canonical_text, start_scienceworld

pytestmark = pytest.mark.usefixtures("require_sciworld")


@pytest.fixture(scope="module")
def server() -> Iterator[object]:
    """One ScienceWorld JVM shared by the adapters of this module (each reset reloads its own task)."""
    raw = start_scienceworld()
    yield raw
    raw.close()


@pytest.fixture(scope="module")
def living() -> Iterator[ScienceWorldEnv]:
    """find-living-thing, train split, easy preset, with its own JVM (as ``make`` gives by default)."""
    env = envs.make("sciworld-find-living-thing", split="train", max_steps=30)
    assert isinstance(env, ScienceWorldEnv)
    yield env
    env.close()


@pytest.mark.parametrize("task", list(SHORT_TASKS))
def test_every_short_task_passes_check_env_with_gold_replay(task: str, server: object) -> None:
    env = envs.make(f"sciworld-{task}", split="train", max_steps=15, server=server)
    envs.check_env(env)  # includes replaying the gold path of the first train variation to success
    assert env.seeds()[0] == 0
    env.close()  # leaves the shared server running


def test_canonical_text_sorts_listing_blocks() -> None:
    text = "Room:\n\tb cup\n\ta cup\nYou also see:\n\tA door"
    assert canonical_text(text) == "Room:\n\ta cup\n\tb cup\nYou also see:\n\tA door"


def test_reset_step_valid_actions_and_info(living: ScienceWorldEnv) -> None:
    obs = living.reset(seed=0)
    assert obs.task.startswith("Your task is to find a(n) living thing")
    assert len(obs.valid_actions) > 50
    assert obs.info["task_type"] == "find-living-thing/easy" and obs.info["seed"] == 0
    assert 0 < len(obs.info["shortlist"]) <= 20 and set(obs.info["shortlist"]) <= set(obs.valid_actions)
    res = living.step("look around")
    assert not res.info["invalid_action"] and res.valid_actions
    assert 0.0 <= res.score <= 1.0 and "raw_score" in res.info


def test_determinism_and_seeds_differ(living: ScienceWorldEnv) -> None:
    first = [(living.reset(seed=s).task, living.last_observation) for s in range(4)]
    again = [(living.reset(seed=s).task, living.last_observation) for s in range(4)]
    assert first == again
    assert len(set(first)) >= 3


def test_gold_replay_on_more_seeds(living: ScienceWorldEnv) -> None:
    for seed in (7, 42):
        living.reset(seed=seed)
        res = None
        for action in living.gold_actions() or []:
            res = living.step(action)
        assert res is not None and res.success and res.score == 1.0 and res.terminated


def test_splits_are_the_benchmarks_own_and_disjoint(living: ScienceWorldEnv) -> None:
    test = envs.make(
        "sciworld-find-living-thing", split="test", seeds=[225, 226], max_steps=5, server=living.raw
    )
    try:
        assert set(living.seeds()).isdisjoint(range(150, 300))
        assert test.seeds() == (225, 226)
        envs.check_env(test)  # on test: gold refused
        with pytest.raises(envs.EnvUsageError, match="only available on the train split"):
            test.gold_actions()
    finally:
        test.close()
    with pytest.raises(envs.EnvUsageError, match="not in the 'dev' fold"):
        envs.make("sciworld-find-living-thing", split="dev", seeds=[0])


def test_invalid_action_is_counted_not_raised(living: ScienceWorldEnv) -> None:
    living.reset(seed=1)
    res = living.step("dance with the orange")
    assert res.info["invalid_action"] is True and living.invalid_actions == 1
    assert res.observation.startswith("Invalid action 'dance with the orange' (No known action matches")
    assert "Valid actions include:" in res.observation


def test_actions_outside_the_list_are_still_accepted(living: ScienceWorldEnv) -> None:
    obs = living.reset(seed=0)
    gold = living.gold_actions() or []
    unlisted = [a for a in gold if a not in obs.valid_actions]
    assert "focus on butterfly" in gold or unlisted  # gold phrasings are not always in the list
    res = living.step("go to kitchen")
    assert not res.info["invalid_action"]


def test_ambiguous_request_offers_options_then_resolves(living: ScienceWorldEnv) -> None:
    living.reset(seed=0)
    living.step("go to kitchen")
    res = living.step("look at door")
    assert res.info["ambiguous"] and len(res.valid_actions) >= 2
    option = res.valid_actions[0]
    after = living.step(option)
    assert not after.info["invalid_action"] and not after.info["ambiguous"]
    assert after.observation.lower().startswith("a door")
    living.step("look at door")
    cancelled = living.step("look around")  # anything else cancels the question, then runs
    assert cancelled.observation.startswith("This room is called the kitchen")


def test_shortlist_helper_ranks_without_restricting(living: ScienceWorldEnv) -> None:
    obs = living.reset(seed=0)
    short = living.shortlist(10)
    assert len(short) == 10 and set(short) <= set(obs.valid_actions)
    assert short[:2] == ("look around", "inventory")
    assert any("kitchen" in a for a in short)  # the task names the kitchen


def test_wrong_focus_fails_with_score_zero(living: ScienceWorldEnv) -> None:
    living.reset(seed=0)
    res = living.step("focus on agent")
    assert res.terminated and not res.success and res.score == 0.0
    assert res.info["task_failure"] and res.info["raw_score"] < 0


def test_medium_preset_and_bad_simplification(server: object) -> None:
    with pytest.raises(envs.EnvUsageError, match=r"Unknown simplification 'fastMode'.*'openDoors'"):
        envs.make("sciworld-find-plant", simplifications="easy,fastMode")
    with pytest.raises(envs.EnvUsageError, match=r"Unknown preset 'hard'.*'easy', 'medium'"):
        envs.make("sciworld-find-plant", preset="hard")
    env = envs.make("sciworld-find-plant", split="dev", preset="medium", max_steps=3, server=server)
    try:
        obs = env.reset()
        assert obs.info["task_type"] == "find-plant/medium"
        assert obs.info["simplifications"] == "openDoors,noElectricalAction"
        assert not any(a.startswith("teleport to") for a in obs.valid_actions)
    finally:
        env.close()
