"""Machinery shared by every adapter: seeds and splits, the step limit, invalid actions, info fields.

An adapter subclasses :class:`Adapter` and implements four hooks: ``_fold_seeds`` (the benchmark's own
fold for the split), ``_start`` (begin the task for a seed), ``_act`` (forward one action) and
``_task_type``. The base class then guarantees the contract for all of them alike:

* ``reset(seed=...)`` only accepts seeds of the split (and of the ``seeds=`` sub-range, if one was given);
* every ``info`` carries ``env_id``, ``split``, ``seed``, ``task_type``, ``step`` and ``raw_score``;
* an action outside the known valid-action list is not forwarded: it comes back as an observation naming
  some valid actions, with ``info["invalid_action"] = True``, is counted in ``invalid_actions`` and uses
  a step;
* the episode is cut at ``max_steps`` with ``truncated=True``;
* gold actions are only handed out on the train split.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from envs.base import SPLITS, Env, Observation, Split, StepResult
from envs.errors import EnvUsageError, check_choice
from envs.shortlist import shortlist_actions

INVALID_SHOWN = 10
"""How many valid actions an invalid-action observation names."""


@dataclass
class Frame:
    """What an adapter hook reports after starting a task or forwarding an action."""

    text: str
    """Observation text from the benchmark."""
    valid_actions: tuple[str, ...]
    """Actions accepted now; empty when any free text is accepted."""
    raw_score: float = 0.0
    """Episode score in the benchmark's own units."""
    score: float = 0.0
    """Episode score normalised to 0..1."""
    terminated: bool = False
    """The task ended by its own rules."""
    success: bool = False
    """The task was completed successfully."""
    invalid: bool = False
    """The benchmark itself rejected the action (the adapter counts it)."""
    reward: float | None = None
    """Reward of the step; None means the raw-score delta."""
    task: str = ""
    """Task description (only read from ``_start``)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Adapter-specific extras merged into ``info``."""


def normalise_action(action: str) -> str:
    """Whitespace- and case-normalised form of an action, used to match it to the valid list.

    Args:
        action: The action text.

    Returns:
        The action lower-cased with runs of whitespace collapsed.
    """
    return " ".join(str(action).lower().split())


def check_split(split: str, env_id: str) -> Split:
    """Validate a split name.

    Args:
        split: The split the caller asked for.
        env_id: The environment id, for the message.

    Returns:
        The split, typed.

    Raises:
        EnvUsageError: naming the allowed splits.
    """
    check_choice("split", split, SPLITS, where=env_id)
    return split  # type: ignore[return-value]


def check_seed_subset(
    seeds: Iterable[int] | int | None, fold: Sequence[int], *, env_id: str, split: str
) -> tuple[int, ...]:
    """Validate a ``seeds=`` restriction against the split's fold.

    Args:
        seeds: The seeds the caller wants (an int, any iterable of ints, or None for the whole fold).
        fold: Every seed of the split.
        env_id: For the message.
        split: For the message.

    Returns:
        The seeds to use, in the caller's order (the whole fold when ``seeds`` is None).

    Raises:
        EnvUsageError: if a seed is not an int, is outside the fold, or the selection is empty.
    """
    if seeds is None:
        return tuple(fold)
    chosen = [seeds] if isinstance(seeds, int) else list(seeds)
    bad_type = [s for s in chosen if not isinstance(s, int) or isinstance(s, bool)]
    if bad_type:
        raise EnvUsageError(f"Seeds must be ints, got {bad_type[:5]!r} for {env_id}.")
    members = fold if isinstance(fold, range) else frozenset(fold)
    outside = [s for s in chosen if s not in members]
    if outside:
        raise EnvUsageError(
            f"Seeds {outside[:5]!r}{' ...' if len(outside) > 5 else ''} are not in the {split!r} fold of "
            f"{env_id} ({describe_seeds(fold)}). Pick seeds from env.seeds() of that split."
        )
    if not chosen:
        raise EnvUsageError(f"The seeds= selection for {env_id} is empty; pass at least one seed.")
    return tuple(dict.fromkeys(chosen))


