"""Reading fact memories: the reward their ``meta`` records, and the :class:`agent.core.valuation.Fact` the general
agent values actions with. The TextWorld plug-in's readings are in :mod:`agent.families.textworld.facts`."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from agent.core.valuation import Fact, words
from memory import MemoryRecord

log = logging.getLogger(__name__)


def fact_reward(record: MemoryRecord) -> float:
    """The reward a fact records (0 when it records none)."""
    reward = record.meta.get("reward")
    return float(reward) if isinstance(reward, (int, float)) else 0.0

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
