"""The action to fall back on when the model's reply is unusable."""

from __future__ import annotations

from collections.abc import Sequence

from agent.core.trajectory import NON_INFORMATIVE, StepRecord


def pick_untried(options: Sequence[str], history: Sequence[StepRecord], rewarded: frozenset[str]) -> str | None:
    """An action not taken yet: one that earned reward in similar tasks first, then an informative one."""
    tried = {s.action for s in history}
    fresh = [a for a in options if a not in tried]
    preferred = [a for a in fresh if a in rewarded]
    informative = [a for a in fresh if a.lower() not in NON_INFORMATIVE]
    candidates = preferred or informative or fresh
    return candidates[0] if candidates else None
