"""Recall: which memories an episode sees, retrieved by relevance and restricted to the kinds an ablation may use.

What was found is grouped into the episode's context by the general agent (facts shown within quotas,
:data:`FACT_QUOTAS`, and valued against each offered action at every step) or by a family plug-in's recall hook
(:meth:`agent.core.family.Family.recall`). Retrieval happens before the first step and again when a step brings
new things into view (:func:`agent.core.episode.run_episode`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from agent.core.context import FactRow, MemoryContext, Retrieved
from agent.core.family import GENERAL, Family
from agent.core.valuation import ActionValues, Fact
from agent.errors import UsageError
from agent.learning.facts import fact_of, fact_reward
from agent.text import first_words
from memory import MemoryBank, MemoryKind

log = logging.getLogger(__name__)


ABLATIONS: dict[str, tuple[MemoryKind, ...]] = {
    "none": (),
    "reflexion": (MemoryKind.REFLECTION,),
    "trajectories": (MemoryKind.EXPERIENCE,),
    "insights": (MemoryKind.INSIGHT,),
    "insights-ungated": (MemoryKind.INSIGHT,),
    "facts": (MemoryKind.FACT,),
    "full": (MemoryKind.EXPERIENCE, MemoryKind.REFLECTION, MemoryKind.INSIGHT, MemoryKind.FACT),
    "full-model": (MemoryKind.EXPERIENCE, MemoryKind.REFLECTION, MemoryKind.INSIGHT, MemoryKind.FACT),
    "rules": (MemoryKind.EXPERIENCE, MemoryKind.REFLECTION, MemoryKind.INSIGHT, MemoryKind.FACT),
}
"""Which memory kinds each ablation may retrieve at test time (all share one training memory)."""

UNGATED = frozenset({"insights-ungated"})
"""Ablations that also retrieve candidate rules (those the gate refused or has not tried): every rule reflection
wrote, as if there were no gate, on the same bank (:mod:`agent.learning.gate`)."""

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
"""Facts shown per episode, by group: what earned points or enabled an action that did, what lost points, and
(for a plug-in that tells facts about things in view from others) earned points elsewhere. Without quotas the
many losses crowd out the one fact that matters."""

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
    earned: Iterable[str] = (),
    family: Family = GENERAL,
    switches: Mapping[str, bool] | None = None,
    candidates: bool = False,
) -> MemoryContext:
    """Memories for one episode, restricted to ``kinds`` (an ablation), grouped for the prompt.

    Facts: the best-scored candidates fill the quotas of :data:`FACT_QUOTAS`. Reflections retrieved from other
    tasks are kept apart from this task's own notes. A memory flagged by :mod:`memory.guard` (its text tries to
    instruct the model) is never shown.
    ``record=False`` leaves recall statistics untouched (held-out evaluation must not change memory).
    ``observation`` is what the query is about; ``seen`` (default: ``observation``) is everything the episode
    has shown so far, against which a fact is judged on topic (a retrieval again mid-episode, after the
    fridge was opened, still knows what was in view at the start).
    ``avoid``: actions an earlier trial at this very task lost with; penalised whatever memory says.
    ``earned``: actions an earlier trial at this very task earned points with; valued (the general agent) or
    tagged (a plug-in) as earning, as a fact in memory would be.
    ``candidates``: also show rules the gate has not admitted (:data:`UNGATED`).
    ``family``: the plug-in that groups what was found (its ``switches``: which of its recall options are on);
    the general agent's (:data:`agent.core.family.GENERAL`) shows the facts retrieved for this task and observation
    by relevance within the quotas, tags nothing with them, and makes them ``MemoryContext.valuer``, which values
    the offered actions at every step (:mod:`agent.core.valuation`).
    """
    query = f"{task}\n{observation}"
    in_view = observation if seen is None else seen
    examples: list[str] = []
    rules: list[str] = []
    notes: list[str] = []
    ids: list[str] = []
    plan = {MemoryKind.EXPERIENCE: 6, MemoryKind.FACT: 40, MemoryKind.INSIGHT: 5, MemoryKind.REFLECTION: 3}
    good: list[FactRow] = []
    bad: list[FactRow] = []
    undoes: list[tuple[str, str]] = []
    fact_hits: list[tuple[str, str, Mapping[str, object]]] = []
    for kind in kinds:
        if kind not in plan:
            continue
        hits = bank.retrieve(query, k=plan[kind], kinds=[kind], namespace=namespace, record=False,
                             token_budget=None if kind is MemoryKind.FACT else budget,
                             include_candidates=candidates and kind is MemoryKind.INSIGHT)  # fmt: skip
        for hit in hits:
            meta = hit.record.meta
            if meta.get("flagged"):  # text that tries to instruct the model never reaches the actor's prompt
                continue
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
                fact_hits.append((hit.id, hit.record.text, meta))
                row = (hit.id, hit.record.text, action, enabled)
                if meta.get("fatal") or reward < 0 or meta.get("undid"):
                    bad.append(row)
                    if meta.get("undid"):
                        undoes.append((str(meta["undid"]), action))
                elif enabled or reward > 0:
                    good.append(row)
                continue
            elif kind is MemoryKind.INSIGHT:
                rules.append(hit.record.text)
            else:  # notes of other tasks are the weakest memories: short, so they cannot crowd out facts
                notes.append(first_words(hit.record.text, 50))
            ids.append(hit.id)
    found = Retrieved(namespace=namespace, facts_on=MemoryKind.FACT in kinds, good=tuple(good), bad=tuple(bad),
                      examples=tuple(examples), rules=tuple(rules), notes=tuple(notes),
                      reflections=tuple(same_task_reflections), ids=tuple(ids), undoes=tuple(undoes))  # fmt: skip
    grouped = family.recall(bank, found, seen=in_view, avoid=frozenset(avoid), record=record,
                            switches=switches or {})  # fmt: skip
    again = frozenset(earned) - frozenset(avoid)
    if grouped is not None:
        return replace(grouped, rewarded_actions=grouped.rewarded_actions | again) if again else grouped
    valued = [fact for hit in fact_hits if (fact := fact_of(*hit)) is not None]  # read only on the general path
    valued += [Fact(action, 1.0) for action in sorted(again)]
    return _general_context(bank, found, valued, avoid, record)


def _general_context(bank: MemoryBank, found: Retrieved, valued: list[Fact], avoid: Iterable[str],
                     record: bool) -> MemoryContext:  # fmt: skip
    """The context without a family plug-in: facts shown by relevance within the quotas, values from all the
    facts retrieved, and only this task's own losses (``avoid``) tagged up front."""
    facts: list[str] = []
    ids = list(found.ids)
    for group, quota in ((found.good, FACT_QUOTAS["earned here"]), (found.bad, FACT_QUOTAS["lost here"])):
        for mid, text, _, _ in group[:quota]:
            facts.append(text)
            ids.append(mid)
    if record and ids:
        bank.mark_recalled(ids)
    return MemoryContext(
        facts=tuple(facts), rules=found.rules, examples=found.examples, reflections=found.reflections,
        similar_notes=found.notes, penalised_actions=frozenset(avoid), memory_ids=tuple(dict.fromkeys(ids)),
        undoes=found.undoes,
        valuer=ActionValues(valued, bank.embed) if valued else None,
    )  # fmt: skip
