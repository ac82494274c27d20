"""The TextWorld plug-in's hooks (:class:`agent.core.family.Family`): what TextWorld's action grammar replaces of the
general agent's judgement when ``ActorConfig.families`` names ``textworld``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agent.core.context import MemoryContext, Retrieved
from agent.core.state import ActorState
from agent.core.trajectory import Episode, StepRecord
from agent.families.textworld import howto
from agent.families.textworld.grammar import PLACING
from agent.families.textworld.options import kept_steps, spent_actions, undoing_actions
from agent.families.textworld.recall import textworld_context
from agent.families.textworld.recalled import recalled
from agent.text import action_object, first_words
from envs.shortlist import verb_of
from memory import MemoryBank


class TextWorld:
    """Spent actions by what their verbs act on, no undoing of what was earned, instructions that decide how an
    object is processed, and the objects won games held to the end."""

    def held_back(self, state: ActorState, shown: Sequence[str]) -> set[str]:
        """Actions fitting a way of processing that waits for an instruction naming their object."""
        waiting = recalled(state.context).waiting_templates
        if not waiting:
            return set()
        return {a for a in shown if a not in state.context.rewarded_actions and howto.fits(a, waiting)}

    def spent(self, state: ActorState) -> set[str]:
        """Actions that earned nothing and whose object nothing changed since (:func:`spent_actions`)."""
        return spent_actions(state.history)

    def undoing(self, state: ActorState, shown: Sequence[str]) -> set[str]:
        """Letting go of what this episode earned or earlier wins held to the end, or taking back what it placed."""
        extra = recalled(state.context)
        letting_go = {a for a in shown if verb_of(a) in PLACING and action_object(a) in extra.kept_objects}
        return undoing_actions(state.history, shown, takes_are_kept=extra.takes_are_kept) | letting_go

    def step_meta(self, step: StepRecord, seen: str, *, fatal: bool) -> dict[str, Any]:
        """How-to meta when the reply names how the step processed its object ("You fry the purple potato")."""
        how = howto.how_done(step.action, step.observation)
        if not how:
            return {}
        asked = action_object(step.action) in howto.instructed_objects(how, seen)
        return {"how": how, "template": howto.template_of(step.action), "reply": first_words(step.observation, 15),
                "processing": fatal or asked, "instructed": asked}  # fmt: skip

    def enabling_steps(self, episode: Episode) -> dict[int, str]:
        """Steps on an object a later rewarded action names (the verb grammar finds the object)."""
        return episode.enabling_steps()

    def kept_steps(self, episode: Episode) -> dict[int, str]:
        """Takes of a won game held to the end (:func:`kept_steps`)."""
        return kept_steps(episode)

    def undoing_steps(self, episode: Episode) -> dict[int, str]:
        """None: the plug-in tells undoing by its verbs (:meth:`undoing`), not from memory."""
        return {}

    def recall(self, bank: MemoryBank, found: Retrieved, *, seen: str, avoid: frozenset[str], record: bool,
               switches: Mapping[str, bool]) -> MemoryContext | None:  # fmt: skip
        """Facts about objects in view tag actions, instructions decide processing, kept objects stay held
        (:func:`textworld_context`)."""
        return textworld_context(bank, found, seen=seen, avoid=avoid, record=record, switches=switches)

    def shown(self, context: MemoryContext) -> tuple[object, ...]:
        """The ways of processing waiting for instructions."""
        return (recalled(context).waiting_templates,)
