"""Records of what happened in an episode: steps, counters, outcome (JSON-ready dataclasses)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from envs.base import Env, Observation
from envs.shortlist import after_verb

# Actions that only show the state again; they carry no lesson and are left out of memories.
NON_INFORMATIVE = frozenset({"look around", "look", "inventory", "examine room", "wait", "wait1"})

@dataclass
class StepRecord:
    """One step of an episode."""

    action: str
    """The action sent to the environment."""
    observation: str
    """What the environment answered."""
    thought: str = ""
    """The model's thought before the action (empty when the step was not the model's choice)."""
    reward: float = 0.0
    """Reward of this step (score delta in the benchmark's units)."""
    score: float = 0.0
    """Episode score after the step, 0..1."""
    invalid: bool = False
    """The environment rejected the action."""
    source: str = "model"
    """Who chose the action: ``model``, ``matched`` (model text mapped to the nearest valid action),
    ``explore`` (loop control replaced a repeated action), ``fallback`` (the model's reply was unusable)."""
    error: str = ""
    """What went wrong with the model's reply, if anything."""
    unlocked: tuple[str, ...] = ()
    """Actions valid after this step, not before it, that the episode took later: what the step made possible
    ("take knife" offers "slice yellow potato"), whatever the game's grammar (:func:`mark_unlocked`)."""
    undid: tuple[str, ...] = ()
    """Earlier rewarded actions of the episode this step made valid again: what it undid
    (:func:`agent.core.undo.undone_by`)."""
    used: tuple[str, ...] = ()
    """Memories the step stood on (the facts behind an action memory took without the model): credited with what
    the step earned, not with the episode's score."""


def mark_unlocked(steps: Sequence[StepRecord], before: Sequence[frozenset[str]],
                  after: Sequence[frozenset[str]]) -> None:  # fmt: skip
    """Set each step's ``unlocked`` from the valid actions before and after it (parallel to ``steps``)."""
    later: set[str] = set()  # the actions taken after step i, gathered walking backwards
    for i in range(len(steps) - 1, -1, -1):
        if i < min(len(before), len(after)):
            steps[i].unlocked = tuple(sorted((after[i] - before[i]) & later))
        later.add(steps[i].action)


@dataclass
class Counters:
    """Model mistakes and costs of an episode; mistakes are counted, never raised."""

    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    parse_failures: int = 0
    """Replies that never validated against the schema (after retries)."""
    action_mismatches: int = 0
    """Replies whose action was not valid and was mapped to the nearest valid one."""
    invalid_actions: int = 0
    """Actions the environment rejected."""
    loop_overrides: int = 0
    """Repeated no-effect actions replaced by an untried one."""
    env_errors: int = 0
    """Exceptions raised by the environment (recorded, the episode ends)."""
    model_errors: int = 0
    """Model calls that failed (timeout, server error)."""
    recalls: int = 0
    """Retrievals after the first, made when a step brought new things into view."""
    memory_seconds: float = 0.0
    """Seconds spent retrieving memory and valuing offered actions (part of the episode's ``seconds``)."""
    memory_actions: int = 0
    """Steps taken from memory without the model (an untried action that earned points in similar tasks)."""
    analogy_actions: int = 0
    """Steps taken from memory by analogy without the model (an object placed where an alike one earned points)."""
    likeness_actions: int = 0
    """Steps taken without the model towards placing an object where memory put the most alike objects."""

    def add(self, other: Counters) -> None:
        """Add another episode's counters to these."""
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


@dataclass
class Episode:
    """A whole attempt at one task."""

    env_id: str
    split: str
    seed: int
    task_type: str
    task: str
    first_observation: str
    steps: list[StepRecord] = field(default_factory=list)
    success: bool = False
    score: float = 0.0
    stop_reason: str = ""
    """Why it ended: ``terminated``, ``truncated``, ``loop``, ``env_error``, ``answered``."""
    seconds: float = 0.0
    counters: Counters = field(default_factory=Counters)
    memory_ids: list[str] = field(default_factory=list)
    """Memories the episode used (credited by the feedback hook): those in its prompt, and the facts behind the
    steps memory took without the model."""
    trial: int = 1
    """Which attempt at this task (Reflexion retries count up)."""
    sample: int = 0
    """Which sample of this trial (0: the model's own settings; 1+: sampled, see ``EvolutionConfig.samples``)."""
    episode_id: str = ""
    tag: str = ""
    """What the episode was for: ``train`` or an evaluation tag such as ``test/full``."""
    reflection: str = ""
    """The Reflexion note written after this (failed) episode, if any."""
    code: str = ""
    """A hash of the agent code that played the episode ('' when not recorded)."""

    @classmethod
    def begin(cls, env: Env, seed: int, obs: Observation, *, trial: int = 1, episode_id: str | None = None,
              memory_ids: Sequence[str] = ()) -> Episode:  # fmt: skip
        """A new episode of ``env`` at ``seed`` whose first observation is ``obs`` (a fresh id unless given)."""
        info = obs.info
        return cls(env_id=str(info.get("env_id", getattr(env, "env_id", ""))), split=str(info.get("split", "")),
                   seed=seed, task_type=str(info.get("task_type", "")), task=obs.task, first_observation=obs.text,
                   memory_ids=list(memory_ids), trial=trial,
                   episode_id=uuid.uuid4().hex[:12] if episode_id is None else episode_id)  # fmt: skip

    @property
    def n_steps(self) -> int:
        """Number of steps taken."""
        return len(self.steps)

    def rewarded_actions(self) -> list[str]:
        """Actions whose step earned reward, in order (the grounded, accepted moves)."""
        return [s.action for s in self.steps if s.reward > 0 and not s.invalid]

    def enabling_steps(self, *, unlocks: bool = False) -> dict[int, str]:
        """Unrewarded steps that prepared a later rewarded action on the same object → that action.

        "open fridge" before "put white onion in fridge" (rewarded): the first earned nothing, yet the
        second needed it. For each rewarded action, the nearest earlier unrewarded step on each object
        (the words after its verb phrase: "pick up seed" is on "seed") that appears in it counts ("close
        fridge" before a later "open fridge" does not); look/inventory never do. With ``unlocks``, also the
        nearest earlier unrewarded step that made the rewarded action valid (``StepRecord.unlocked``: "take
        knife" before "slice yellow potato", which no word links).
        """
        enabled: dict[int, str] = {}
        for j, step in enumerate(self.steps):
            if step.reward <= 0 or step.invalid:
                continue
            if unlocks:
                opener = next((i for i in range(j - 1, -1, -1) if step.action in self.steps[i].unlocked
                               and self.steps[i].reward == 0 and not self.steps[i].invalid), None)  # fmt: skip
                if opener is not None:
                    enabled.setdefault(opener, step.action)
            objects: set[str] = set()  # the nearest step on an object is its last state change
            for i in range(j - 1, -1, -1):
                before = self.steps[i]
                obj = after_verb(before.action)
                useless = before.reward != 0 or before.invalid or before.action.lower() in NON_INFORMATIVE
                if not obj or useless or obj in objects or not re.search(rf"\b{re.escape(obj)}\b", step.action.lower()):
                    continue
                objects.add(obj)
                enabled.setdefault(i, step.action)
        return enabled

    def undoing_steps(self) -> dict[int, str]:
        """Steps of a lost episode that undid a rewarded action (``StepRecord.undid``) with nothing earned after
        them → what they undid: a loss of progress the episode never made up, not a detour on the way to more."""
        if self.success:
            return {}
        out: dict[int, str] = {}
        for i, step in enumerate(self.steps):
            if step.undid and step.reward <= 0 and not any(s.reward > 0 for s in self.steps[i + 1 :]):
                out[i] = step.undid[0]
        return out

    def essential_actions(self) -> list[str]:
        """The rewarded actions and the steps that enabled them, in order: a solved episode without its detours."""
        enabled = self.enabling_steps()
        kept = [s.action for i, s in enumerate(self.steps) if (s.reward > 0 and not s.invalid) or i in enabled]
        return list(dict.fromkeys(kept))  # a retaken object after a wrong move counts once

    def solution(self) -> tuple[str, ...]:
        """What the episode's outcome rests on: its answer for a free-answer task, else its essential actions."""
        if self.stop_reason == "answered" and self.steps:
            return (" ".join(self.steps[-1].action.lower().split()),)
        return tuple(self.essential_actions())

    def informative_actions(self) -> list[str]:
        """The trajectory without look/inventory steps, invalid actions and immediate repeats."""
        out: list[str] = []
        for step in self.steps:
            if step.invalid or step.action.lower() in NON_INFORMATIVE:
                continue
            if out and out[-1] == step.action:
                continue
            out.append(step.action)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Episode:
        """Rebuild an episode saved with :meth:`to_dict`."""
        data = dict(data)
        data["steps"] = [StepRecord(**{**s, **{k: tuple(s.get(k, ())) for k in ("unlocked", "undid", "used")}})
                         for s in data.get("steps", [])]  # fmt: skip
        data["counters"] = Counters(**data.get("counters", {}))
        return cls(**data)
