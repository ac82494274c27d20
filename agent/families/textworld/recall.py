"""The TextWorld plug-in's recall: facts about objects in view tag the actions they name, instruction lines decide
how an object is processed (how-to facts), and what earlier wins held to the end is kept.

Given what general retrieval found (:class:`agent.core.context.Retrieved`), it reads the namespace's standing facts
in full, because a how-to or kept fact counts wherever it was retrieved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from agent.core.context import MemoryContext, Retrieved
from agent.families.textworld import howto
from agent.families.textworld.facts import earned_anywhere, howto_facts, ids_by_action, kept_facts, placing_never_paid
from agent.families.textworld.likeness import Likeness
from agent.families.textworld.recalled import TextWorldRecall
from agent.learning.recall import FACT_QUOTAS
from agent.text import action_object
from memory import MemoryBank, MemoryKind


def _mentioned(action: str, text: str) -> bool:
    """True when the action's object (the words after its verb, before " in "/" on ") occurs in ``text``."""
    obj = action_object(action)
    return bool(obj) and obj in text.lower()

def _on_topic(action: str, enabled: str, observation: str) -> bool:
    """A fact is about this game when its action's object is in view, or, for an enabling step ("open
    fridge → needed before put milk in fridge"), the object of the action it enabled (the milk)."""
    return _mentioned(enabled, observation) if enabled else _mentioned(action, observation)


def textworld_context(bank: MemoryBank, found: Retrieved, *, seen: str, avoid: frozenset[str], record: bool,
                      switches: Mapping[str, bool]) -> MemoryContext:  # fmt: skip
    """The context of one episode: the best-scored facts fill the quotas of :data:`FACT_QUOTAS` (what earned and
    what lost points with an object in view; else a few earned elsewhere), and only facts about objects in view
    tag actions as rewarded or penalised.
    ``switches["howtos"]``: apply the how-to facts (:mod:`agent.families.textworld.howto`) to the instruction
    lines of ``seen``: what they ask is tagged rewarded and the other known ways of processing those objects
    penalised, over what facts about the objects say.
    ``switches["kept"]``: the objects earlier wins took and held to the end (the knife that slicing needs) become
    ``TextWorldRecall.kept_objects`` and their takes rewarded (the fact is shown when the object is in view), and
    ``TextWorldRecall.takes_are_kept`` says whether no placing ever earned points.
    """
    howtos, kept = switches.get("howtos", True), switches.get("kept", True)
    good = [(mid, text, action, _on_topic(action, enabled, seen)) for mid, text, action, enabled in found.good]
    bad = [(mid, text, action, _on_topic(action, enabled, seen)) for mid, text, action, enabled in found.bad]
    facts: list[str] = []
    ids = list(found.ids)
    rewarded: set[str] = set()
    penalised: set[str] = set()
    applied = howto.Applied()
    standing = bank.memories(kinds=[MemoryKind.FACT], namespace=found.namespace) if found.facts_on else []
    if howtos and standing:  # what this game's instructions ask, done the way earlier replies said
        known = howto_facts(standing)
        applied = howto.apply(known, seen)
        facts.extend(applied.lines)
        ids.extend(applied.memory_ids)
        # instructions decide how an object is processed: a fact about processing this ingredient under another
        # recipe ("cook red hot pepper in stove → earned points", it fried it) is neither shown nor tagged
        processing = howto.processing_actions(known, {row[2] for row in good + bad})
        good, bad = [r for r in good if r[2] not in processing], [r for r in bad if r[2] not in processing]
    held: dict[str, str] = {}  # an object earlier wins held to the end → its take
    for mid, action, obj in kept_facts(standing) if kept else ():
        if obj in held:
            continue
        # kept wherever it turns up (the knife may be in a cupboard opened after the last retrieval); only one
        # in view is shown
        held[obj] = action
        if re.search(rf"\b{re.escape(obj)}\b", seen.lower()):
            facts.append(f"{action} → kept until the game was won")
            ids.append(mid)
    groups = (([f for f in good if f[3]], FACT_QUOTAS["earned here"], rewarded),
              ([f for f in bad if f[3]], FACT_QUOTAS["lost here"], penalised),
              # facts about other objects only when memory knows nothing about these (analogies help then)
              ([f for f in good if not f[3]] if not any(f[3] for f in good + bad) else [],
               FACT_QUOTAS["earned elsewhere"], None))  # fmt: skip
    for group, quota, tagged in groups:  # each in the bank's order
        for mid, text, action, _ in group[:quota]:
            facts.append(text)
            ids.append(mid)
            if tagged is not None:  # only facts about this game tag and rank the action list
                tagged.add(action)
    if record and ids:
        bank.mark_recalled(ids)
    # an action memory saw both earn and lose is tagged neither, unless this game's instructions decide; one it
    # only saw earn is tagged whenever offered, on topic at this retrieval or not (the meal exists once prepared,
    # after the last retrieval: training prepared it and never ate it)
    earned = earned_anywhere(standing)
    rewarded |= earned
    good_now = (rewarded - penalised - applied.unasked) | applied.asked | (set(held.values()) - penalised)
    bad_now = (penalised - rewarded - applied.asked) | applied.unasked
    return MemoryContext(
        facts=tuple(facts), rules=found.rules, examples=found.examples, reflections=found.reflections,
        similar_notes=found.notes, rewarded_actions=frozenset(good_now - set(avoid)),
        penalised_actions=frozenset(bad_now | set(avoid)), memory_ids=tuple(dict.fromkeys(ids)),
        family=TextWorldRecall(
            waiting_templates=applied.instructed_templates, kept_objects=frozenset(held),
            takes_are_kept=kept and placing_never_paid(standing),
            likeness=Likeness(earned - set(avoid), bank.embed) if earned else None),
        earned_ids=ids_by_action(standing, earned | set(held.values())),
    )  # fmt: skip
