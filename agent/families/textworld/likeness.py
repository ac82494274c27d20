"""Placing by likeness: an object memory cannot place goes first where the objects most like it earned points.

Exact facts and alike objects (:mod:`agent.families.textworld.analogy`) leave some placings unknown. There the
places memory knows are ranked by how like the objects placed there are to this one (cosine of the embedding
model's vectors, among objects in the same state), and a place memory never saw is never guessed. There is no
similarity floor: the cosine did not separate right guesses from wrong ones (``benchmarks/placement_coverage.py``).

:class:`Likeness` ranks the places; :func:`guess` turns the ranking into the next step (the placing of a held
object at the best place offered, or opening that place first when it is closed); :func:`take_back` takes the
object again after a placing that lost points, so the next place is tried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from agent.families.textworld.analogy import states
from agent.families.textworld.grammar import TAKING, Placing, placing
from agent.text import action_object
from envs.shortlist import after_verb, verb_of

Embed = Callable[[list[str]], np.ndarray]
"""Texts → one unit vector per text (``MemoryBank.embed``)."""


def _comparable(other: str, obj: str) -> bool:
    """Whether a placing of ``other`` says where ``obj`` goes: another object in the same state."""
    return other != obj and states(other) == states(obj)


class Likeness:
    """The places where ``earned`` placing actions put their objects, ranked for another object by likeness.

    Vectors are computed on the first :meth:`places` call, so an episode that never needs a guess costs nothing,
    and each object's ranking once (a guess is asked for at every step until the object is placed).
    """

    def __init__(self, earned: Iterable[str], embed: Embed) -> None:
        self.placed: dict[str, set[str]] = {}
        self._placings: dict[str, Placing] = {}
        for action in earned:
            p = placing(action)
            if p is not None:
                self.placed.setdefault(p.obj, set()).add(p.place)
                self._placings[action] = p
        self._embed = embed
        self._objects = sorted(self.placed)
        self._vectors: np.ndarray | None = None
        self._ranked: dict[str, list[tuple[str, float]]] = {}

    def __bool__(self) -> bool:
        return bool(self.placed)

    def places(self, obj: str) -> list[tuple[str, float]]:
        """Every place memory put an object in the same state as ``obj`` (other than ``obj`` itself), best first,
        with the cosine of the most alike object placed there."""
        if obj not in self._ranked:
            self._ranked[obj] = self._rank(obj)
        return self._ranked[obj]

    def _rank(self, obj: str) -> list[tuple[str, float]]:
        others = [i for i, o in enumerate(self._objects) if _comparable(o, obj)]
        if not others:
            return []
        if self._vectors is None:
            self._vectors = self._embed(self._objects)
        sims = self._vectors[others] @ self._embed([obj])[0]
        best: dict[str, float] = {}
        for i, sim in zip(others, sims.tolist(), strict=True):
            for place in self.placed[self._objects[i]]:
                best[place] = max(best.get(place, -1.0), sim)
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))

    def grounds(self, step: str) -> list[str]:
        """The earned placings a :func:`guess` step stands on (credited with the episode's outcome): those that
        put an object in the same state at the place the step puts its object or opens; for an opening, every
        earned placing there."""
        p = placing(step)
        if p is None:
            if verb_of(step) != "open":
                return []
            place = after_verb(step)
            return [a for a, k in self._placings.items() if k.place == place]
        return [a for a, k in self._placings.items() if k.place == p.place and _comparable(k.obj, p.obj)]


def guess(likeness: Likeness, untried: Sequence[str]) -> str | None:
    """The next step towards placing an object of an offered placing in ``untried`` where :class:`Likeness` ranks
    best: that placing if offered, else opening that place (``"open fridge"``) if offered; places offered
    neither way are not in this room (or were tried) and the next is considered. None when no place memory
    knows is left."""
    offers = [(p, action) for action in untried if (p := placing(action)) is not None]
    for obj in dict.fromkeys(p.obj for p, _ in offers):
        for place, _ in likeness.places(obj):
            put = next((action for p, action in offers if p.obj == obj and p.place == place), None)
            if put is not None:
                return put
            if f"open {place}" in untried:
                return f"open {place}"
    return None


def take_back(placed: str, options: Sequence[str]) -> str | None:
    """The offered take of the object the placing ``placed`` let go of ("take white onion" after "put white onion
    in kitchen cupboard" lost points); None when it is not offered or ``placed`` is not a placing."""
    p = placing(placed)
    if p is None:
        return None
    return next((a for a in options if verb_of(a) in TAKING and action_object(a) == p.obj), None)
