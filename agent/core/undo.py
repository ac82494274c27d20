"""Undoing what was earned, told from what every environment gives: the valid actions before and after a step.

A step *undid* an earlier rewarded action of the episode when that action is valid again after the step, not before
it, and the step is about the same thing (it says more than half of the rewarded action's words): "put red apple in
dishwasher" after "take red apple" earned points offers "take red apple" again. An action's first word is read as
its command and the rest as what it acts on, the one convention of text-game commands this module uses: leaving a
room the episode was rewarded for reaching is not about the same thing ("go to hallway" after "go to kitchen"), so
a needed detour does not count. A remembered pair (what was undone, the step that undid it) predicts other undoing
steps: the same step with the one span of words in which the rewarded actions differ swapped ("red apple" → "yellow
potato"), or one that shares its first word and differs from it in one span ("put yellow potato in fridge" like "put
yellow potato in dishwasher").
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence

from agent.core.trajectory import StepRecord
from agent.core.valuation import differing_spans, words

Undo = tuple[str, str]
"""(an action that earned points, a step that undid it)."""


def about_same(action: str, earned: str) -> bool:
    """Whether ``action`` says more than half of the words ``earned`` acts on: those after its first word, the
    command's (all of them for a one-word action). "put shirt in wardrobe" is about "take shirt"; "go to hallway"
    is not about "go to kitchen"."""
    said = words(earned)
    wanted = set(said[1:] or said)
    return bool(wanted) and len(wanted & set(words(action))) * 2 > len(wanted)


def undone_by(action: str, reward: float, was: Collection[str], now: Collection[str],
              history: Sequence[StepRecord]) -> tuple[str, ...]:  # fmt: skip
    """The rewarded actions of ``history`` that ``action`` made valid again (valid in ``now``, not in ``was``); none
    when the step earned points itself (it moved on: "put shirt in basket" offers "take shirt" again)."""
    if reward > 0:
        return ()
    earned = {s.action for s in history if s.reward > 0 and not s.invalid}
    return tuple(sorted(a for a in earned if a in now and a not in was and a != action and about_same(action, a)))


def episode_undos(history: Iterable[StepRecord]) -> list[Undo]:
    """The (undone, undoer) pairs an episode's steps record (``StepRecord.undid``)."""
    return [(earned, step.action) for step in history for earned in step.undid]


def predicts(offered: str, held: str, undo: Undo) -> bool:
    """Whether ``offered`` would undo ``held`` (an action that earned points and is not valid now) by analogy with
    a remembered ``undo``: it is about ``held`` and like the remembered undoing step with ``held``'s words put in."""
    earned, undoer = undo
    if not about_same(offered, held):
        return False
    target = undoer.lower()
    if held != earned:
        spans = differing_spans(held, earned, structural=False)
        if spans is None:
            return False
        mine, theirs = spans
        pattern = rf"\b{re.escape(theirs)}\b"
        if not re.search(pattern, target):
            return False
        target = re.sub(pattern, mine, target)
    offered = offered.lower()
    if offered == target:
        return True
    same_start = offered.split()[:1] == target.split()[:1]
    return same_start and differing_spans(offered, target, structural=True) is not None


def undoing(offered: Iterable[str], valid: Collection[str], history: Sequence[StepRecord],
            remembered: Iterable[Undo]) -> set[str]:  # fmt: skip
    """The offered actions that would undo what this episode earned and still holds (its rewarded actions not valid
    now), predicted from ``remembered`` pairs and those this episode recorded itself. The caller leaves out what
    memory values as good (at least ``ActorConfig.value_threshold``): in a game that pays for putting a thing in the
    right place, a wrong place undid the take, and the right one must stay on offer."""
    held = {s.action for s in history if s.reward > 0 and not s.invalid} - set(valid)
    pairs = [*remembered, *episode_undos(history)]
    if not held or not pairs:
        return set()
    return {a for a in offered if any(predicts(a, h, u) for h in held for u in pairs)}
