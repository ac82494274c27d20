"""Placing policies for TextWorld-style games: put an object where an alike one earned points (analogy), or, for
an object memory cannot place, where the most alike objects went (likeness).

Both read the family's action grammar; they are on when the plug-in is (:func:`agent.families.registry.
policies_for`) and ``ActorConfig.place_by_analogy`` / ``place_by_likeness`` are set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.core.state import ActorConfig, ActorState, Decision
from agent.families.textworld.analogy import analogous, grounds
from agent.families.textworld.likeness import guess, take_back
from agent.families.textworld.recalled import recalled

ALIKE_TAG = "a like object went there in similar tasks"


class PlaceByAnalogy:
    """An object memory never placed goes where an alike object earned points, with the same verb (source
    ``analogy``); such placings are also listed first and tagged."""

    def choose(self, state: ActorState, options: Sequence[str], untried: Sequence[str],
               config: ActorConfig) -> Decision | None:  # fmt: skip
        """The first untried placing by analogy, or None."""
        rewarded = state.context.rewarded_actions
        if not (config.place_by_analogy and rewarded):
            return None
        alike = next(iter(analogous(untried, rewarded)), None)
        if alike is None:
            return None
        return Decision(action=alike, thought="Memory: a like object earned points there.", source="analogy",
                        grounds=tuple(grounds(alike, rewarded)))  # fmt: skip

    def favoured(self, state: ActorState, shown: Sequence[str], config: ActorConfig) -> Mapping[str, str]:
        """The placings of ``shown`` by analogy, tagged."""
        rewarded = state.context.rewarded_actions
        if not (config.place_by_analogy and rewarded):
            return {}
        return {action: ALIKE_TAG for action in analogous(shown, rewarded)}


class PlaceByLikeness:
    """A held object memory cannot place goes where memory put the most alike objects, a closed place opened
    first; after a guess that lost points the object is taken back at once (source ``likeness``)."""

    def choose(self, state: ActorState, options: Sequence[str], untried: Sequence[str],
               config: ActorConfig) -> Decision | None:  # fmt: skip
        """Taking back a wrong guess, else the next guess, else None."""
        likeness = recalled(state.context).likeness
        if not (config.place_by_likeness and likeness):
            return None
        last = state.history[-1] if state.history else None
        if last is not None and last.source == "likeness" and last.reward < 0:
            back = take_back(last.action, options)
            if back is not None:
                return Decision(action=back, thought="Memory: not there; take it again.", source="likeness")
        guessed = guess(likeness, untried)
        if guessed is None:
            return None
        return Decision(action=guessed, thought="Memory: the most alike objects went there.", source="likeness",
                        grounds=tuple(likeness.grounds(guessed)))  # fmt: skip

    def favoured(self, state: ActorState, shown: Sequence[str], config: ActorConfig) -> Mapping[str, str]:
        """Nothing: a guess is taken, not suggested."""
        return {}
