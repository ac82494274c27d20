"""What the actor is configured with, what it sees at one step, and what it decides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from agent.core.context import MemoryContext
from agent.core.trajectory import StepRecord
from agent.core.valuation import Value

Family = Literal["textworld"]
"""An environment family whose optional plug-in (:mod:`agent.families`) may act on its actions' grammar."""


class ActorConfig(BaseModel):
    """How the actor builds its prompt."""

    history_window: int = Field(default=6, ge=0)
    """How many recent steps the prompt shows."""
    memory_budget: int = Field(default=700, ge=0)
    """Token budget of the memory block."""
    history_budget: int = Field(default=600, ge=50)
    """Token budget of the recent-steps block."""
    observation_budget: int = Field(default=350, ge=50)
    """Token budget of each observation text."""
    max_actions_shown: int = Field(default=40, ge=2)
    """Large action spaces are shortlisted to this many for the prompt (every valid action stays accepted)."""
    retries: int = Field(default=1, ge=0)
    """Times an unusable reply is sent back before falling back."""
    thought_chars: int = Field(default=200, ge=20)
    """Longest thought, in characters (the reply schema's ``maxLength``)."""
    hide_spent: bool = True
    """Leave out actions this episode already took that earned nothing (while others remain): a small model
    otherwise repeats "look around" and re-opens what is open."""
    hide_penalised: bool = True
    """Leave out actions memory says lost points in similar tasks (while others remain)."""
    hide_idle_verbs: bool = True
    """Leave out the untried actions of a verb whose last uses all had no effect (``ActorState.idle_verbs``),
    except what memory says earned points: "examine" offered for every object otherwise fills the episode."""
    mix_verbs: bool = True
    """List untried actions taking turns by verb within each memory rank, so one verb offered for every object
    does not fill the top of the list."""
    follow_memory: bool = True
    """Let the actor's memory policies (:mod:`agent.policies`) take a step without asking the model; the model
    explores, memory exploits what it knows."""
    keep_earned: bool = True
    """Leave out the actions the family plug-in says would undo what this episode earned or let go of what
    earlier wins held to the end (:meth:`agent.core.family.Family.undoing`; the general agent has none)."""
    place_by_analogy: bool = True
    """With ``follow_memory`` and the analogy policy: place an object memory never placed where an alike one
    earned points, and tag such placings in the list."""
    place_by_likeness: bool = True
    """With ``follow_memory`` and the likeness policy: place a held object where memory put the most alike
    objects."""
    families: tuple[Family, ...] = ("textworld",)
    """The family plug-ins on. Without ``textworld``, nothing reads TextWorld's grammar: memory values each
    offered action from the facts retrieved for the state (:mod:`agent.core.valuation`, ``value_threshold``),
    an action is spent only in the state it changed nothing in (``ActorState.spent_here``), and ``keep_earned``,
    ``place_by_analogy`` and ``place_by_likeness`` do nothing."""
    value_threshold: float = Field(default=0.5, gt=0)
    """Least value (:mod:`agent.core.valuation`) at which memory tags an action as worked elsewhere and may take
    it without the model; the negative of it tags one as failed."""
    pin_found: bool = True
    """Keep the steps that brought new things into view (a recipe, a fridge's contents) in the prompt after they
    leave the window of recent steps (``ActorState.found``)."""


@dataclass
class Decision:
    """What the actor chose."""

    action: str
    thought: str = ""
    source: str = "model"
    """Who chose: ``model``, ``matched`` (the model's text mapped to the nearest valid action), ``fallback`` (the
    reply was unusable), or a memory policy without the model (``memory``, ``analogy``, ``likeness``)."""
    error: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    grounds: tuple[str, ...] = ()
    """For a step memory took: the earned actions it stands on (their facts share the episode's credit)."""


@dataclass
class ActorState:
    """Everything the actor sees at one step."""

    task: str
    first_observation: str
    observation: str
    valid_actions: Sequence[str]
    """Actions accepted now; empty for free-answer tasks."""
    history: list[StepRecord] = field(default_factory=list)
    context: MemoryContext = field(default_factory=MemoryContext)
    shown_actions: Sequence[str] | None = None
    """A shortlist of ``valid_actions`` for the prompt (None: show them all)."""
    found: Sequence[int] = ()
    """Indexes in ``history`` of steps that brought new things into view (a recipe, a fridge's contents):
    shown under their own header once they leave the recent-steps window."""
    values: Mapping[str, Value] = field(default_factory=dict)
    """What memory says of each offered action (``MemoryContext.valuer``); empty with the TextWorld plug-in."""
    spent_here: frozenset[str] = frozenset()
    """Actions taken in this very state (the same valid actions) that earned nothing and changed nothing, or
    were taken here twice without earning: without the TextWorld plug-in, what ``hide_spent`` hides."""
    idle_verbs: frozenset[str] = frozenset()
    """Verbs (:func:`envs.shortlist.verb_of`) whose last uses in this episode all had no effect."""
