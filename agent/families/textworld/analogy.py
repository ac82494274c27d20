"""Placing by analogy: an object memory never placed goes where an alike object earned points.

Facts transfer to unseen games only for the objects they name; many unseen objects differ from a trained one by
one modifier, such as a colour ("dirty white blazer" and "dirty brown blazer"). Two objects are *alike* when they
share their head noun (the last word) and their state words (:data:`STATE_WORDS`: a dirty pot goes to the
dishwasher, a clean one to the cupboard), and their other modifiers differ by one word at most.

:func:`analogous` gives the placing actions offered now that put an object memory never placed where an alike
object earned points, with the same verb (:class:`agent.policies.placing.PlaceByAnalogy` takes one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from agent.families.textworld.grammar import Placing, placing

STATE_WORDS = frozenset(
    {"dirty", "clean", "wet", "dry", "rotten", "fresh", "used", "new", "old", "raw", "cooked", "empty", "full",
     "broken", "sliced", "chopped", "diced", "fried", "roasted", "grilled", "burned", "frozen", "melted"}
)  # fmt: skip
"""Words that say what state an object is in, which decides where it goes; other modifiers (colours,
patterns, materials) do not."""


def states(obj: str) -> frozenset[str]:
    """The :data:`STATE_WORDS` of object ``obj`` ("dirty white blazer" → {"dirty"})."""
    return frozenset(w for w in obj.lower().split() if w in STATE_WORDS)


def alike(a: str, b: str) -> bool:
    """Whether objects ``a`` and ``b`` differ only by one modifier that is not a state word (see module doc)."""
    wa, wb = a.lower().split(), b.lower().split()
    if not wa or not wb or wa == wb or wa[-1] != wb[-1]:
        return False
    if states(a) != states(b):  # the head noun is the same: the modifiers decide
        return False
    mods_a, mods_b = wa[:-1], wb[:-1]
    other_a, other_b = [w for w in mods_a if w not in STATE_WORDS], [w for w in mods_b if w not in STATE_WORDS]
    return len(other_a) == len(other_b) and len(set(other_a) ^ set(other_b)) <= 2


def analogous(options: Sequence[str], earned: Iterable[str]) -> list[str]:
    """The placing actions of ``options`` (in their order) that put an object no action of ``earned`` placed
    where an alike object was placed with the same verb in an action of ``earned``."""
    known = [p for p in map(placing, earned) if p is not None]
    placed = {p.obj for p in known}
    out = []
    for action in options:
        p = placing(action)
        if p is not None and p.obj not in placed and any(_like(k, p) for k in known):
            out.append(action)
    return out


def grounds(action: str, earned: Iterable[str]) -> list[str]:
    """The actions of ``earned`` that make ``action`` :func:`analogous`: the same verb and place, an alike
    object (the facts an analogy step stands on, credited with the episode's outcome)."""
    p = placing(action)
    if p is None:
        return []
    return [e for e in earned if (k := placing(e)) is not None and _like(k, p)]


def _like(known: Placing, p: Placing) -> bool:
    return known.verb == p.verb and known.place == p.place and alike(known.obj, p.obj)
