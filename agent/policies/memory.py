"""Follow memory: take an untried action that memory says earned points in similar tasks, without the model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.core.state import ActorConfig, ActorState, Decision


class FollowMemory:
    """The first untried offered action among ``MemoryContext.rewarded_actions`` (source ``memory``).

    The model explores; memory exploits what it knows. The fact behind the step is its ``grounds`` and shares
    the episode's credit.
    """

    def choose(self, state: ActorState, options: Sequence[str], untried: Sequence[str],
               config: ActorConfig) -> Decision | None:  # fmt: skip
        """The first untried action memory says earned points, or None."""
        known = next((a for a in untried if a in state.context.rewarded_actions), None)
        if known is None:
            return None
        return Decision(action=known, thought="Memory: this earned points in similar tasks.", source="memory",
                        grounds=(known,))  # fmt: skip

    def favoured(self, state: ActorState, shown: Sequence[str], config: ActorConfig) -> Mapping[str, str]:
        """Nothing beyond what the action list already ranks first for every actor (the rewarded actions)."""
        return {}
