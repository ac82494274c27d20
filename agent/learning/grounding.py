"""Checking a rule against the actions of its evidence, before reflection writes it (rules are English text).

A rule such as "when you see a stove, take the stove" can use only words of its evidence (so the shared-word
check in :mod:`memory.reflect` lets it through) and still name an action no episode took. A rule that tells the
agent to do something with a thing is checked here against every action its evidence took: when the rule uses a
verb those actions use, on a thing the evidence mentions, and no action did that verb to that thing, reflection
refuses it; a rule that does a known verb to a thing the evidence never mentions ("take a baking sheet" from games
without one) is refused too. A verb the evidence never used is left alone (the rule may paraphrase).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from agent.text import ARTICLES, OBJECT_PREPOSITIONS, action_object
from envs.shortlist import after_verb, verb_of
from memory.base import MemoryRecord

_TOKENS = re.compile(r"[a-z0-9][a-z0-9'-]*|[^\sa-z0-9]")
_ARTICLES = frozenset({*ARTICLES, "your", "any"})
_ENDS_OBJECT = frozenset({*OBJECT_PREPOSITIONS, "at", "under", "and", "or", "then", "when", "if", "before", "after",
                          "until", "so", "but", "because", "first", "again", "once", "while", "by", "for", "of", "as",
                          "than", "also", "only"})  # fmt: skip
_NOT_A_THING = frozenset({"it", "them", "this", "that", "these", "those", "everything", "all", "anything",
                          "something", "one", "nothing", "out", "up", "down", "off", "back", "around"})  # fmt: skip
_LONGEST_OBJECT = 4


def _singular(word: str) -> str:
    """``potatoes`` → ``potato``, ``knives`` stays (a plain trailing s or es only; good enough to match a thing)."""
    if word.endswith("oes") or word.endswith("xes") or word.endswith("ches") or word.endswith("shes"):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word


def evidence_actions(records: Iterable[MemoryRecord]) -> list[str]:
    """Every action the records took: an experience's ``taken`` (``a -> b -> c``; older experiences only kept
    their solution's ``actions``) and a fact's ``action``."""
    actions: list[str] = []
    for record in records:
        path = record.meta.get("taken") or record.meta.get("actions") or ""
        actions += [a.strip() for a in str(path).split(" -> ") if a.strip()]
        if record.meta.get("action"):
            actions.append(str(record.meta["action"]).strip())
    return list(dict.fromkeys(a.lower() for a in actions))


def _object_after(tokens: Sequence[str], start: int) -> list[str]:
    """The words naming the thing a verb at ``start - 1`` acts on: up to a preposition, a conjunction or a mark."""
    i = start
    while i < len(tokens) and tokens[i] in _ARTICLES:
        i += 1
    words: list[str] = []
    while i < len(tokens) and len(words) < _LONGEST_OBJECT and tokens[i][0].isalnum() and tokens[i] not in _ENDS_OBJECT:
        words.append(tokens[i])
        i += 1
    return words


def _known_words(actions: Sequence[str], mentioned: Iterable[str]) -> set[str]:
    """Words the evidence saw: ``mentioned`` and every word of what its actions acted on."""
    return set(mentioned) | {w for a in actions for w in _TOKENS.findall(after_verb(a))}


def _verb_things(text: str, verbs: set[str]) -> Iterator[tuple[str, list[str]]]:
    """Each (verb, words of the thing it acts on) in ``text`` whose verb is one of ``verbs``; pronouns name no thing."""
    tokens = _TOKENS.findall(text.lower())
    for index, token in enumerate(tokens):
        thing = _object_after(tokens, index + 1) if token in verbs else []
        if thing and thing[0] not in _NOT_A_THING:
            yield token, thing


def untaken_action(text: str, actions: Sequence[str], mentioned: Iterable[str] = ()) -> str | None:
    """The first "verb thing" the text names whose verb ``actions`` use and whose thing they or ``mentioned``
    (words the evidence saw) name, but which no action did (``take the stove`` when the actions took the knife
    and cooked with the stove); None when there is none.

    A thing matches an action's object by its last word ("take the wing" is ``take chicken wing``), a plural its
    singular."""
    done = {(verb_of(a), action_object(a)) for a in actions if " " in a}
    verbs = {verb for verb, _ in done}
    known = _known_words(actions, mentioned)
    for token, thing in _verb_things(text, verbs):
        if thing[-1] not in known:
            continue
        if not any(verb == token and [_singular(w) for w in obj.split()[-1:]] == [_singular(thing[-1])]
                   for verb, obj in done):  # fmt: skip
            return f"{token} {' '.join(thing)}"
    return None


def unseen_thing(text: str, actions: Sequence[str], mentioned: Iterable[str]) -> str | None:
    """The first "verb thing" the text names whose verb ``actions`` use but whose thing neither they nor
    ``mentioned`` ever name ("take a baking sheet" from games that never saw one); None when there is none. A
    plural and its singular count as the same word."""
    verbs = {verb_of(a) for a in actions if " " in a}
    known = {_singular(w) for w in _known_words(actions, mentioned)}
    for token, thing in _verb_things(text, verbs):
        if _singular(thing[-1]) not in known:
            return f"{token} {' '.join(thing)}"
    return None


def check_rule(text: str, evidence: Sequence[MemoryRecord]) -> str | None:
    """Why reflection should refuse ``text`` given its evidence (a :data:`memory.reflect.RuleCheck`), or None."""
    mentioned = {word for record in evidence for word in _TOKENS.findall(record.text.lower())}
    actions = evidence_actions(evidence)
    if (found := untaken_action(text, actions, mentioned)) is not None:
        return f"names '{found}', an action its evidence never took"
    if (found := unseen_thing(text, actions, mentioned)) is not None:
        return f"names '{found}', a thing its evidence never saw"
    return None
