"""The seam between the general agent and an environment family's optional plug-in.

The core knows no environment: what it offers the model, what it remembers of an episode and what it recalls
comes from what every environment gives. A plug-in (:mod:`agent.families`) may replace a few of those general
judgements with what one family's grammar knows, through the hooks of :class:`Family`. The caller builds the
actor and the evolver with a plug-in or with :data:`GENERAL`, so which one is on is decided in one place and
named in every result (``ActorConfig.families``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from agent.core.context import MemoryContext, Retrieved
from agent.core.state import ActorState
from agent.core.trajectory import Episode, StepRecord
from agent.core.undo import undoing
from memory import MemoryBank


class Family(Protocol):
    """Hooks where a family plug-in replaces the general agent's judgement; :class:`General` is the default."""

    def held_back(self, state: ActorState, shown: Sequence[str]) -> set[str]:
        """Offered actions to leave out beside memory's penalised ones (``ActorConfig.hide_penalised``)."""
        ...

    def spent(self, state: ActorState) -> set[str]:
        """Actions this episode took that are spent (``ActorConfig.hide_spent``)."""
        ...

    def undoing(self, state: ActorState, shown: Sequence[str]) -> set[str]:
        """Offered actions that would undo what this episode earned (``ActorConfig.keep_earned``)."""
        ...

    def step_meta(self, step: StepRecord, seen: str, *, fatal: bool) -> dict[str, Any]:
        """The meta of the fact a rewarded or fatal step leaves, when the plug-in reads more in its reply than the
        general agent does (``seen``: every text of the episode); empty: the general meta."""
        ...

    def enabling_steps(self, episode: Episode) -> dict[int, str]:
        """Unrewarded steps of ``episode`` that prepared a later rewarded action → that action."""
        ...

    def kept_steps(self, episode: Episode) -> dict[int, str]:
        """Unrewarded steps of ``episode`` whose result was held to the end → what was held."""
        ...

    def undoing_steps(self, episode: Episode) -> dict[int, str]:
        """Steps of ``episode`` remembered as having undone a rewarded action → that action."""
        ...

    def recall(self, bank: MemoryBank, found: Retrieved, *, seen: str, avoid: frozenset[str], record: bool,
               switches: Mapping[str, bool]) -> MemoryContext | None:  # fmt: skip
        """The context of one episode from what retrieval ``found`` (``seen``: every text the episode showed so far;
        ``avoid``: actions this task lost with; ``record``: count the recall; ``switches``: the plug-in's recall
        options), or None: the general context (:func:`agent.learning.recall.retrieve_context`)."""
        ...

    def shown(self, context: MemoryContext) -> tuple[object, ...]:
        """The part of the plug-in's recalled data (``MemoryContext.family``) that changes what the prompt or the
        options are: a fresh retrieval that changes it replaces the episode's context."""
        ...


class General:
    """The general agent: an action is spent only in the state it changed nothing in, what is held back is what
    memory values as lost and what would undo a step that earned points (told by the valid actions it brings back),
    and episodes leave no family meta."""

    def held_back(self, state: ActorState, shown: Sequence[str]) -> set[str]:
        """Nothing."""
        return set()

    def spent(self, state: ActorState) -> set[str]:
        """The actions spent in this very state (``ActorState.spent_here``)."""
        return set(state.spent_here)

    def undoing(self, state: ActorState, shown: Sequence[str]) -> set[str]:
        """Offered actions like a step that undid an action of the same kind, in memory or in this episode, while
        this episode holds what its own rewarded actions earned (:func:`agent.core.undo.undoing`)."""
        return undoing(shown, state.valid_actions, state.history, state.context.undoes)

    def step_meta(self, step: StepRecord, seen: str, *, fatal: bool) -> dict[str, Any]:
        """Nothing beyond the general meta."""
        return {}

    def enabling_steps(self, episode: Episode) -> dict[int, str]:
        """Steps on an object a later rewarded action names, and steps that made it valid
        (:meth:`agent.core.trajectory.Episode.enabling_steps` with ``unlocks``)."""
        return episode.enabling_steps(unlocks=True)

    def kept_steps(self, episode: Episode) -> dict[int, str]:
        """None."""
        return {}

    def undoing_steps(self, episode: Episode) -> dict[int, str]:
        """Steps of a lost episode that undid a rewarded action and were never made up for
        (:meth:`agent.core.trajectory.Episode.undoing_steps`)."""
        return episode.undoing_steps()

    def recall(self, bank: MemoryBank, found: Retrieved, *, seen: str, avoid: frozenset[str], record: bool,
               switches: Mapping[str, bool]) -> MemoryContext | None:  # fmt: skip
        """None: the general context, which values each offered action from the facts retrieved."""
        return None

    def shown(self, context: MemoryContext) -> tuple[object, ...]:
        """Nothing."""
        return ()


GENERAL: Family = General()
"""The general agent's hooks."""
