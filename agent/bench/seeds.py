"""Which held-out seeds a bench plays: development ranges to debug and tune on, report ranges fixed before a final
run and never looked at while building, or seeds a user names.

The ranges are positions in a fold, so every environment gets the same protocol. In distribution (the training
fold, whose first 30% is where training seeds come from): development from 30% of the fold, report from 60%. Out
of distribution (the test fold): development from 10%, report from 20%. For TextWorldExpress (folds of 1000 seeds)
that is dev 300-349 and 20100-20149, report 600-699 and 20200-20299. ``legacy`` is what benches played before
ranges existed (the training fold's second half, the test fold's start).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from agent.errors import UsageError

Purpose = Literal["legacy", "dev", "report"]
PURPOSES: tuple[Purpose, ...] = ("dev", "report", "legacy")

RANGES = {("in", "dev"): (0.3, 0.6), ("in", "report"): (0.6, 1.0), ("out", "dev"): (0.1, 0.2),
          ("out", "report"): (0.2, 1.0)}  # fmt: skip
"""(setting, purpose) → the fraction of the fold where its seeds start and the fraction where they must end."""

TRAIN_SHARE = 0.3
"""Training seeds come from the first 30% of the training fold."""


def held_out(fold: Sequence[int], setting: str, purpose: Purpose, n: int) -> list[int]:
    """The first ``n`` seeds of ``fold`` in the range of ``setting`` and ``purpose``."""
    fold = list(fold)
    if purpose == "legacy":
        start, end = (len(fold) // 2, len(fold)) if setting == "in" else (0, len(fold))
    else:
        lo, hi = RANGES[(setting, purpose)]
        start, end = int(len(fold) * lo), int(len(fold) * hi)
    if n > end - start:
        raise UsageError(f"the {setting} fold has {len(fold)} tasks: at most {end - start} {purpose} seeds "
                         f"(positions {start}-{end - 1}); got --test {n}")  # fmt: skip
    return fold[start : start + n]


def training_seeds(fold: Sequence[int], n: int) -> list[int]:
    """The first ``n`` seeds of the training fold (at most :data:`TRAIN_SHARE` of it)."""
    fold = list(fold)
    cut = max(1, int(len(fold) * TRAIN_SHARE))
    if n > cut:
        raise UsageError(f"the training fold has {len(fold)} tasks: at most {cut} for --train (got {n})")
    return fold[:n]


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"700-729,800"`` → (700, ..., 729, 800); a bad part is a usage error naming it."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match or (match.group(2) and int(match.group(2)) < int(match.group(1))):
            raise UsageError(f"--test-seeds {text!r}: {part!r} is not a seed or a range like 700-729")
        first = int(match.group(1))
        seeds += range(first, int(match.group(2) or first) + 1)
    if not seeds:
        raise UsageError(f"--test-seeds {text!r} names no seed; give e.g. 700-729")
    return tuple(dict.fromkeys(seeds))


def named_seeds(seeds: Sequence[int], fold: Sequence[int], trained: Sequence[int], setting: str) -> list[int]:
    """Seeds a user named, checked: each must be in the setting's fold and none may have been trained on."""
    known = set(fold)
    outside = [s for s in seeds if s not in known]
    if outside:
        raise UsageError(f"--test-seeds: {outside[:5]} are not in the {setting} fold ({fold[0]}-{fold[-1]})")
    seen = sorted(set(seeds) & set(trained))
    if seen:
        raise UsageError(f"--test-seeds: {seen[:5]} were trained on; name seeds the bank has not seen")
    return list(seeds)
