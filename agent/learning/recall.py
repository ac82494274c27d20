"""Recall: which memories an episode sees, retrieved by relevance and restricted to the kinds an ablation may use.

Facts fill quotas (:data:`FACT_QUOTAS`) and become the context's rewarded and penalised actions; how-to, kept and
placing facts are read by :mod:`agent.learning.facts`. Retrieval happens before the first step and again when a
step brings new things into view (:func:`agent.core.episode.run_episode`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence

from agent.core.context import MemoryContext
from agent.core.valuation import ActionValues, Fact
from agent.errors import UsageError
from agent.families.textworld import howto
from agent.families.textworld.grammar import action_object
from agent.families.textworld.likeness import Likeness
from agent.learning.facts import (
    earned_anywhere,
    fact_of,
    fact_reward,
    howto_facts,
    ids_by_action,
    kept_facts,
    placing_never_paid,
)
from agent.text import first_words
from memory import MemoryBank, MemoryKind

log = logging.getLogger(__name__)


ABLATIONS: dict[str, tuple[MemoryKind, ...]] = {
    "none": (),
    "reflexion": (MemoryKind.REFLECTION,),
    "trajectories": (MemoryKind.EXPERIENCE,),
    "insights": (MemoryKind.INSIGHT,),
    "facts": (MemoryKind.FACT,),
    "full": (MemoryKind.EXPERIENCE, MemoryKind.REFLECTION, MemoryKind.INSIGHT, MemoryKind.FACT),
    "full-model": (MemoryKind.EXPERIENCE, MemoryKind.REFLECTION, MemoryKind.INSIGHT, MemoryKind.FACT),
    "rules": (MemoryKind.EXPERIENCE, MemoryKind.REFLECTION, MemoryKind.INSIGHT, MemoryKind.FACT),
}
"""Which memory kinds each ablation may retrieve at test time (all share one training memory)."""

DECIDERS = {"full-model": "model", "rules": "rules"}
"""Who decides in an ablation other than the default (memory policies first, then the model): ``model`` alone
(every decision left to the model, memories in its prompt), or ``rules`` alone (the memory policies, and a random
choice for what they do not decide; no model)."""

def parse_ablations(text: str) -> list[str]:
    """``"none,full"`` → ``["none", "full"]``; an unknown name is a usage error naming the choices."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown or not names:
        raise UsageError(f"unknown ablation(s) {unknown or [text]}; choose from {', '.join(ABLATIONS)}")
    return names

FACT_QUOTAS = {"earned here": 8, "lost here": 6, "earned elsewhere": 3}
"""Facts shown per episode, by group: about an object in view ("here") that earned points or enabled an
action that did, about one in view that lost points, and (only when there is none of those) earned
points with other objects. Without quotas the many losses crowd out the one fact that matters, and facts about
other objects lead a small model astray."""

def _mentioned(action: str, text: str) -> bool:
    """True when the action's object (the words after its verb, before " in "/" on ") occurs in ``text``."""
    obj = action_object(action)
    return bool(obj) and obj in text.lower()

def _on_topic(action: str, enabled: str, observation: str) -> bool:
    """A fact is about this game when its action's object is in view, or, for an enabling step ("open
    fridge → needed before put milk in fridge"), the object of the action it enabled (the milk)."""
    return _mentioned(enabled, observation) if enabled else _mentioned(action, observation)

