"""Which actions the actor leaves out of what it offers: those spent, those that would undo what was earned, and
the untried one to fall back on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from agent.core.trajectory import NON_INFORMATIVE, StepRecord
from agent.families.textworld.grammar import PLACING, TAKING, action_object
from envs.shortlist import after_verb, verb_of


def spent_actions(history: Sequence[StepRecord]) -> set[str]:
    """Actions taken that earned nothing and are still pointless. One whose object a later action changed
    ("open trash can", then "close trash can") may be worth taking again, once: taken twice without earning,
    it is spent whatever happened since, so opening and closing cannot cycle. One that ever earned points stays."""
    last = {step.action: i for i, step in enumerate(history)}
    taken = Counter(step.action for step in history)
    earned = {step.action for step in history if step.reward > 0}
    spent: set[str] = set()
    for action, i in last.items():
        obj = after_verb(action)
        if action in earned or (taken[action] < 2 and obj and any(
                s.action != action and after_verb(s.action) == obj for s in history[i + 1 :])):  # fmt: skip
            continue
        spent.add(action)
    return spent


def undoing_actions(history: Sequence[StepRecord], actions: Sequence[str], *, takes_are_kept: bool = False) -> set[str]:
    """The ``actions`` that would undo what a step of ``history`` earned: letting go of an object a step earned
    points making or processing ("prepare meal" → "put meal in dishwasher", "cook carrot in oven" → "drop
    carrot"), or taking back one a step earned points placing ("put apple in fridge" → "take apple from
    fridge"). Taking is such a step only with ``takes_are_kept`` (``MemoryContext.takes_are_kept``): where placing
    pays (twc) a taken object is meant to be put somewhere; where it never pays (cookingworld), it is kept."""
    held: set[str] = set()
    placed: set[str] = set()
    for step in history:
        verb = verb_of(step.action)
        if step.reward > 0 and not step.invalid and (verb not in TAKING or takes_are_kept):
            (placed if verb in PLACING else held).add(action_object(step.action))
    return {a for a in actions if (verb_of(a) in PLACING and action_object(a) in held)
            or (verb_of(a) in TAKING and action_object(a) in placed)}  # fmt: skip


def pick_untried(options: Sequence[str], history: Sequence[StepRecord], rewarded: frozenset[str]) -> str | None:
    """An action not taken yet: one that earned reward in similar tasks first, then an informative one."""
    tried = {s.action for s in history}
    fresh = [a for a in options if a not in tried]
    preferred = [a for a in fresh if a in rewarded]
    informative = [a for a in fresh if a.lower() not in NON_INFORMATIVE]
    candidates = preferred or informative or fresh
    return candidates[0] if candidates else None
