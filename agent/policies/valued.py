"""Follow value: take the untried offered action memory values most (:mod:`agent.core.valuation`), without the
model, when its value reaches ``ActorConfig.value_threshold`` and is certain (about that very action, or asked for
by the text); an action that only inherits a value from an alike one is listed first with a hint, and the model
decides. The general counterpart of :class:`agent.policies.memory.FollowMemory`: it knows no game's grammar, only
what the facts retrieved for this state say about actions like the ones offered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.core.state import ActorConfig, ActorState, Decision


class FollowValue:
    """The untried action of highest value at least the threshold (ties: the first offered; source ``memory``).
    The facts behind the value are its grounds and share the episode's credit."""

    def choose(self, state: ActorState, options: Sequence[str], untried: Sequence[str],
               config: ActorConfig) -> Decision | None:  # fmt: skip
        """The best-valued untried action, or None when none reaches the threshold."""
        scored = [(state.values[a].score, -i, a) for i, a in enumerate(untried)
                  if a in state.values and state.values[a].certain]  # fmt: skip
        if not scored:
            return None
        score, _, action = max(scored)
        if score < config.value_threshold:
            return None
        why = state.values[action].why
        return Decision(action=action, thought=f"Memory: {why}." if why else "Memory: this worked in similar states.",
                        source="memory", grounds=(action,))  # fmt: skip

    def favoured(self, state: ActorState, shown: Sequence[str], config: ActorConfig) -> Mapping[str, str]:
        """Actions that inherit a value of at least the threshold from an alike action, with what they are like
        (certain ones are already tagged by :func:`agent.core.context.with_values`)."""
        return {a: v.why for a in shown if (v := state.values.get(a)) is not None
                and v.score >= config.value_threshold and not v.certain and v.why}  # fmt: skip
