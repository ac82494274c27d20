"""What memory says about each action offered now, from what every environment gives: action strings, rewards and
replies, with an embedding model and no game grammar. The facts valued are those retrieved for the current task and
observation (:func:`agent.learning.recall.retrieve_context`), so an outcome counts where the state is alike.

A remembered fact is an action, its sign (earned points +1, enabled or was held for a win +0.5, lost points or
ended the game -1) and its effect: the words of the environment's reply that the action did not already say
("You grill the pork chop with the toaster." after "cook pork chop in toaster": *grill*). An offered action is
related to a fact's action when the two are the same, or differ in one contiguous span of words ("cook chicken
wing in toaster" and "cook pork chop in toaster"); the related part is *structural* when they share at least
half their words, and the spans' embedding cosine says how alike the differing things are. Then:

- an effect that a short line of the episode's text asks for on the offered action's own words (the recipe line
  "grill the chicken wing" for "cook chicken wing in toaster" when memory saw the toaster grill) makes a
  structurally related action good, whatever the fact's sign: instructions decide what an action is for;
- an effect not asked for, while a rival action's effect is, makes the action bad;
- otherwise a gain transfers to related actions in proportion to the spans' cosine, and a loss only to that
  very action;
- an offered action structurally like one that earned points, whose words all stand in one short line of the
  text, is asked for;
- a step that enabled another counts only where what it enabled is about this episode: one of its words in a
  short line, or half of them anywhere in the text.

An action's value is its best good evidence plus its worst bad evidence plus one when it is asked for. It is
*certain* when its best evidence is about that very action or asked for by the text; one inherited from an alike
action is a hint for the model (the embeddings of two everyday nouns are close without the things being alike for
what an action does to them: a door is not a hallway).
:func:`with_values` turns values into the tags and ranks of :class:`agent.core.context.MemoryContext`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from agent.text import FILLER

Embed = Callable[[list[str]], np.ndarray]
"""Texts → one unit vector each (``MemoryBank.embed``)."""

_EXTRA_FILLER = frozenset({"a", "an", "in", "on", "of", "to", "it", "is", "at", "by", "be"})
MAX_LINE_WORDS = 8
"""A line of at most this many content words can be an instruction; longer ones describe."""


def words(text: str) -> list[str]:
    """Content words of ``text``, lower-case, in order (no filler, no articles or prepositions)."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in FILLER and w not in _EXTRA_FILLER]


class Line(frozenset[str]):
    """The content words of one short line, and the first of them (``head``: an instruction starts with what to
    do, "fry the purple potato"; a listing with a thing, "a crocodile egg")."""

    head: str = ""


def short_lines(text: str, limit: int = 120) -> list[Line]:
    """The content words of each short line or sentence of ``text`` (the newest ``limit`` lines)."""
    out: list[Line] = []
    for part in re.split(r"[\n.!?;]", text)[-limit:]:
        ordered = words(part)
        if 0 < len(set(ordered)) <= MAX_LINE_WORDS:
            line = Line(ordered)
            line.head = ordered[0]
            out.append(line)
    return out


def differing_spans(a: str, b: str, *, structural: bool) -> tuple[str, str] | None:
    """The one contiguous span of words in which two different actions differ, when they share the rest (at
    least one word; with ``structural``, at least half the words of the longer)."""
    found = _spans(a, b)
    if found is None or (structural and not found[2]):
        return None
    return found[0], found[1]


def _spans(a: str, b: str) -> tuple[str, str, bool] | None:
    """The differing spans of two different actions sharing at least one word, and whether they share at least
    half the words of the longer (see :func:`differing_spans`)."""
    x, y = a.lower().split(), b.lower().split()
    if x == y:
        return None
    head = 0
    while head < min(len(x), len(y)) and x[head] == y[head]:
        head += 1
    tail = 0
    while tail < min(len(x), len(y)) - head and x[-1 - tail] == y[-1 - tail]:
        tail += 1
    sx, sy = x[head : len(x) - tail], y[head : len(y) - tail]
    shared = head + tail
    if not sx or not sy or shared == 0:
        return None
    return " ".join(sx), " ".join(sy), shared * 2 >= max(len(x), len(y))


@dataclass(frozen=True)
class Fact:
    """An action memory saw, its outcome and its effect."""

    action: str
    sign: float
    """+1 earned points, +0.5 enabled a step that did or was held for a win, -1 lost points or ended the game."""
    effect: frozenset[str] = frozenset()
    """Words of the reply the action did not say (empty when the reply only echoed it)."""
    memory_id: str = ""
    needs: frozenset[str] = frozenset()
    """For a step that enabled another: the words of the enabled action this one did not say ("open fridge" before
    "take yellow potato": take, yellow, potato); see :func:`_needed`."""


@dataclass(frozen=True)
class Value:
    """What memory says about one offered action."""

    score: float
    grounds: tuple[str, ...] = ()
    """Ids of the facts behind the score (they share the episode's credit when a policy acts on it)."""
    why: str = ""
    """One line for the prompt: which remembered action it is like, and what that did."""
    certain: bool = False
    """The best evidence is about this very action or asked for by the text, not inherited from an alike one."""


