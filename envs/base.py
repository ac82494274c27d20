"""The environment contract every task adapter implements.

An environment is a small contract (after Gymnasium's ``core.py``): ``reset`` starts an episode and
returns an :class:`Observation`; ``step`` takes one action string and returns a :class:`StepResult`.
Invalid actions never raise: they come back as an observation saying so, and are counted.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")


@dataclass(frozen=True)
class Observation:
    """What the agent sees when an episode starts."""

    task: str
    """The task description (the goal), in natural language."""
    text: str
    """The first observation of the episode."""
    valid_actions: tuple[str, ...]
    """Actions the environment accepts now; empty when any free-text answer is accepted."""
    info: dict[str, Any] = field(default_factory=dict)
    """Adapter-specific extras (env id, split, seed, task type, ...)."""


@dataclass(frozen=True)
class StepResult:
    """The outcome of one ``step``."""

    observation: str
    """Text the environment returned for the action."""
    reward: float
    """Reward of this step alone (score delta, in the benchmark's own units)."""
    score: float
    """Episode score so far, normalised to 0..1 (higher is better)."""
    terminated: bool
    """The episode ended by the task's own rules (won or lost)."""
    truncated: bool
    """The episode was cut by the step limit."""
    success: bool
    """The task was completed successfully."""
    valid_actions: tuple[str, ...]
    """Actions the environment accepts now; empty when any free-text answer is accepted."""
    info: dict[str, Any] = field(default_factory=dict)
    """Adapter-specific extras; ``info["invalid_action"]`` is True when the action was rejected."""

    @property
    def done(self) -> bool:
        """True when the episode is over, by its rules or by the step limit."""
        return self.terminated or self.truncated


class Env(abc.ABC):
    """A task environment: ``reset`` then ``step`` until ``done``."""

    env_id: str = ""
    split: Split = "train"
    max_steps: int = 30
    invalid_actions: int = 0
    """Invalid actions taken in the current episode (each one still consumed a step)."""

    @abc.abstractmethod
    def reset(self, *, seed: int | None = None) -> Observation:
        """Start a new episode; ``seed`` picks the task within the split (None: the split's first)."""

    @abc.abstractmethod
    def step(self, action: str) -> StepResult:
        """Take one action and return what happened."""

    def seeds(self) -> Sequence[int]:
        """Every task seed of this environment's split, in order (enumerable, so runs can name them)."""
        raise NotImplementedError

    def gold_actions(self) -> list[str] | None:
        """The benchmark's gold action sequence for the current task, on the train split only.

        Returns None where the benchmark provides none. Raises on dev/test splits.
        """
        return None

    def shortlist(self, k: int = 20) -> tuple[str, ...]:
        """At most ``k`` of the current valid actions, most relevant first, for a small model's prompt.

        Shortlisting never restricts what ``step`` accepts. Returns ``()`` when any free text is accepted.
        """
        return ()

    def close(self) -> None:  # noqa: B027 - optional hook: environments without resources need nothing
        """Release external resources (a JVM, a subprocess)."""

    def __enter__(self) -> Env:
        """Use the environment in a ``with`` block; ``close`` runs at its end."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the environment when the ``with`` block ends."""
        self.close()
