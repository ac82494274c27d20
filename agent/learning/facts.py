"""Reading fact memories: what their ``meta`` records (``action``, ``reward``, ``fatal``, ``processing``, ``kept``,
``how``, ``template``, ``reply``, ``instructed``), in the shapes recall and the policies use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from agent.core.valuation import Fact, words
from agent.families.textworld import howto
from agent.families.textworld.grammar import PLACING
from envs.shortlist import verb_of
from memory import MemoryRecord

log = logging.getLogger(__name__)


def fact_reward(record: MemoryRecord) -> float:
    """The reward a fact records (0 when it records none)."""
    reward = record.meta.get("reward")
    return float(reward) if isinstance(reward, (int, float)) else 0.0

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


def fact_of(memory_id: str, text: str, meta: Mapping[str, object]) -> Fact | None:
    """The :class:`Fact` a fact memory records (its ``meta`` action, reward, fatal, enabled and kept, and the
    reply quoted in its text), or None for one without an action."""
    action = str(meta.get("action") or "")
    if not action:
        return None
    reward = meta.get("reward")
    reward = float(reward) if isinstance(reward, (int, float)) else 0.0
    if meta.get("fatal") or reward < 0:
        sign = -1.0
    elif reward > 0:
        sign = 1.0
    elif meta.get("enabled") or meta.get("kept"):
        sign = 0.5
    else:
        return None
    reply = str(meta.get("reply") or (text.split(': "', 1)[1].rstrip('"') if ': "' in text else ""))
    said = frozenset(words(action))
    needs = frozenset(words(str(meta.get("enabled") or ""))) - said
    return Fact(action, sign, frozenset(words(reply)) - said, memory_id, needs)
