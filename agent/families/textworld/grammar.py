"""The grammar of TextWorld-style actions: which verbs take or let go of an object, and where an action's object
and place are ("put white onion in fridge" → put, white onion, fridge).

The verb phrases themselves come from :func:`envs.shortlist.verb_of`, which the environments' shortlisting uses
too; what taking and placing mean, and how an action splits at its prepositions, is the agent's reading.
"""

from __future__ import annotations

from typing import NamedTuple

from agent.text import split_at
from envs.shortlist import after_verb, verb_of

PLACING = frozenset({"put", "put down", "drop", "place", "insert"})
"""Verb phrases that let go of an object."""
TAKING = frozenset({"take", "pick up", "get"})
"""Verb phrases that take an object."""
PLACE_PREPOSITIONS = ("in", "on", "into", "onto")
"""Words between a placed object and its place."""


class Placing(NamedTuple):
    """A placing action's parts ("put dirty white blazer in laundry basket": put, the blazer, laundry basket)."""

    verb: str
    obj: str
    place: str


def placing(action: str) -> Placing | None:
    """The parts of an action that places an object somewhere; None for any other action."""
    verb = verb_of(action)
    if verb not in PLACING:
        return None
    parts = split_at(after_verb(action), PLACE_PREPOSITIONS)
    return Placing(verb, parts[0], parts[1]) if len(parts) == 2 and all(parts) else None