def describe_seeds(seeds: Sequence[int]) -> str:
    """Short description of a seed set, e.g. ``"seeds 0-999"`` or ``"4 seeds: 3, 7, 9, 12"``.

    Args:
        seeds: The seeds.

    Returns:
        A human-readable summary.
    """
    if isinstance(seeds, range) and seeds.step == 1 and len(seeds) > 0:
        return f"seeds {seeds.start}-{seeds.stop - 1}"
    items = list(seeds)
    if items and items == list(range(items[0], items[0] + len(items))):
        return f"seeds {items[0]}-{items[-1]}"
    head = ", ".join(str(s) for s in items[:8])
    return f"{len(items)} seeds: {head}{', ...' if len(items) > 8 else ''}"


class Adapter(Env, abc.ABC):
    """Base class of every adapter in this package (see the module docstring for what it guarantees)."""

    accepts_free_text: bool = False
    """True when any action is forwarded to the benchmark, which judges it (the adapter then relies on
    ``Frame.invalid`` to count rejections)."""
    stable_valid_actions: bool = True
    """False when the benchmark may word a few valid actions differently on two resets of one seed."""

    def __init__(
        self,
        env_id: str,
        split: str,
        *,
        seeds: Iterable[int] | int | None = None,
        max_steps: int | None = 30,
        preset: str = "",
    ) -> None:
        """Set up split, seeds and step limit; subclasses call this after they can enumerate their fold.

        Args:
            env_id: The registry id.
            split: ``"train"``, ``"dev"`` or ``"test"``.
            seeds: Restrict the split to these seeds (must lie in the split's fold).
            max_steps: Step limit per episode (None: the adapter's natural episode length).
            preset: Name of the preset used, recorded in ``info``.
        """
        self.env_id = env_id
        self.split = check_split(split, env_id)
        if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
            raise EnvUsageError(
                f"max_steps must be a positive int (or None), got {max_steps!r} for {env_id}."
            )
        self.max_steps = max_steps if max_steps is not None else 0
        self._max_steps_given = max_steps
        self.preset = preset
        self._seeds = check_seed_subset(seeds, self._fold_seeds(), env_id=env_id, split=self.split)
        self._seed_set = frozenset(self._seeds)
        self.invalid_actions = 0
        self.total_invalid_actions = 0
        self.steps = 0
        self.seed: int | None = None
        self.task = ""
        self.last_observation = ""
        self.valid_actions: tuple[str, ...] = ()
        self.score = 0.0
        self.raw_score = 0.0
        self._over = False
        self._valid_set: frozenset[str] = frozenset()
        self._valid_index: dict[str, str] | None = None

    # ----- hooks -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def _fold_seeds(self) -> Sequence[int]:
        """Every seed of ``self.split`` in the benchmark's own fold."""

    @abc.abstractmethod
    def _start(self, seed: int) -> Frame:
        """Begin the task for ``seed``; the frame's ``task`` holds the goal."""

    @abc.abstractmethod
    def _act(self, action: str) -> Frame:
        """Forward one (already validated) action to the benchmark."""

    @abc.abstractmethod
    def _task_type(self) -> str:
        """Task family of the current task, e.g. ``"twc/easy"``; agents group results by it."""

    def _gold(self) -> list[str] | None:
        """The benchmark's gold path for the current task, or None (only called on train)."""
        return None

    def _episode_limit(self) -> int:
        """Step limit used when ``max_steps=None`` was given (default 30)."""
        return 30

    # ----- contract ----------------------------------------------------------------------------------
    def seeds(self) -> tuple[int, ...]:
        """Every task seed this environment serves: the split's fold, or the ``seeds=`` sub-range."""
        return self._seeds

    def reset(self, *, seed: int | None = None) -> Observation:
        """Start an episode on task ``seed`` (None: the first seed of :meth:`seeds`).

        Raises:
            EnvUsageError: if ``seed`` is not one of :meth:`seeds`.
        """
        if seed is None:
            seed = self._seeds[0]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed not in self._seed_set:
            raise EnvUsageError(
                f"Seed {seed!r} is not served by {self.env_id} split={self.split!r} "
                f"({describe_seeds(self._seeds)}). Use a seed from env.seeds()."
            )
        self.seed = seed
        self.steps = 0
        self.invalid_actions = 0
        self._over = False
        frame = self._start(seed)
        if self._max_steps_given is None:
            self.max_steps = self._episode_limit()
        self.task = frame.task
        self._update(frame)
        return Observation(
            task=self.task, text=frame.text, valid_actions=self.valid_actions, info=self._info(frame)
        )

    def step(self, action: str) -> StepResult:
        """Take one action; invalid actions and steps after the end come back as observations."""
        if self.seed is None:
            raise EnvUsageError(f"Call reset() on {self.env_id} before step().")
        if self._over:
            return self._result(
                Frame(
                    text="The episode is over. Call reset() to start a new one.",
                    valid_actions=(),
                    raw_score=self.raw_score,
                    score=self.score,
                    terminated=True,
                    success=self._last_success,
                    reward=0.0,
                    info={"episode_over": True},
                ),
                truncated=False,
            )
        self.steps += 1
        canonical = self._match(action)
        if canonical is None:
            frame = self._invalid_frame(action)
        else:
            prev_raw = self.raw_score
            frame = self._act(canonical)
            if frame.reward is None:
                frame.reward = frame.raw_score - prev_raw
            if frame.invalid:
                frame.text = self._invalid_text(action, frame.text)
        if frame.invalid:
            self.invalid_actions += 1
            self.total_invalid_actions += 1
        truncated = not frame.terminated and self.steps >= self.max_steps
        self._update(frame)
        self._over = frame.terminated or truncated
        return self._result(frame, truncated=truncated)

    def gold_actions(self) -> list[str] | None:
        """The benchmark's gold action sequence for the current task (train split only).

        Raises:
            EnvUsageError: on dev/test (held out: gold paths would leak the answers), or before ``reset``.
        """
        if self.split != "train":
            raise EnvUsageError(
                f"Gold actions are only available on the train split; {self.env_id} split={self.split!r} is "
                "held out for measuring improvement on unseen tasks. Use split='train' for gold corrections."
            )
        if self.seed is None:
            raise EnvUsageError(f"Call reset() on {self.env_id} before gold_actions().")
        return self._gold()

    def shortlist(self, k: int = 20) -> tuple[str, ...]:
        """At most ``k`` current valid actions, ranked by overlap with the task and last observation."""
        if not self.valid_actions:
            return ()
        return shortlist_actions(
            self.valid_actions,
            task=self.task,
            observation=self.last_observation,
            k=k,
            keep=self._always_shown(),
        )

    # ----- helpers -----------------------------------------------------------------------------------
    _last_success: bool = False

    def _always_shown(self) -> tuple[str, ...]:
        """Actions the shortlist keeps whenever they are valid."""
        return ("look around", "inventory")

    def _match(self, action: str) -> str | None:
        """The canonical valid action for ``action``; the action itself when free text is accepted."""
        if not isinstance(action, str):
            action = str(action)
        if self.accepts_free_text or not self.valid_actions:
            return action.strip()
        if action in self._valid_set:
            return action
        if self._valid_index is None:  # built lazily: most actions match exactly
            self._valid_index = {normalise_action(a): a for a in self.valid_actions}
        return self._valid_index.get(normalise_action(action))

    def _invalid_text(self, action: str, detail: str = "") -> str:
        shown = self.shortlist(INVALID_SHOWN) if self.valid_actions else ()
        why = f" ({detail.strip()})" if detail.strip() else ""
        listing = f" Valid actions include: {', '.join(shown)}." if shown else ""
        return f"Invalid action {action!r}{why}.{listing}"

    def _invalid_frame(self, action: str) -> Frame:
        return Frame(
            text=self._invalid_text(action),
            valid_actions=self.valid_actions,
            raw_score=self.raw_score,
            score=self.score,
            invalid=True,
            reward=0.0,
            success=self._last_success,
        )

    def _update(self, frame: Frame) -> None:
        self.last_observation = frame.text
        self.valid_actions = tuple(frame.valid_actions)
        self._valid_set = frozenset(self.valid_actions)
        self._valid_index = None
        self.raw_score = frame.raw_score
        self.score = min(max(frame.score, 0.0), 1.0)
        self._last_success = frame.success

    def _info(self, frame: Frame) -> dict[str, Any]:
        info: dict[str, Any] = {
            "env_id": self.env_id,
            "split": self.split,
            "seed": self.seed,
            "task_type": self._task_type(),
            "preset": self.preset,
            "step": self.steps,
            "max_steps": self.max_steps,
            "raw_score": frame.raw_score,
            "invalid_action": frame.invalid,
            "invalid_actions": self.invalid_actions,
        }
        info.update(frame.info)
        return info

    def _result(self, frame: Frame, *, truncated: bool) -> StepResult:
        return StepResult(
            observation=frame.text,
            reward=float(frame.reward or 0.0),
            score=self.score,
            terminated=frame.terminated,
            truncated=truncated,
            success=frame.success,
            valid_actions=self.valid_actions,
            info=self._info(frame),
        )
