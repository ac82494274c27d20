"""The memory policies an actor is built with, listed explicitly and in the order they are asked."""

from __future__ import annotations

from collections.abc import Iterable

from agent.core.policy import ActionPolicy
from agent.policies.memory import FollowMemory
from agent.policies.placing import PlaceByAnalogy, PlaceByLikeness
from agent.policies.valued import FollowValue

FAMILY_POLICIES = {"textworld": (PlaceByAnalogy, PlaceByLikeness)}
"""Policies that read one environment family's actions, by family."""


def default_policies() -> tuple[ActionPolicy, ...]:
    """Follow memory, then place by analogy, then by likeness (each also gated by its ``ActorConfig`` option)."""
    return policies_for(("textworld",))


def policies_for(families: Iterable[str]) -> tuple[ActionPolicy, ...]:
    """The policies of an actor with these family plug-ins on: with ``textworld``, today's TextWorld agent (follow
    memory's rewarded actions, then place by analogy and by likeness); with none, only the general
    :class:`FollowValue`."""
    families = tuple(families)
    if "textworld" in families:
        return (FollowMemory(), *(policy() for policy in FAMILY_POLICIES["textworld"]))
    return (FollowValue(),)