@dataclass
class ActionValues:
    """Values of offered actions from a set of facts; embeddings of action spans are cached across steps."""

    facts: Sequence[Fact]
    embed: Embed
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def _similarity(self, a: str, b: str) -> float:
        missing = [t for t in (a, b) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self.embed(missing), strict=True):
                self._cache[text] = vector
        return max(0.0, float(self._cache[a] @ self._cache[b]))

    def _related(self, action: str, fact: Fact) -> Relation | None:
        if action == fact.action:
            return Relation(True, 1.0, frozenset())
        found = _spans(action, fact.action)
        if found is None:
            return None
        mine, theirs, structural = found
        return Relation(structural, self._similarity(mine, theirs), frozenset(words(mine)))

    def values(self, offered: Sequence[str], seen: str) -> dict[str, Value]:
        """The value of each offered action, given everything the episode has shown (``seen``)."""
        lines = short_lines(seen)
        present = frozenset(words(seen))
        related = {a: [(f, r, _effect_asked(f, r, a, lines)) for f in self.facts
                       if (r := self._related(a, f)) is not None] for a in offered}  # fmt: skip
        asked_effects = {a for a in offered if any(asked for _, _, asked in related[a])}
        out: dict[str, Value] = {}
        for action in offered:
            rivals = any(b != action and differing_spans(action, b, structural=True) for b in asked_effects)
            best: tuple[float, Fact | None] = (0.0, None)
            worst: tuple[float, Fact | None] = (0.0, None)
            certain = False
            for fact, relation, effect_asked in related[action]:
                if fact.needs and not _needed(fact.needs, present, lines):
                    continue  # what it enabled is not about anything in this episode
                score = _evidence(fact, relation, effect_asked, rivals, action)
                if score > best[0]:
                    best = (score, fact)
                    certain = fact.action == action or score >= 1.0
                if score < worst[0]:
                    worst = (score, fact)
            # the text spelling an action out counts only for one like an action memory saw pay
            asked = any(f.sign > 0 and r.structural for f, r, _ in related[action]) and _asked(words(action), lines)
            score = best[0] + worst[0] + (1.0 if asked else 0.0)
            grounds = tuple(f.memory_id for _, f in (best, worst) if f is not None and f.memory_id)
            out[action] = Value(score, grounds, _why(best[1], worst[1], asked), certain or asked)
        return out


@dataclass(frozen=True)
class Relation:
    """How an offered action is related to a fact's action."""

    structural: bool
    """They share at least half their words (or are the same)."""
    likeness: float
    """Embedding cosine of the spans they differ in (1 when the same)."""
    span: frozenset[str]
    """Words of the offered action's differing span (empty when the same)."""


def _effect_asked(fact: Fact, relation: Relation, action: str, lines: Sequence[Line]) -> bool:
    """Whether one short line asks for the fact's effect on what the offered action acts on: the line starts with
    the effect, says the offered action's own span, and little else ("fry the purple potato" for "cook purple
    potato in stove" when memory saw the stove fry); for the very action, the effect and another of its words."""
    if not (fact.effect and relation.structural):
        return False
    said = frozenset(words(action))
    anchor = relation.span or said - fact.effect
    if not fact.effect.isdisjoint(anchor):  # "You focus on the butterfly egg": naming a thing, not an effect on it
        return False
    return any(line.head in fact.effect and fact.effect <= line
               and (anchor <= line if relation.span else bool(anchor & line))
               and _little_else(line, fact.effect | said) for line in lines)  # fmt: skip


def _needed(needs: frozenset[str], present: frozenset[str], lines: Sequence[Line]) -> bool:
    """Whether what an enabling step enabled is about this episode: one of its words stands in a short line (the
    recipe's "slice the red apple" for "take knife → needed before slice yellow potato"), or half of them are in
    the text."""
    return any(needs & line for line in lines) or len(needs & present) * 2 >= len(needs)


def _asked(wanted: Iterable[str], lines: Sequence[Line]) -> bool:
    """Whether one short line says all of ``wanted`` and little else: the text spells it out."""
    wanted = frozenset(wanted)
    return bool(wanted) and any(wanted <= line and _little_else(line, wanted) for line in lines)


def _little_else(line: frozenset[str], said: frozenset[str]) -> bool:
    """At most one word of ``line`` is not in ``said``: a line about more things asks for none of them in
    particular ("then move it to the orange box in the living room" does not ask to move the orange)."""
    return len(line - said) <= 1


def _evidence(fact: Fact, relation: Relation, effect_asked: bool, rivals: bool, action: str) -> float:
    """One fact's say about an action (see the module docstring); ``effect_asked`` from :func:`_effect_asked`."""
    if fact.effect and relation.structural:
        if effect_asked:
            return 1.0
        if rivals:
            return -0.5
    if fact.sign < 0:
        return -1.0 if fact.action == action else 0.0
    return fact.sign * relation.likeness


def _why(best: Fact | None, worst: Fact | None, asked: bool) -> str:
    parts = []
    if best is not None:
        did = "earned points" if best.sign >= 1 else "was needed before a step that earned points"
        parts.append(f'like "{best.action}", which {did}')
    if worst is not None:
        parts.append(f'like "{worst.action}", which lost points')
    if asked:
        parts.append("what the text asks")
    return "; ".join(parts)

