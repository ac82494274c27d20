"""The environment registry: ``make(env_id, split=..., **params)`` and ``list_envs()``.

Ids (see ``list_envs()`` for the full table):

* ``twx-twc``, ``twx-cookingworld``, ``twx-coin``, ``twx-mapreader``: TextWorldExpress (Java).
* ``sciworld-<task>`` for the short ScienceWorld tasks (Java).
* ``rg-<dataset>`` for a few reasoning-gym datasets, and ``rg`` with ``dataset=`` for any other.
* ``locomo`` and ``memorybank``: conversation memory, from a data ``path`` given by the caller.

Building an adapter imports its third-party package only then, so ``import envs`` stays light.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from envs.base import Env
from envs.errors import EnvUsageError, did_you_mean


@dataclass(frozen=True)
class EnvSpec:
    """A registered environment id and how to build it."""

    env_id: str
    """The id passed to :func:`make`."""
    family: str
    """Benchmark family: ``textworld-express``, ``scienceworld``, ``reasoning-gym`` or ``conversation``."""
    description: str
    """One line on the task."""
    presets: tuple[str, ...]
    """Named presets (``preset=``); the first is the default."""
    params: str
    """Other parameters ``make`` accepts, in words."""
    requires: str
    """What must be present to build it (``java``, ``path=``, or ``""``)."""
    factory: Callable[..., Env]
    """Builds the environment: ``factory(split=..., **params)``."""


_REGISTRY: dict[str, EnvSpec] = {}


def register(spec: EnvSpec) -> None:
    """Add an environment id to the registry.

    Args:
        spec: The id and its factory.

    Raises:
        EnvUsageError: if the id is already registered.
    """
    if spec.env_id in _REGISTRY:
        raise EnvUsageError(f"Environment id {spec.env_id!r} is already registered; pick another id.")
    _REGISTRY[spec.env_id] = spec


def spec(env_id: str) -> EnvSpec:
    """The registered spec of ``env_id``.

    Raises:
        EnvUsageError: for an unknown id, with the closest registered ids.
    """
    try:
        return _REGISTRY[env_id]
    except KeyError:
        hint = did_you_mean(env_id, _REGISTRY) or f" Known ids: {', '.join(sorted(_REGISTRY))}."
        raise EnvUsageError(f"Unknown environment id {env_id!r}.{hint} See `evolve envs list`.") from None


def list_envs() -> list[EnvSpec]:
    """Every registered environment, sorted by id."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def make(env_id: str, split: str = "train", **params: Any) -> Env:
    """Build an environment by id.

    Args:
        env_id: A registered id (see :func:`list_envs`).
        split: ``"train"``, ``"dev"`` or ``"test"``.
        **params: ``preset=``, ``seeds=`` (a sub-range of the split), ``max_steps=``, and the adapter's own
            parameters (raw TextWorldExpress generation parameters, ScienceWorld ``simplifications``,
            reasoning-gym config fields, conversation ``path`` ...).

    Returns:
        The environment; call ``reset(seed=...)`` to start an episode and ``close()`` when done.

    Raises:
        EnvUsageError: for an unknown id, split, preset, parameter or seed (the message names the allowed
            values).
        EnvRuntimeError: if Java or the environment package is missing (the message names the install
            command).
    """
    s = spec(env_id)
    sig = inspect.signature(s.factory)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    if not takes_any:
        allowed = [n for n in sig.parameters if n != "split"]
        for name in params:
            if name not in allowed:
                raise EnvUsageError(
                    f"Unknown parameter {name!r} for {env_id}. Allowed parameters: {', '.join(allowed)}."
                    f"{did_you_mean(name, allowed)}"
                )
    return s.factory(split=split, **params)


def _twx(game: str) -> Callable[..., Env]:
    def factory(split: str = "train", **params: Any) -> Env:
        from envs.textworld import TextWorldExpressEnv

        return TextWorldExpressEnv(game, split, **params)

    return factory


def _sciworld(task: str) -> Callable[..., Env]:
    def factory(
        split: str = "train",
        preset: str = "easy",
        simplifications: str | list[str] | None = None,
        seeds: Any = None,
        max_steps: int | None = 30,
        shortlist_k: int = 20,
        server: Any = None,
    ) -> Env:
        from envs.scienceworld import ScienceWorldEnv

        return ScienceWorldEnv(
            task,
            split,
            preset=preset,
            simplifications=simplifications,
            seeds=seeds,
            max_steps=max_steps,
            shortlist_k=shortlist_k,
            server=server,
        )

    return factory


def _rg(dataset: str | None) -> Callable[..., Env]:
    def factory(split: str = "train", **params: Any) -> Env:
        from envs.reasoning import ReasoningGymEnv

        name = params.pop("dataset", None) if dataset is None else dataset
        if name is None:
            raise EnvUsageError(
                "rg needs dataset=<reasoning-gym dataset name>, e.g. make('rg', dataset='gcd')."
            )
        return ReasoningGymEnv(str(name), split, **params)

    return factory


def _conversation(source: str) -> Callable[..., Env]:
    def factory(split: str = "train", **params: Any) -> Env:
        from envs.conversation_env import ConversationEnv

        return ConversationEnv(source, split, **params)

    return factory


def _register_builtin() -> None:
    from envs.reasoning import REGISTERED as RG_DATASETS
    from envs.scienceworld import SHORT_TASKS
    from envs.textworld import GAMES

    for game, g in GAMES.items():
        register(
            EnvSpec(
                f"twx-{game}",
                "textworld-express",
                g.description,
                tuple(g.presets),
                "seeds, max_steps, " + ", ".join(f"{k} ({lo}-{hi})" for k, (lo, hi) in g.params.items()),
                "java",
                _twx(game),
            )
        )
    for task, desc in SHORT_TASKS.items():
        register(
            EnvSpec(
                f"sciworld-{task}",
                "scienceworld",
                desc,
                ("easy", "medium"),
                "seeds, max_steps, simplifications, shortlist_k, server (a shared JVM)",
                "java",
                _sciworld(task),
            )
        )
    for name in RG_DATASETS:
        register(
            EnvSpec(
                f"rg-{name}",
                "reasoning-gym",
                f"reasoning-gym {name}: one question, one exact answer.",
                ("easy", "medium"),
                "seeds, max_steps, any field of the dataset's config",
                "",
                _rg(name),
            )
        )
    register(
        EnvSpec(
            "rg",
            "reasoning-gym",
            "Any reasoning-gym dataset (dataset=<name>): one question, one exact answer.",
            ("easy", "medium"),
            "dataset (required), seeds, max_steps, config fields",
            "",
            _rg(None),
        )
    )
    register(
        EnvSpec(
            "locomo",
            "conversation",
            "LoCoMo: read a long conversation session by session, then answer questions (token F1).",
            ("default",),
            "path (required), seeds, categories, max_questions, max_steps, success_threshold",
            "path=",
            _conversation("locomo"),
        )
    )
    register(
        EnvSpec(
            "memorybank",
            "conversation",
            "MemoryBank: read a user's dated chats, then answer probing questions (no gold; answers kept).",
            ("default",),
            "path (required), questions_path, seeds, max_questions, max_steps",
            "path=",
            _conversation("memorybank"),
        )
    )


_register_builtin()
