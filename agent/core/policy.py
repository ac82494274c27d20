"""The protocol of a memory policy: a rule that may decide a step from memory before the model is asked.

Policies are objects passed to the :class:`agent.core.actor.Actor`, never looked up by it, so which ones are
on is the caller's choice and shows in what it built (see :func:`agent.families.registry.policies_for`).
A step a policy takes is recorded with the policy's ``Decision.source``, so results say who decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from agent.core.state import ActorConfig, ActorState, Decision


class ActionPolicy(Protocol):
    """Decides a step from memory, or leaves it to the model."""

    def choose(self, state: ActorState, options: Sequence[str], untried: Sequence[str],
               config: ActorConfig) -> Decision | None:  # fmt: skip
        """The step to take without the model, or None. ``options`` are the actions offered now, ``untried``
        those of them this episode has not taken."""
        ...

    def favoured(self, state: ActorState, shown: Sequence[str], config: ActorConfig) -> Mapping[str, str]:
        """Actions of ``shown`` to list first in the model's prompt, each with the tag that says why."""
        ...
