"""Which plug-in and which memory policies an actor gets for the family plug-ins named in its configuration: the one
place that turns ``ActorConfig.families`` into code, so everything else is built with or without a plug-in."""

from __future__ import annotations

from collections.abc import Iterable

from langchain_core.language_models.chat_models import BaseChatModel

from agent.core.actor import Actor
from agent.core.family import GENERAL, Family
from agent.core.policy import ActionPolicy
from agent.core.state import ActorConfig
from agent.families.textworld.placing import PlaceByAnalogy, PlaceByLikeness
from agent.families.textworld.plugin import TextWorld
from agent.policies.memory import FollowMemory
from agent.policies.retake import Retake
from agent.policies.valued import FollowValue


def family_for(families: Iterable[str]) -> Family:
    """The plug-in's hooks: :class:`TextWorld` with ``textworld``, else the general agent's."""
    return TextWorld() if "textworld" in tuple(families) else GENERAL


def policies_for(families: Iterable[str]) -> tuple[ActionPolicy, ...]:
    """The memory policies: with ``textworld``, today's TextWorld agent (follow memory's rewarded actions, then
    place by analogy and by likeness); with none, the general ones: take again what a step undid (:class:`Retake`),
    then follow value (:class:`FollowValue`)."""
    if "textworld" in tuple(families):
        return (FollowMemory(), PlaceByAnalogy(), PlaceByLikeness())
    return (Retake(), FollowValue())


def build_actor(chat: BaseChatModel, config: ActorConfig) -> Actor:
    """An actor with the plug-in and the policies ``config.families`` names."""
    return Actor(chat, config, policies=policies_for(config.families), family=family_for(config.families))
