"""The random agent: a real baseline on the same held-out tasks as every ablation."""

from __future__ import annotations

import logging
import random
import time

from agent.core.trajectory import Episode, StepRecord
from envs.base import Env

log = logging.getLogger(__name__)

def random_episode(env: Env, seed: int, rng: random.Random) -> Episode:
    """A random agent (uniform over the valid actions): a real baseline."""
    start = time.perf_counter()
    obs = env.reset(seed=seed)
    episode = Episode.begin(env, seed, obs)
    valid = tuple(obs.valid_actions)
    for _ in range(env.max_steps or 30):
        action = rng.choice(valid) if valid else ""
        result = env.step(action)
        episode.steps.append(StepRecord(action=action, observation=result.observation, reward=result.reward,
                                        score=result.score, source="random"))  # fmt: skip
        episode.score, episode.success, valid = result.score, result.success, tuple(result.valid_actions)
        if result.done:
            break
    episode.seconds = round(time.perf_counter() - start, 3)
    return episode
