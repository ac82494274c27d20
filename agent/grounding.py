"""Checking a rule against the actions of its evidence, before reflection writes it.

Asked for rules from its training episodes, the 1.5B model wrote "when you are in the kitchen and you see
a stove, take the stove": every word of it is in the evidence (so the shared-word check in
:mod:`memory.reflect` lets it through), yet no episode ever took the stove. A rule that tells the agent to
do something with a thing is checked here against the actions its evidence took: when its verb and its
thing both occur in those actions but never together, the rule names an action nobody took, and reflection
refuses it. A verb or a thing the evidence never used is left alone (the rule may paraphrase).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from memory.base import MemoryRecord

_PREPOSITION = re.compile(r"\s+(?:in|on|into|onto|from|with|to|at|under)\s+")
_ARTICLE = r"(?:(?:the|a|an|some|your)\s+)?"
_WORDS = re.compile(r"[^a-z0-9\s-]+")


def evidence_actions(records: Iterable[MemoryRecord]) -> list[str]:
    """The actions the records took: an experience's ``actions`` (``a -> b -> c``) and a fact's ``action``."""
    actions: list[str] = []
    for record in records:
        actions += [a.strip() for a in str(record.meta.get("actions") or "").split(" -> ") if a.strip()]
        if record.meta.get("action"):
            actions.append(str(record.meta["action"]).strip())
    return list(dict.fromkeys(a.lower() for a in actions))


def _verb_and_object(action: str) -> tuple[str, str]:
    """``put white onion in fridge`` → (``put``, ``white onion``); the object is what precedes a preposition."""
    verb, _, rest = action.partition(" ")
    return verb, _PREPOSITION.split(rest, maxsplit=1)[0].strip()


def untaken_action(text: str, actions: Sequence[str]) -> str | None:
    """The first "verb thing" the text names whose verb and thing occur in ``actions`` but never as one action
    (``take the stove`` when the actions took the knife and cooked with the stove); None when there is none."""
    taken = {_verb_and_object(a) for a in actions if " " in a}
    verbs = {verb for verb, _ in taken}
    parts = {part.strip() for a in actions for part in _PREPOSITION.split(a.partition(" ")[2]) if part.strip()}
    things = sorted(parts, key=len, reverse=True)  # "red potato" before "potato"
    words = " ".join(_WORDS.sub(" ", text.lower()).split())
    for verb in sorted(verbs):
        for match in re.finditer(rf"\b{re.escape(verb)}\s+{_ARTICLE}(?=(.+))", words):
            rest = match.group(1)
            thing = next((t for t in things if rest == t or rest.startswith(t + " ")), None)
            if thing is not None and (verb, thing) not in taken:
                return f"{verb} {thing}"
    return None


def check_rule(text: str, evidence: Sequence[MemoryRecord]) -> str | None:
    """Why reflection should refuse ``text`` given its evidence (a :data:`memory.reflect.RuleCheck`), or None."""
    actions = evidence_actions(evidence)
    found = untaken_action(text, actions)
    if found is None:
        return None
    return f"names '{found}', an action its evidence never took"
