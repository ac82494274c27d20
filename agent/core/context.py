"""What memory tells one episode: the memories retrieved for it, grouped by how the prompt and the policies use them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.core.valuation import ActionValues, Value


@dataclass(frozen=True)
class MemoryContext:
    """Memories retrieved for one episode, grouped by how the prompt uses them.

    Retrieved before the first step and again only when a step brings new things into view (not at every
    step), so the prompt's stable prefix stays the same for most steps and the local model's KV cache is
    reused.
    """

    facts: tuple[str, ...] = ()
    """Grounded facts from the environment's feedback ("put X in Y was accepted")."""
    rules: tuple[str, ...] = ()
    """Insights and general lessons."""
    examples: tuple[str, ...] = ()
    """Action sequences of solved (or gold-corrected) similar tasks."""
    reflections: tuple[str, ...] = ()
    """Reflexion notes on earlier failed trials of this very task."""
    similar_notes: tuple[str, ...] = ()
    """Reflections retrieved from other, similar tasks (shown apart: they may not apply here)."""
    rewarded_actions: frozenset[str] = frozenset()
    """Actions that earned reward in similar tasks; listed first and tagged when they are valid now."""
    penalised_actions: frozenset[str] = frozenset()
    """Actions that lost points in similar tasks; listed last and tagged."""
    undoes: tuple[tuple[str, str], ...] = ()
    """(an action that earned points, a step that undid it) pairs memory recorded in similar tasks
    (:mod:`agent.core.undo`)."""
    family: object = None
    """What a family plug-in's recall added, read only by that plug-in (:mod:`agent.families`); None for the
    general agent."""
    valuer: ActionValues | None = None
    """The facts retrieved for this state, to value each offered action at every step (without the TextWorld
    plug-in; :mod:`agent.core.valuation`); None with no facts or with the plug-in's tags."""
    memory_ids: tuple[str, ...] = ()
    """Ids of every memory above (for the feedback hook)."""
    earned_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Each action memory says earned points → the ids of the facts that say so, shown or not: a step memory
    takes without the model (:attr:`agent.core.state.Decision.grounds`) adds them to the episode's memory ids."""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when nothing was retrieved."""
        return not (self.facts or self.rules or self.examples or self.reflections or self.similar_notes)


FactRow = tuple[str, str, str, str]
"""A fact retrieval found: (memory id, text, action, the action it was needed before or "")."""


@dataclass(frozen=True)
class Retrieved:
    """What retrieval found for one episode, before it is grouped into a :class:`MemoryContext` by the general agent
    or by a family plug-in (:meth:`agent.core.family.Family.recall`)."""

    namespace: str
    facts_on: bool
    """Whether the ablation may use facts at all."""
    good: tuple[FactRow, ...] = ()
    """Facts of actions that earned points or were needed before one that did, best first."""
    bad: tuple[FactRow, ...] = ()
    """Facts of actions that lost points, ended the game or undid a rewarded action, best first."""
    examples: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    reflections: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    """Ids of the examples, rules and notes."""
    undoes: tuple[tuple[str, str], ...] = ()
    """(undone, undoer) pairs of the facts in ``bad`` that record a step undoing a rewarded action."""


def with_values(context: MemoryContext, values: Mapping[str, Value], threshold: float) -> MemoryContext:
    """``context`` with the actions certainly valued at least ``threshold`` rewarded and those at most
    ``-threshold`` penalised (beside what it already tags), each rewarded action grounded in the facts behind its
    value. Values inherited from alike actions are left to the prompt's hints
    (:class:`agent.policies.valued.FollowValue`)."""
    good = {a for a, v in values.items() if v.score >= threshold and v.certain}
    bad = {a for a, v in values.items() if v.score <= -threshold}
    grounds = {a: values[a].grounds for a in good if values[a].grounds}
    return replace(context, rewarded_actions=context.rewarded_actions | good,
                   penalised_actions=(context.penalised_actions | bad) - good,
                   earned_ids={**context.earned_ids, **grounds})  # fmt: skip
