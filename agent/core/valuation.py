"""What memory says about each action offered now, from what every environment gives: action strings, rewards and
replies, with an embedding model and no game grammar. The facts valued are those retrieved for the current task and
observation (:func:`agent.learning.recall.retrieve_context`), so an outcome counts where the state is alike.

A remembered fact is an action, its sign (earned points +1, enabled or was held for a win +0.5, lost points or
ended the game -1) and its effect: the words of the environment's reply that the action did not already say
("You grill the pork chop with the toaster." after "cook pork chop in toaster": *grill*). An offered action is
related to a fact's action when the two are the same, or differ in one contiguous span of words ("cook chicken
wing in toaster" and "cook pork chop in toaster"); the related part is *structural* when they share at least
half their words, and the spans' embedding cosine says how alike the differing things are. Then:

- an effect that a short line of the episode's text asks for (the recipe line "grill the chicken wing") makes a
  structurally related action good, whatever the fact's sign: instructions decide what an action is for;
- an effect not asked for, while a rival action's effect is, makes the action bad;
- otherwise a gain transfers to related actions in proportion to the spans' cosine, and a loss only to that
  very action;
- an offered action whose words all stand in one short line of the text is asked for;
- a step that enabled another counts only where what it enabled is about this episode: one of its words in a
  short line, or half of them anywhere in the text.

An action's value is its best good evidence plus its worst bad evidence plus one when it is asked for.
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


def short_lines(text: str, limit: int = 120) -> list[frozenset[str]]:
    """The content words of each short line or sentence of ``text`` (the newest ``limit`` lines)."""
    lines = [set(words(part)) for part in re.split(r"[\n.!?;]", text)]
    return [frozenset(line) for line in lines[-limit:] if 0 < len(line) <= MAX_LINE_WORDS]


def differing_spans(a: str, b: str, *, structural: bool) -> tuple[str, str] | None:
    """The one contiguous span of words in which two different actions differ, when they share the rest (at
    least one word; with ``structural``, at least half the words of the longer)."""
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
    if not sx or not sy or shared == 0 or (structural and shared * 2 < max(len(x), len(y))):
        return None
    return " ".join(sx), " ".join(sy)


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

    def _related(self, action: str, fact: Fact) -> tuple[bool, float] | None:
        if action == fact.action:
            return True, 1.0
        loose = differing_spans(action, fact.action, structural=False)
        if loose is None:
            return None
        structural = differing_spans(action, fact.action, structural=True) is not None
        return structural, self._similarity(*loose)

    def values(self, offered: Sequence[str], seen: str) -> dict[str, Value]:
        """The value of each offered action, given everything the episode has shown (``seen``)."""
        lines = short_lines(seen)
        present = frozenset(words(seen))
        related = {a: [(f, self._related(a, f)) for f in self.facts] for a in offered}

        def effect_asked(action: str) -> bool:
            return any(r is not None and r[0] and f.effect and _asked(f.effect, lines) for f, r in related[action])

        asked_effects = {a for a in offered if effect_asked(a)}
        out: dict[str, Value] = {}
        for action in offered:
            rivals = any(b != action and differing_spans(action, b, structural=True) for b in asked_effects)
            best: tuple[float, Fact | None] = (0.0, None)
            worst: tuple[float, Fact | None] = (0.0, None)
            for fact, relation in related[action]:
                if relation is None:
                    continue
                structural, likeness = relation
                if fact.needs and not _needed(fact.needs, present, lines):
                    continue  # what it enabled is not about anything in this episode
                score = _evidence(fact, structural, likeness, lines, rivals, action)
                if score > best[0]:
                    best = (score, fact)
                if score < worst[0]:
                    worst = (score, fact)
            asked = _asked(frozenset(words(action)), lines)
            score = best[0] + worst[0] + (1.0 if asked else 0.0)
            grounds = tuple(f.memory_id for _, f in (best, worst) if f is not None and f.memory_id)
            out[action] = Value(score, grounds, _why(best[1], worst[1], asked))
        return out


def _needed(needs: frozenset[str], present: frozenset[str], lines: Sequence[frozenset[str]]) -> bool:
    """Whether what an enabling step enabled is about this episode: one of its words stands in a short line (the
    recipe's "slice the red apple" for "take knife → needed before slice yellow potato"), or half of them are in
    the text."""
    return any(needs & line for line in lines) or len(needs & present) * 2 >= len(needs)


def _asked(wanted: Iterable[str], lines: Sequence[frozenset[str]]) -> bool:
    wanted = frozenset(wanted)
    return bool(wanted) and any(wanted <= line for line in lines)


def _evidence(fact: Fact, structural: bool, likeness: float, lines: Sequence[frozenset[str]], rivals: bool,
              action: str) -> float:  # fmt: skip
    """One fact's say about an action (see the module docstring)."""
    if fact.effect and structural:
        if _asked(fact.effect, lines):
            return 1.0
        if rivals:
            return -0.5
    if fact.sign < 0:
        return -1.0 if fact.action == action else 0.0
    return fact.sign * likeness


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

