"""Reading the TextWorld plug-in's fact meta (``processing``, ``kept``, ``how``, ``template``, ``reply``,
``instructed``) and what earned points in the shapes its recall and policies use."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from agent.families.textworld import howto
from agent.families.textworld.grammar import PLACING
from agent.learning.facts import fact_reward
from envs.shortlist import verb_of
from memory import MemoryRecord


def earned_anywhere(records: Sequence[MemoryRecord]) -> set[str]:
    """The actions of ``records`` that earned points and never lost any, other than ways of processing an
    ingredient (which its recipe decides: "cook pork chop in oven" roasts, fatal where the recipe fries)."""
    earned = {str(r.meta.get("action", "")) for r in records if fact_reward(r) > 0 and not r.meta.get("processing")}
    lost = {str(r.meta.get("action", "")) for r in records if fact_reward(r) < 0 or r.meta.get("fatal")}
    return earned - lost - {""}

def ids_by_action(records: Sequence[MemoryRecord], actions: set[str]) -> dict[str, tuple[str, ...]]:
    """Each of ``actions`` → the ids of the facts among ``records`` that say it earned points."""
    out: dict[str, list[str]] = {}
    for r in records:
        action = str(r.meta.get("action", ""))
        if action in actions and (fact_reward(r) > 0 or r.meta.get("kept")):
            out.setdefault(action, []).append(r.id)
    return {action: tuple(ids) for action, ids in out.items()}

def placing_never_paid(records: Sequence[MemoryRecord]) -> bool:
    """True when ``records`` hold facts of actions that earned points and none of them placed something."""
    earned = [str(r.meta.get("action", "")) for r in records if fact_reward(r) > 0]
    return bool(earned) and not any(verb_of(action) in PLACING for action in earned)

def kept_facts(records: Iterable[MemoryRecord]) -> list[tuple[str, str, str]]:
    """(id, take action, object) of the kept facts among ``records`` (:meth:`Episode.kept_steps`)."""
    return [(r.id, str(r.meta.get("action", "")), str(r.meta["kept"])) for r in records if r.meta.get("kept")]

def howto_facts(records: Iterable[MemoryRecord]) -> list[howto.HowTo]:
    """The how-to facts among ``records``, one per way of doing something (the newest reply kept)."""
    first: dict[tuple[str, str], tuple[str, str]] = {}
    processing: set[str] = set()
    instructed: set[str] = set()
    for record in records:
        how, template = str(record.meta.get("how") or ""), str(record.meta.get("template") or "")
        if how and "{}" in template:
            first.setdefault((how, template), (record.id, str(record.meta.get("reply", ""))))
            if record.meta.get("processing"):
                processing.add(how)
            if record.meta.get("instructed"):
                instructed.add(how)
    return [howto.HowTo(mid, how, template, reply, how in processing, how in instructed)
            for (how, template), (mid, reply) in first.items()]
