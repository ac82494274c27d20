"""The memory policies an actor is built with, listed explicitly and in the order they are asked."""

from __future__ import annotations

from agent.core.policy import ActionPolicy
from agent.policies.memory import FollowMemory
from agent.policies.placing import PlaceByAnalogy, PlaceByLikeness

FAMILY_POLICIES = {"textworld": (PlaceByAnalogy, PlaceByLikeness)}
"""Policies that read one environment family's actions, by family."""


def default_policies() -> tuple[ActionPolicy, ...]:
    """Follow memory, then place by analogy, then by likeness (each also gated by its ``ActorConfig`` option)."""
    return (FollowMemory(), *(policy() for policy in FAMILY_POLICIES["textworld"]))
