"""Retake: take again, without the model, an action that earned points earlier in this episode and that a later step
undid (``StepRecord.undid``): the episode had that progress and let it go. Told from the valid actions alone
(:mod:`agent.core.undo`), so it knows no game; each undoing is made up for once, so a model that lets the thing go
again is not fought step after step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.core.state import ActorConfig, ActorState, Decision


class Retake:
    """The first offered action undone by a step since which it was not taken again (source ``memory``)."""

    def choose(self, state: ActorState, options: Sequence[str], untried: Sequence[str],
               config: ActorConfig) -> Decision | None:  # fmt: skip
        """The undone action to take again, or None."""
        history = state.history
        for i in range(len(history) - 1, -1, -1):
            for earned in history[i].undid:
                again = any(s.action == earned for s in history[i + 1 :])
                undone_before = any(earned in s.undid for s in history[:i])
                if earned in options and not again and not undone_before:
                    return Decision(action=earned, source="memory",
                                    thought=f'Memory: "{earned}" earned points earlier in this episode and '
                                            f'"{history[i].action}" undid it.')  # fmt: skip
        return None

    def favoured(self, state: ActorState, shown: Sequence[str], config: ActorConfig) -> Mapping[str, str]:
        """Nothing: what it would retake it takes."""
        return {}
