"""Did the retrieved memories help? Paired comparisons with the no-memory agent, and the bank's credit.

Two views, both in a bench's results:

* **paired**: each ablation against ``none`` on the same held-out tasks — on how many did memory turn a
  failure into a success (helped) or a success into a failure (hurt), with an exact two-sided sign test
  on helped vs hurt and the mean score difference;
* **credit**: what training recorded in the bank — every memory an episode used is credited with its
  score (``MemoryBank.feedback``), so each kind has a smoothed utility, and the most and least useful
  memories can be named (the forgetting sweep archives the ones that keep failing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agent.trajectory import Episode
from memory import MemoryBank


@dataclass(frozen=True)
class Paired:
    """One ablation against ``none`` on the tasks both played."""

    name: str
    tasks: int
    helped: int
    """Tasks ``none`` failed and this ablation solved."""
    hurt: int
    """Tasks ``none`` solved and this ablation failed."""
    both_solved: int
    both_failed: int
    score_delta: float
    """Mean score of this ablation minus that of ``none`` on the same tasks."""
    sign_test_p: float
    """Exact two-sided sign test of helped vs hurt (1.0 when neither happened)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial test of ``wins`` vs ``losses`` at p = 1/2 (ties left out)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_with_none(by_ablation: Mapping[str, Sequence[Episode]]) -> list[Paired]:
    """Every ablation but ``none`` against ``none``, task by task (seeds both played); [] without ``none``."""
    base = {e.seed: e for e in by_ablation.get("none", ())}
    out: list[Paired] = []
    for name, episodes in by_ablation.items():
        if name == "none" or not base:
            continue
        pairs = [(base[e.seed], e) for e in episodes if e.seed in base]
        helped = sum(not b.success and e.success for b, e in pairs)
        hurt = sum(b.success and not e.success for b, e in pairs)
        delta = sum(e.score - b.score for b, e in pairs) / len(pairs) if pairs else 0.0
        p = float(f"{sign_test(helped, hurt):.4g}")  # significant digits: 17 helped, 0 hurt is 7.6e-06, not 0
        out.append(Paired(name=name, tasks=len(pairs), helped=helped, hurt=hurt,
                          both_solved=sum(b.success and e.success for b, e in pairs),
                          both_failed=sum(not b.success and not e.success for b, e in pairs),
                          score_delta=round(delta, 4), sign_test_p=p))  # fmt: skip
    return out


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


def paired_table(rows: Sequence[Mapping[str, Any]], title: str) -> str:
    """Markdown table of :func:`paired_with_none` rows (as dicts)."""
    header = "| with | tasks | helped | hurt | both solved | both failed | score Δ | sign test p |"
    lines = [f"#### {title}", "", header, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['tasks']} | {r['helped']} | {r['hurt']} | {r['both_solved']} | "
                     f"{r['both_failed']} | {r['score_delta']:+.2f} | {_p_value(r['sign_test_p'])} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _p_value(p: float) -> str:
    """``p`` to three decimals, or "<0.001" (17 helped and none hurt is p = 8e-6, not 0)."""
    return "<0.001" if p < 0.0005 else f"{p:.3f}"


def credit_table(kinds: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown table of :func:`credit`'s ``kinds``."""
    lines = ["### training credit (each memory an episode used is credited with its score)", "",
             "| kind | active | credited | uses | mean utility |", "|---|---|---|---|---|"]  # fmt: skip
    for kind, v in kinds.items():
        utility = "–" if v["mean_utility"] is None else format(v["mean_utility"], ".2f")
        lines.append(f"| {kind} | {v['memories']} | {v['credited']} | {v['uses']} | {utility} |")
    return "\n".join(lines) + "\n"
