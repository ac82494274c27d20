"""What recall gives the TextWorld plug-in beside the general context: the ways of processing that wait for an
instruction, what earlier wins held to the end, and where memory placed which objects."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.core.context import MemoryContext
from agent.families.textworld.likeness import Likeness


@dataclass(frozen=True)
class TextWorldRecall:
    """The plug-in's part of a :class:`agent.core.context.MemoryContext` (its ``family`` field).

    Only ``waiting_templates`` counts when a fresh retrieval is compared with the episode's context
    (:meth:`agent.families.textworld.plugin.TextWorld.shown`); the rest follows it.
    """

    waiting_templates: tuple[str, ...] = ()
    """Ways of processing an object that instructions decide ("cook {} in stove"): an action fitting one that is
    not among ``MemoryContext.rewarded_actions`` waits for an instruction naming its object
    (:mod:`agent.families.textworld.howto`)."""
    kept_objects: frozenset[str] = field(default=frozenset(), compare=False)
    """Objects earlier wins took and held to the end ("knife"): not let go of (``ActorConfig.keep_earned``)."""
    takes_are_kept: bool = field(default=False, compare=False)
    """Memory knows actions that earned points in these tasks, and no placing among them (cookingworld pays for
    taking an ingredient, never for putting it anywhere): what a step earned points taking is not let go of
    (``ActorConfig.keep_earned``). False without memory, and where placing pays (twc)."""
    likeness: Likeness | None = field(default=None, compare=False)
    """Where memory placed which objects, to rank places for an object it cannot place (``ActorConfig.
    place_by_likeness``); None without facts or without an earned action, empty (false) when memory earned no
    placing (cookingworld)."""


NOTHING = TextWorldRecall()
"""What the plug-in reads from a context recall gave it nothing in."""


def recalled(context: MemoryContext) -> TextWorldRecall:
    """The plug-in's part of ``context`` (:data:`NOTHING` when recall left it empty)."""
    return context.family if isinstance(context.family, TextWorldRecall) else NOTHING
