"""Credit: what the memories an episode used earned, summed per kind for the results."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from memory import MemoryBank

log = logging.getLogger(__name__)


def credit(bank: MemoryBank, namespace: str, top: int = 5) -> dict[str, Any]:
    """Per kind: active memories, how many were credited by episodes, and their mean smoothed utility;
    plus the ``top`` most and least useful credited memories (at least two uses)."""
    active = bank.memories(namespace=namespace)  # active ones only (the default status)
    kinds: dict[str, dict[str, Any]] = {}
    for kind in sorted({r.kind.value for r in active}):
        records = [r for r in active if r.kind.value == kind]
        used = [r for r in records if r.utility_count]
        kinds[kind] = {"memories": len(records), "credited": len(used),
                       "mean_utility": round(sum(r.utility for r in used) / len(used), 3) if used else None,
                       "uses": sum(r.utility_count for r in used)}  # fmt: skip
    ranked = sorted((r for r in active if r.utility_count >= 2), key=lambda r: (r.utility, r.utility_count))

    def row(r: Any) -> dict[str, Any]:
        return {"id": r.id, "kind": r.kind.value, "utility": round(r.utility, 3), "uses": r.utility_count,
                "text": r.text[:160]}  # fmt: skip

    return {"kinds": kinds, "most_useful": [row(r) for r in ranked[::-1][:top]],
            "least_useful": [row(r) for r in ranked[:top]]}  # fmt: skip

def credit_table(kinds: Mapping[str, Mapping[str, Any]], shown: bool = False) -> str:
    """Markdown table of :func:`credit`'s ``kinds``; ``shown``: the bench credited every memory shown with the
    episode's score (``EvolutionConfig.credit_shown``), else by counterfactual evidence."""
    how = ("each memory an episode used is credited with its score" if shown else
           "rules by their paired trials, the facts a step stood on by what the step earned")  # fmt: skip
    lines = [f"### training credit ({how})", "",
             "| kind | active | credited | uses | mean utility |", "|---|---|---|---|---|"]  # fmt: skip
    for kind, v in kinds.items():
        utility = "–" if v["mean_utility"] is None else format(v["mean_utility"], ".2f")
        lines.append(f"| {kind} | {v['memories']} | {v['credited']} | {v['uses']} | {utility} |")
    return "\n".join(lines) + "\n"