def retrieve_context(
    bank: MemoryBank,
    *,
    task: str,
    observation: str,
    namespace: str,
    kinds: Sequence[MemoryKind],
    record: bool,
    same_task_reflections: Sequence[str] = (),
    budget: int = 700,
    seen: str | None = None,
    avoid: Iterable[str] = (),
    howtos: bool = True,
    kept: bool = True,
    general: bool = False,
) -> MemoryContext:
    """Memories for one episode, restricted to ``kinds`` (an ablation), grouped for the prompt.

    Facts: the best-scored candidates fill the quotas of :data:`FACT_QUOTAS` (what earned and what lost
    points with an object in view; else a few earned elsewhere); only facts about objects in view tag
    actions as rewarded or penalised. Reflections retrieved from other tasks are kept apart from this
    task's own notes.
    ``record=False`` leaves recall statistics untouched (held-out evaluation must not change memory).
    ``observation`` is what the query is about; ``seen`` (default: ``observation``) is everything the episode
    has shown so far, against which a fact is judged on topic (a retrieval again mid-episode, after the
    fridge was opened, still knows what was in view at the start).
    ``avoid``: actions an earlier trial at this very task lost with; penalised whatever memory says.
    ``howtos``: with facts, apply the how-to facts (:mod:`agent.families.textworld.howto`) to the instruction
    lines of ``seen``: what they ask is tagged rewarded and the other known ways of processing those objects
    penalised, over what facts about the objects say.
    ``kept``: with facts, the objects earlier wins took and held to the end (the knife that slicing needs) become
    ``MemoryContext.kept_objects`` and their takes rewarded (:meth:`Episode.kept_steps`; the fact is shown when
    the object is in view), and ``MemoryContext.takes_are_kept`` says whether no placing ever earned points.
    ``general``: no TextWorld plug-in (``howtos`` and ``kept`` are then ignored): the facts retrieved for this
    task and observation are shown by relevance within the quotas, tag nothing themselves, and become
    ``MemoryContext.valuer``, which values the offered actions at every step (:mod:`agent.core.valuation`).
    """
    query = f"{task}\n{observation}"
    in_view = observation if seen is None else seen
    examples: list[str] = []
    rules: list[str] = []
    notes: list[str] = []
    rewarded: set[str] = set()
    penalised: set[str] = set()
    ids: list[str] = []
    plan = {MemoryKind.EXPERIENCE: 6, MemoryKind.FACT: 40, MemoryKind.INSIGHT: 5, MemoryKind.REFLECTION: 3}
    good: list[tuple[str, str, str, bool]] = []
    bad: list[tuple[str, str, str, bool]] = []
    valued: list[Fact] = []
    for kind in kinds:
        if kind not in plan:
            continue
        hits = bank.retrieve(query, k=plan[kind], kinds=[kind], namespace=namespace,
                             token_budget=None if kind is MemoryKind.FACT else budget, record=False)  # fmt: skip
        for hit in hits:
            meta = hit.record.meta
            if kind is MemoryKind.EXPERIENCE:
                if not meta.get("success") and not meta.get("corrected"):
                    continue
                line = f"{first_words(hit.record.text.split(chr(10))[0], 25)} ⇒ {meta.get('actions', '')}"
                if line in examples or len(examples) >= 2:
                    continue
                examples.append(line)
            elif kind is MemoryKind.FACT:
                reward = fact_reward(hit.record)
                action, enabled = str(meta.get("action", "")), str(meta.get("enabled") or "")
                if general and (fact := fact_of(hit.id, hit.record.text, meta)) is not None:
                    valued.append(fact)
                row = (hit.id, hit.record.text, action, general or _on_topic(action, enabled, in_view))
                if meta.get("fatal") or reward < 0:
                    bad.append(row)
                elif enabled or reward > 0:
                    good.append(row)
                continue
            elif kind is MemoryKind.INSIGHT:
                rules.append(hit.record.text)
            else:  # notes of other tasks are the weakest memories: short, so they cannot crowd out facts
                notes.append(first_words(hit.record.text, 50))
            ids.append(hit.id)
    if general:
        return _general_context(bank, valued, good, bad, examples, rules, notes, ids, same_task_reflections, avoid,
                                record)  # fmt: skip
    facts: list[str] = []
    applied = howto.Applied()
    standing = bank.memories(kinds=[MemoryKind.FACT], namespace=namespace) if MemoryKind.FACT in kinds else []
    if howtos and standing:  # what this game's instructions ask, done the way earlier replies said
        known = howto_facts(standing)
        applied = howto.apply(known, in_view)
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
        if re.search(rf"\b{re.escape(obj)}\b", in_view.lower()):
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
        facts=tuple(facts), rules=tuple(rules), examples=tuple(examples), reflections=tuple(same_task_reflections),
        similar_notes=tuple(notes), rewarded_actions=frozenset(good_now - set(avoid)),
        penalised_actions=frozenset(bad_now | set(avoid)), memory_ids=tuple(dict.fromkeys(ids)),
        waiting_templates=applied.instructed_templates, kept_objects=frozenset(held),
        takes_are_kept=kept and placing_never_paid(standing),
        likeness=Likeness(earned - set(avoid), bank.embed) if earned else None,
        earned_ids=ids_by_action(standing, earned | set(held.values())),
    )  # fmt: skip


def _general_context(bank: MemoryBank, valued: list[Fact], good: list[tuple[str, str, str, bool]],
                     bad: list[tuple[str, str, str, bool]], examples: list[str], rules: list[str], notes: list[str],
                     ids: list[str], reflections: Sequence[str], avoid: Iterable[str],
                     record: bool) -> MemoryContext:  # fmt: skip
    """The context without a family plug-in: facts shown by relevance within the quotas, values from all the
    facts retrieved, and only this task's own losses (``avoid``) tagged up front."""
    facts: list[str] = []
    for group, quota in ((good, FACT_QUOTAS["earned here"]), (bad, FACT_QUOTAS["lost here"])):
        for mid, text, _, _ in group[:quota]:
            facts.append(text)
            ids.append(mid)
    if record and ids:
        bank.mark_recalled(ids)
    return MemoryContext(
        facts=tuple(facts), rules=tuple(rules), examples=tuple(examples), reflections=tuple(reflections),
        similar_notes=tuple(notes), penalised_actions=frozenset(avoid), memory_ids=tuple(dict.fromkeys(ids)),
        valuer=ActionValues(valued, bank.embed) if valued else None,
    )  # fmt: skip
