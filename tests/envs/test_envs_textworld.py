"""TextWorldExpress adapters against the real simulator (Java)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import envs
from envs.textworld import FOLDS, GAMES, TextWorldExpressEnv

pytestmark = pytest.mark.usefixtures("require_twx")

Maker = Callable[..., TextWorldExpressEnv]


@pytest.fixture(scope="module")
def make_twx() -> Iterator[Maker]:
    """Build TWX envs, one per (game, split, preset), reused across the module and closed at its end."""
    cache: dict[tuple[str, str, str], TextWorldExpressEnv] = {}

    def make(game: str, split: str = "train", preset: str = "easy") -> TextWorldExpressEnv:
        key = (game, split, preset)
        if key not in cache:
            env = envs.make(f"twx-{game}", split=split, preset=preset)
            assert isinstance(env, TextWorldExpressEnv)
            cache[key] = env
        return cache[key]

    yield make
    for env in cache.values():
        env.close()


@pytest.mark.parametrize("game", list(GAMES))
@pytest.mark.parametrize("split", ["train", "test"])
def test_check_env_passes(make_twx: Maker, game: str, split: str) -> None:
    env = make_twx(game, split)
    envs.check_env(env)
    envs.check_env(env, seed=env.seeds()[7])


@pytest.mark.parametrize("game", list(GAMES))
def test_reset_step_and_info(make_twx: Maker, game: str) -> None:
    env = make_twx(game)
    obs = env.reset(seed=3)
    assert obs.task and obs.text
    assert obs.valid_actions and list(obs.valid_actions) == sorted(obs.valid_actions)
    assert obs.info["env_id"] == f"twx-{game}" and obs.info["split"] == "train" and obs.info["seed"] == 3
    assert obs.info["task_type"] == f"{game}/easy"
    res = env.step(obs.valid_actions[0])
    assert isinstance(res, envs.StepResult)
    assert 0.0 <= res.score <= 1.0 and res.valid_actions
    assert res.info["task_type"] == f"{game}/easy"


@pytest.mark.parametrize("game", list(GAMES))
def test_determinism_by_seed(make_twx: Maker, game: str) -> None:
    env = make_twx(game)
    first = [(env.reset(seed=s).text, env.valid_actions) for s in range(6)]
    again = [(env.reset(seed=s).text, env.valid_actions) for s in range(6)]
    assert first == again
    texts = {t for t, _ in first} | {" ".join(v) for _, v in first}
    assert len(texts) >= 4, "different seeds should mostly give different games"


@pytest.mark.parametrize("game", list(GAMES))
@pytest.mark.parametrize("preset", ["easy", "medium"])
def test_gold_replay_reaches_success(make_twx: Maker, game: str, preset: str) -> None:
    env = make_twx(game, "train", preset)
    for seed in (0, 41):
        env.reset(seed=seed)
        gold = env.gold_actions()
        assert gold
        res = None
        for action in gold:
            res = env.step(action)
            assert not res.info["invalid_action"], action
        assert res is not None and res.success and res.terminated and res.score == 1.0


def test_the_coin_gold_path_is_the_same_every_run_and_leaves_the_episode_as_it_was() -> None:
    """The simulator's coin path is a random walk, another at each reset: corrections and replays would differ."""
    paths = []
    for _ in range(2):
        with envs.make("twx-coin", split="train", preset="medium") as env:
            env.reset(seed=302)
            moved = env.step("look around").observation
            paths.append(env.gold_actions())
            assert env.step("look around").observation == moved  # the episode in progress was restored
    assert paths[0] == paths[1] == ["move west", "open door to west", "move west", "take coin"]


def test_gold_refused_on_held_out_splits(make_twx: Maker) -> None:
    env = make_twx("twc", "test")
    env.reset(seed=20000)
    with pytest.raises(envs.EnvUsageError, match="only available on the train split"):
        env.gold_actions()


def test_split_separation_and_folds(make_twx: Maker) -> None:
    train, test = make_twx("twc", "train"), make_twx("twc", "test")
    assert set(train.seeds()).isdisjoint(test.seeds())
    assert tuple(train.seeds()) == tuple(FOLDS["train"]) and tuple(test.seeds()) == tuple(FOLDS["test"])
    with pytest.raises(envs.EnvUsageError, match="not served"):
        train.reset(seed=20000)


def test_seed_subranges_are_disjoint_cuts_of_a_fold() -> None:
    learn = envs.make("twx-twc", split="train", seeds=range(0, 300))
    try:
        assert learn.seeds() == tuple(range(300))
        with pytest.raises(envs.EnvUsageError, match="not served"):
            learn.reset(seed=500)
    finally:
        learn.close()
    with pytest.raises(envs.EnvUsageError, match=r"not in the 'train' fold of twx-twc \(seeds 0-999\)"):
        envs.make("twx-twc", split="train", seeds=range(900, 1100))


def test_invalid_action_is_an_observation_and_counted(make_twx: Maker) -> None:
    env = make_twx("twc")
    obs = env.reset(seed=1)
    res = env.step("dance wildly")
    assert res.info["invalid_action"] is True and env.invalid_actions == 1
    assert res.observation.startswith("Invalid action 'dance wildly'. Valid actions include:")
    assert res.valid_actions == obs.valid_actions and res.info["step"] == 1
    ok = env.step("  LOOK   Around ")  # whitespace/case are normalised
    assert not ok.info["invalid_action"] and env.invalid_actions == 1


def test_step_limit_truncates(make_twx: Maker) -> None:
    env = envs.make("twx-coin", split="train", max_steps=3, preset="medium")
    try:
        env.reset(seed=5)
        results = [env.step("inventory") for _ in range(3)]
        assert [r.truncated for r in results] == [False, False, True]
        assert env.step("inventory").info.get("episode_over")
    finally:
        env.close()


def test_raw_parameters_override_presets() -> None:
    env = envs.make("twx-twc", split="dev", numItemsToPutAway=2)
    try:
        obs = env.reset()
        assert obs.info["seed"] == 10000
        assert obs.info["params"]["numItemsToPutAway"] == 2
        assert obs.info["task_type"].startswith("twc/custom:")
    finally:
        env.close()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"preset": "eazy"},
            r"Unknown preset 'eazy' for twx-twc\. Allowed values: 'easy', 'medium'\. Did you mean",
        ),
        ({"numLocation": 2}, r"Unknown parameter 'numLocation'.*'numLocations'.*Did you mean 'numLocations'"),
        (
            {"numLocations": 9},
            r"numLocations=9 is out of range for twx-twc: allowed values are integers 1\.\.3",
        ),
        ({"split": "valid"}, r"Unknown split 'valid'.*'train', 'dev', 'test'"),
        ({"max_steps": 0}, "max_steps must be a positive int"),
    ],
)
def test_bad_parameters_name_the_allowed_values(params: dict[str, object], message: str) -> None:
    with pytest.raises(envs.EnvUsageError, match=message):
        envs.make("twx-twc", **params)  # type: ignore[arg-type]
