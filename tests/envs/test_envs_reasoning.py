"""reasoning-gym adapters: one-step episodes with exact-answer scoring, disjoint seed ranges per split."""

from __future__ import annotations

import pytest

import envs
from envs.reasoning import FOLDS, REGISTERED, ReasoningGymEnv

pytestmark = pytest.mark.usefixtures("require_rg")


@pytest.mark.parametrize("dataset", REGISTERED)
@pytest.mark.parametrize("split", ["train", "test"])
def test_check_env_passes(dataset: str, split: str) -> None:
    env = envs.make(f"rg-{dataset}", split=split)
    envs.check_env(env)
    envs.check_env(env, seed=env.seeds()[123])


@pytest.mark.parametrize("dataset", REGISTERED)
def test_one_step_episode_exact_answer(dataset: str) -> None:
    env = envs.make(f"rg-{dataset}", split="train", preset="medium")
    assert isinstance(env, ReasoningGymEnv)
    obs = env.reset(seed=11)
    assert obs.valid_actions == () and obs.task in obs.text
    assert obs.info["task_type"] == f"{dataset}/medium" and obs.info["dataset"] == dataset
    gold = env.gold_actions()
    assert gold is not None and len(gold) == 1
    res = env.step(f"Answer: {gold[0]}.")
    assert res.terminated and res.success and res.reward == 1.0 and res.score == 1.0
    assert (
        res.info["gold"] == gold[0] and 0.0 <= res.info["rg_score"] <= 1.0
    )  # the package's own, stricter score
    env.reset(seed=11)
    wrong = env.step("definitely not the answer")
    assert wrong.terminated and not wrong.success and wrong.score == 0.0
    assert wrong.observation.startswith("Incorrect. The answer is")


def test_determinism_and_distinct_seeds() -> None:
    env = envs.make("rg-gsm_symbolic", split="dev")
    first = [env.reset(seed=s).text for s in env.seeds()[:10]]
    assert first == [env.reset(seed=s).text for s in env.seeds()[:10]]
    assert len(set(first)) == 10


def test_split_separation() -> None:
    seeds = {
        split: set(envs.make("rg-basic_arithmetic", split=split).seeds())
        for split in ("train", "dev", "test")
    }
    assert seeds["train"].isdisjoint(seeds["test"]) and seeds["dev"].isdisjoint(seeds["test"])
    assert seeds["train"].isdisjoint(seeds["dev"])
    assert min(seeds["test"]) == FOLDS["test"].start


def test_held_out_splits_hide_the_answer() -> None:
    env = envs.make("rg-chain_sum", split="test")
    env.reset()
    res = env.step("0")
    assert "gold" not in res.info and "The answer is" not in res.observation
    with pytest.raises(envs.EnvUsageError, match="only available on the train split"):
        env.gold_actions()


def test_any_dataset_through_rg_and_config_overrides() -> None:
    env = envs.make("rg", dataset="gcd", split="train")
    obs = env.reset(seed=5)
    assert "GCD" in obs.task and obs.info["task_type"] == "gcd/easy"
    custom = envs.make("rg-basic_arithmetic", max_terms=4, operators=["+"])
    assert custom.reset().info["task_type"].startswith("basic_arithmetic/custom:")


@pytest.mark.parametrize(
    ("env_id", "params", "message"),
    [
        ("rg-basic_arithmetic", {"preset": "hard"}, r"Unknown preset 'hard'.*'easy', 'medium'"),
        ("rg-basic_arithmetic", {"max_termz": 3}, r"Unknown parameter 'max_termz'.*Did you mean 'max_terms'"),
        (
            "rg-basic_arithmetic",
            {"min_terms": "two"},
            r"min_terms='two' for rg-basic_arithmetic must be of type int",
        ),
        ("rg-basic_arithmetic", {"max_terms": 0}, "reasoning-gym rejected the config"),
        (
            "rg-basic_arithmetic",
            {"format_style": "fancy"},
            r"Unknown value of format_style 'fancy'.*'simple', 'natural'",
        ),
        (
            "rg",
            {"dataset": "gsm_symbolc"},
            r"Unknown reasoning-gym dataset 'gsm_symbolc'.*Did you mean 'gsm_symbolic'",
        ),
        ("rg", {}, "rg needs dataset="),
    ],
)
def test_bad_parameters(env_id: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(envs.EnvUsageError, match=message):
        envs.make(env_id, **params)
