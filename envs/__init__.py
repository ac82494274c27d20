"""Task environments for the self-evolving agent: real text benchmarks behind one small contract.

    import envs
    env = envs.make("twx-twc", split="train", preset="easy", seeds=range(0, 300))
    obs = env.reset(seed=0)
    result = env.step(obs.valid_actions[0])

``envs.list()`` names every id; ``envs.check_env(env)`` is the contract test each adapter passes.
This package never imports ``memory`` or ``agent``.
"""

from envs.base import SPLITS, Env, Observation, Split, StepResult
from envs.check import check_env
from envs.errors import EnvContractError, EnvRuntimeError, EnvUsageError
from envs.registry import EnvSpec, list_envs, make, register, spec

# ``envs.list()`` is the public name; it is left out of ``__all__`` so ``from envs import *`` cannot shadow
# the builtin ``list`` in the importing module.
list = list_envs

__all__ = [
    "SPLITS",
    "Env",
    "EnvContractError",
    "EnvRuntimeError",
    "EnvSpec",
    "EnvUsageError",
    "Observation",
    "Split",
    "StepResult",
    "check_env",
    "list_envs",
    "make",
    "register",
    "spec",
]
