"""What the TextWorld plug-in leaves out of the actions offered: those spent whatever the state, and those that would
undo what was earned, read from the verbs and objects of TextWorld actions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from agent.core.trajectory import Episode, StepRecord
from agent.families.textworld.grammar import PLACING, TAKING
from agent.text import action_object
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
    fridge"). Taking is such a step only with ``takes_are_kept`` (``TextWorldRecall.takes_are_kept``): where placing
    pays (twc) a taken object is meant to be put somewhere; where it never pays (cookingworld), it is kept."""
    held: set[str] = set()
    placed: set[str] = set()
    for step in history:
        verb = verb_of(step.action)
        if step.reward > 0 and not step.invalid and (verb not in TAKING or takes_are_kept):
            (placed if verb in PLACING else held).add(action_object(step.action))
    return {a for a in actions if (verb_of(a) in PLACING and action_object(a) in held)
            or (verb_of(a) in TAKING and action_object(a) in placed)}  # fmt: skip


def kept_steps(episode: Episode) -> dict[int, str]:
    """Unrewarded takes of a solved episode whose object was held until the end → that object.

    Cookingworld offers "slice banana" only while the knife is held, and no action or reply names the knife:
    "take knife" earned nothing and enabled nothing by name, yet the game was won holding it. An object let go
    of later ("drop knife") does not count, nor does a take after the last rewarded step.
    """
    if not episode.success:
        return {}
    last_rewarded = max((i for i, s in enumerate(episode.steps) if s.reward > 0 and not s.invalid), default=-1)
    kept: dict[int, str] = {}
    for i, step in enumerate(episode.steps[:last_rewarded]):
        obj = action_object(step.action)
        if step.invalid or step.reward != 0 or verb_of(step.action) not in TAKING or not obj:
            continue
        if not any(verb_of(s.action) in PLACING and action_object(s.action) == obj and not s.invalid
                   for s in episode.steps[i + 1 :]):  # fmt: skip
            kept[i] = obj
    return kept
