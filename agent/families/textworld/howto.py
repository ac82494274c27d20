"""How-to facts: what the environment's reply says an action did, used where a game's instructions ask for it.

A recipe says "grill the pork chop"; the valid actions say "cook pork chop in toaster", "… in oven", "… in stove";
only the reply to one of them says which grills ("You grill the pork chop with the toaster."). A fact keyed by
ingredient ("cook pork chop in oven → earned points") is right under one recipe and ends the game under another.
So a rewarded or game-ending step also records how its reply names what it did ("grill") and the action with its
object left open ("cook {} in toaster"). In a later game an instruction line ("grill the chicken wing")
instantiates it: "cook chicken wing in toaster" is what is asked, and the other known ways of processing that
object are not.

Until an instruction names an object, the ways of processing that earlier instructions asked for wait. Only verbs
earlier instructions asked for, or that ended a game, count as processing ("take" never does). Games without
instruction lines (twc, whose replies echo the action) are not affected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from agent.text import ARTICLES, action_object
from envs.shortlist import verb_of

_ARTICLES = "(?:" + "|".join(f"{a} " for a in ARTICLES) + ")"
_ARTICLE = _ARTICLES + "?"


def _instruction_line(verb: str, article: str) -> str:
    """The regex of an instruction line: a list marker at most, ``verb``, ``article``, then the object (the last
    group) and nothing else but a full stop."""
    return rf"(?m)^[ \t\-*•\d.)]*{verb} {article}([a-z][a-z' -]*?)[ \t]*[.!]?[ \t]*$"


def how_done(action: str, reply: str) -> str:
    """The verb ``reply`` uses for what ``action`` did to its object ("cook pork chop in toaster", "You grill
    the pork chop with the toaster." → "grill"); empty when the reply does not name the object."""
    obj = action_object(action)
    if not obj:
        return ""
    found = re.search(rf"\b([a-z]+) {_ARTICLE}{re.escape(obj)}\b", reply.lower())
    return found.group(1) if found else ""


def template_of(action: str) -> str:
    """The action with its object left open: "cook pork chop in toaster" → "cook {} in toaster"."""
    low = " ".join(action.lower().split())
    obj, verb = action_object(low), verb_of(low)
    return f"{verb}{low[len(verb) :].replace(obj, '{}', 1)}" if obj else ""


def instructed_objects(how: str, seen: str) -> list[str]:
    """Objects a line of ``seen`` instructs to ``how`` ("  grill the chicken wing" → "chicken wing"): a line
    that is just the verb and its object, as a recipe's directions are (a reply "You grill the …" is not)."""
    pattern = _instruction_line(re.escape(how), _ARTICLE)
    return list(dict.fromkeys(m.group(1) for m in re.finditer(pattern, seen.lower())))


def instructions(seen: str) -> list[tuple[str, str]]:
    """Every instruction line of ``seen`` as (verb, object): a line that is just a verb, an article and an object
    ("  slice the red hot pepper"), whether or not memory knows the verb."""
    pattern = _instruction_line("([a-z]+)", _ARTICLES)
    return list(dict.fromkeys((m.group(1), m.group(2)) for m in re.finditer(pattern, seen.lower())))


@dataclass(frozen=True)
class HowTo:
    """One how-to fact: ``template`` (an action with its object open) does ``how`` to its object."""

    memory_id: str
    how: str
    template: str
    reply: str
    """The reply it was learned from ("You grill the pork chop with the toaster.")."""
    processing: bool
    """Its verb was asked for by an instruction line, or the step ended the game: a way of processing."""
    instructed: bool = False
    """Its verb was asked for by an instruction line (not only seen ending a game)."""


@dataclass(frozen=True)
class Applied:
    """What the how-to facts say about one game, given what it has shown."""

    lines: tuple[str, ...] = ()
    """For the prompt: '"grill the chicken wing" is done by: cook chicken wing in toaster (…)'."""
    asked: frozenset[str] = frozenset()
    """Actions doing what an instruction line asks."""
    unasked: frozenset[str] = frozenset()
    """Other known ways of processing an instructed object: not what the instructions ask."""
    memory_ids: tuple[str, ...] = ()
    instructed_templates: tuple[str, ...] = ()
    """Templates of the ways of processing earlier instructions asked for ("cook {} in stove", "slice {}"): an
    action fitting one that is not ``asked`` waits for an instruction naming its object."""


def fits(action: str, templates: Iterable[str]) -> bool:
    """True when ``action`` is one of ``templates`` with its object filled in ("cook red hot pepper in stove"
    fits "cook {} in stove")."""
    low = " ".join(action.lower().split())
    return any(re.fullmatch(re.escape(t).replace(r"\{\}", ".+"), low) for t in templates)


def processing_actions(facts: Iterable[HowTo], actions: Iterable[str]) -> set[str]:
    """Those of ``actions`` that process an object in a way instructions decide (they fit the template of a
    processing how-to: "cook red hot pepper in stove" fits "cook {} in stove", which fries)."""
    templates = [f.template for f in facts if f.processing]
    return {a for a in actions if fits(a, templates)}


def apply(facts: Iterable[HowTo], seen: str) -> Applied:
    """Instantiate ``facts`` for the objects the instruction lines of ``seen`` name."""
    facts = list(facts)
    processing = {f.how for f in facts if f.processing}
    asked_of: dict[str, set[str]] = {}  # object → the verbs its instruction lines ask for, known to memory or not
    for verb, obj in instructions(seen):
        asked_of.setdefault(obj, set()).add(verb)
    for how in {f.how for f in facts}:
        for obj in instructed_objects(how, seen):
            asked_of.setdefault(obj, set()).add(how)
    lines: list[str] = []
    asked: set[str] = set()
    unasked: set[str] = set()
    ids: list[str] = []
    for fact in facts:
        for obj, hows in asked_of.items():
            action = fact.template.replace("{}", obj)
            if fact.how in hows:
                if action not in asked:
                    lines.append(f'"{fact.how} the {obj}" is done by: {action} (an earlier game said "{fact.reply}")')
                    ids.append(fact.memory_id)
                asked.add(action)
            elif fact.how in processing:
                unasked.add(action)
                ids.append(fact.memory_id)
    return Applied(lines=tuple(lines), asked=frozenset(asked), unasked=frozenset(unasked - asked),
                   memory_ids=tuple(dict.fromkeys(ids)),
                   instructed_templates=tuple(dict.fromkeys(f.template for f in facts if f.instructed)))  # fmt: skip
