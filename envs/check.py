"""``check_env``: the contract test every adapter must pass (after Gymnasium's ``check_env``).

It drives a real episode or three and checks: enumerable seeds; reset returns an ``Observation`` whose
``info`` names env_id, split, seed and task_type; the same seed gives the same first observation (and the
same valid actions, unless the adapter sets ``stable_valid_actions = False`` and says why); steps
return well-formed ``StepResult``s with a 0..1 score; an invalid action is answered, flagged and counted,
never raised; the step limit truncates; stepping after the end does not raise; gold actions replay to
success on train and are refused on dev/test.
"""

from __future__ import annotations

import random
from typing import Any

from envs.base import Env, Observation, StepResult
from envs.errors import EnvContractError, EnvUsageError

GIBBERISH = "qzx frobnicate the zyzzyva"
"""An action no benchmark accepts."""


def _fail(env: Env, what: str) -> EnvContractError:
    return EnvContractError(
        f"{type(env).__name__} ({env.env_id}, split={env.split!r}) breaks the contract: {what}"
    )


def _check_info(env: Env, info: Any, seed: int, where: str) -> None:
    if not isinstance(info, dict):
        raise _fail(env, f"{where} info is {type(info).__name__}, not a dict")
    for key in ("env_id", "split", "seed", "task_type"):
        if key not in info:
            raise _fail(env, f"{where} info lacks {key!r}")
    if info["env_id"] != env.env_id or info["split"] != env.split or info["seed"] != seed:
        raise _fail(env, f"{where} info names {info['env_id']!r}/{info['split']!r}/{info['seed']!r}")
    if not isinstance(info["task_type"], str) or not info["task_type"]:
        raise _fail(env, f"{where} info task_type is empty")


def _check_step(env: Env, res: Any, seed: int) -> StepResult:
    if not isinstance(res, StepResult):
        raise _fail(env, f"step returned {type(res).__name__}, not StepResult")
    if not isinstance(res.observation, str):
        raise _fail(env, "StepResult.observation is not a str")
    if not 0.0 <= res.score <= 1.0:
        raise _fail(env, f"score {res.score} is outside 0..1")
    for flag in ("terminated", "truncated", "success"):
        if not isinstance(getattr(res, flag), bool):
            raise _fail(env, f"StepResult.{flag} is not a bool")
    if not isinstance(res.valid_actions, tuple) or not all(isinstance(a, str) for a in res.valid_actions):
        raise _fail(env, "StepResult.valid_actions is not a tuple of str")
    _check_info(env, res.info, seed, "step")
    return res


def _reset(env: Env, seed: int) -> Observation:
    obs = env.reset(seed=seed)
    if not isinstance(obs, Observation):
        raise _fail(env, f"reset returned {type(obs).__name__}, not Observation")
    if not obs.task.strip() or not obs.text.strip():
        raise _fail(env, "reset returned an empty task or observation")
    if not isinstance(obs.valid_actions, tuple):
        raise _fail(env, "Observation.valid_actions is not a tuple")
    _check_info(env, obs.info, seed, "reset")
    return obs


def check_env(env: Env, *, seed: int | None = None, rng_seed: int = 0, gold: bool = True) -> None:
    """Check that ``env`` honours the :class:`~envs.base.Env` contract, against the real benchmark.

    Args:
        env: A freshly made environment.
        seed: Task seed to use (default: the first of ``env.seeds()``).
        rng_seed: Seed of the random actions taken.
        gold: Also replay the gold actions (train) or check they are refused (dev/test).

    Raises:
        EnvContractError: describing the first broken rule.
    """
    seeds = list(env.seeds())
    if not seeds or not all(isinstance(s, int) for s in seeds) or len(set(seeds)) != len(seeds):
        raise _fail(env, "seeds() must be a non-empty sequence of distinct ints")
    seed = seeds[0] if seed is None else seed
    rng = random.Random(rng_seed)

    first = _reset(env, seed)
    again = _reset(env, seed)
    if (first.task, first.text) != (again.task, again.text):
        raise _fail(env, f"reset(seed={seed}) twice gave different first observations")
    if getattr(env, "stable_valid_actions", True) and first.valid_actions != again.valid_actions:
        raise _fail(env, f"reset(seed={seed}) twice gave different valid actions")

    before = env.invalid_actions
    res = _check_step(env, env.step(GIBBERISH), seed)
    free_text = bool(getattr(env, "accepts_free_text", False))
    if again.valid_actions and not free_text:
        if not res.info.get("invalid_action") or env.invalid_actions != before + 1:
            raise _fail(env, "an action outside valid_actions was not flagged and counted as invalid")
        if "invalid" not in res.observation.lower():
            raise _fail(env, "the invalid-action observation does not say the action was invalid")

    _reset(env, seed)
    steps = 0
    valid = again.valid_actions
    while True:
        action = rng.choice(valid) if valid else "next"
        res = _check_step(env, env.step(action), seed)
        steps += 1
        if res.done:
            break
        if steps > env.max_steps:
            raise _fail(env, f"episode not done after max_steps={env.max_steps} steps")
        valid = res.valid_actions
    if steps >= env.max_steps and not res.terminated and not res.truncated:
        raise _fail(env, "reaching max_steps did not set truncated")
    _check_step(env, env.step(action), seed)  # stepping after the end must answer, not raise

    if not gold:
        return
    if env.split != "train":
        try:
            env.gold_actions()
        except EnvUsageError:
            return
        raise _fail(env, "gold_actions() must raise EnvUsageError outside the train split")
    _reset(env, seed)
    path = env.gold_actions()
    if path is None:
        return
    last: StepResult | None = None
    for action in path:
        last = _check_step(env, env.step(action), seed)
        if last.done:
            break
    if last is None or not last.success:
        raise _fail(env, f"replaying the gold actions of seed {seed} did not reach success")
