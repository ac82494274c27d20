"""The statistics of a bench: Wilson and normal 95% intervals, and paired sign tests of an ablation against `none`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agent.core.trajectory import Episode

Z95 = 1.959963984540054


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a success rate (well behaved at 0 and 1 and for small n)."""
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    # exact at the edges: rounding gave 0.9999999999999999 for 10/10, an interval that misses its own rate
    return (0.0 if successes == 0 else min(p, centre - half), 1.0 if successes == n else max(p, centre + half))


def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and its normal-approximation 95% interval, kept within the range scores take (0 to 1, the
    environments' normalised score, widened to any value outside it): near a ceiling the normal
    approximation otherwise reports e.g. 0.97 (0.90–1.03)."""
    n = len(values)
    if n == 0:
        return (0.0, 0.0, 0.0)
    mean = sum(values) / n
    if n == 1:
        return (mean, mean, mean)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = Z95 * sd / math.sqrt(n)
    return (mean, max(min(0.0, *values), mean - half), min(max(1.0, *values), mean + half))


@dataclass(frozen=True)
class Paired:
    """One ablation against a base (``none``, or ``rules``) on the tasks both played."""

    name: str
    tasks: int
    helped: int
    """Tasks the base failed and this ablation solved."""
    hurt: int
    """Tasks the base solved and this ablation failed."""
    both_solved: int
    both_failed: int
    score_delta: float
    """Mean score of this ablation minus that of the base on the same tasks."""
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
    return paired_with(by_ablation, "none")


def paired_with(by_ablation: Mapping[str, Sequence[Episode]], base_name: str) -> list[Paired]:
    """Every ablation but ``base_name`` against it, task by task (seeds both played); [] without it. ``helped``
    counts the tasks the base failed and the ablation solved."""
    base = {e.seed: e for e in by_ablation.get(base_name, ())}
    out: list[Paired] = []
    for name, episodes in by_ablation.items():
        if name == base_name or not base:
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


def paired_table(rows: Sequence[Mapping[str, Any]], title: str) -> str:
    """Markdown table of :func:`paired_with_none` rows (as dicts)."""
    header = "| with | tasks | helped | hurt | both solved | both failed | score Δ | sign test p |"
    lines = [f"#### {title}", "", header, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['tasks']} | {r['helped']} | {r['hurt']} | {r['both_solved']} | "
                     f"{r['both_failed']} | {r['score_delta']:+.2f} | {p_value(r['sign_test_p'])} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def p_value(p: float) -> str:
    """``p`` to three decimals, or "<0.001" (17 helped and none hurt is p = 8e-6, not 0)."""
    return "<0.001" if p < 0.0005 else f"{p:.3f}"
