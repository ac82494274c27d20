"""Cheap action shortlisting for small-model prompts (no model, lexical overlap only).

ScienceWorld offers 100-400 valid actions per step; a small model's prompt cannot hold them all. The
shortlist keeps the actions whose words overlap most with the task and the latest observation, weighting
rare words above words that occur in many actions (an IDF over the action list itself), and first gives
every action verb ("focus on", "move", "teleport to", ...) one slot so no kind of action disappears from
view. Shortlisting only shapes the prompt: the adapter still accepts every action the benchmark accepts.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "to",
        "on",
        "in",
        "of",
        "at",
        "it",
        "is",
        "are",
        "be",
        "your",
        "you",
        "and",
        "or",
        "then",
        "first",
        "this",
        "that",
        "with",
        "from",
        "into",
        "for",
        "by",
        "as",
        "its",
        "there",
        "here",
        "can",
        "which",
        "what",
        "when",
        "do",
        "does",
        "will",
        "must",
        "should",
        # scenery words every ScienceWorld room description repeats ("the agent", "a substance called air")
        "task",
        "agent",
        "air",
        "called",
        "see",
        "room",
    }
)
"""Words ignored when measuring overlap."""

# Multi-word verbs come first so "pick up x" is filed under "pick up", not "pick".
_VERBS = (
    "focus on",
    "pick up",
    "put down",
    "look around",
    "look at",
    "look in",
    "teleport to",
    "move",
    "open",
    "close",
    "go to",
    "connect",
    "disconnect",
    "activate",
    "deactivate",
    "pour",
    "mix",
    "use",
    "eat",
    "wait",
    "read",
    "flush",
    "dunk",
    "inventory",
    "take",
    "put",
    "cook",
    "slice",
    "chop",
    "dice",
    "prepare",
    "drop",
    "examine",
    "read map",
    "task",
    "score",
)


def tokens(text: str) -> list[str]:
    """Lower-cased content words of ``text`` (stopwords removed).

    Args:
        text: Any text.

    Returns:
        The words, in order.
    """
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def verb_of(action: str) -> str:
    """The action's verb phrase ("focus on", "move", ...), or its first word if unknown.

    Args:
        action: An action string.

    Returns:
        The verb phrase used to group actions.
    """
    low = " ".join(action.lower().split())
    for verb in _VERBS:
        if low == verb or low.startswith(verb + " "):
            return verb
    return low.split(" ", 1)[0] if low else ""


def after_verb(action: str) -> str:
    """The words of ``action`` after its verb phrase (:func:`verb_of`), lower-cased: "pick up seed" → "seed",
    "put white onion in fridge" → "white onion in fridge", "look around" → ""."""
    low = " ".join(action.lower().split())
    return low[len(verb_of(low)) :].strip()


NAVIGATION = frozenset({"go to", "teleport to", "move east", "move west", "move north", "move south"})
"""Verb phrases that move the agent; they get a small bonus because most tasks need walking somewhere."""


def score_actions(actions: Sequence[str], *, task: str, observation: str) -> list[float]:
    """Relevance of each action to the task and the observation.

    An action's object words (the words after its verb phrase) each score ``idf * (2 if in the task) +
    idf * (1 if in the observation)``, where ``idf = log(1 + n_actions / df)`` and ``df`` counts the
    actions holding the word; the sum is divided by the square root of the number of object words, so
    short, specific actions win ties. The verb earns +1.5 when the task names it (``focus on``, ``move``)
    and navigation verbs earn +1.

    Args:
        actions: The valid actions.
        task: The task description.
        observation: The latest observation text (or the room description).

    Returns:
        One score per action, in the same order.
    """
    verbs = [verb_of(a) for a in actions]
    objects = [set(tokens(after_verb(a))) for a in actions]
    df: Counter[str] = Counter()
    for toks in objects:
        df.update(toks)
    task_words = set(tokens(task))
    obs_words = set(tokens(observation))
    n = max(len(actions), 1)
    scores = []
    for verb, toks in zip(verbs, objects, strict=True):
        s = sum(math.log(1.0 + n / df[w]) * (2.0 * (w in task_words) + 1.0 * (w in obs_words)) for w in toks)
        s /= math.sqrt(max(len(toks), 1))
        if any(vw in task_words for vw in verb.split() if vw not in STOPWORDS):
            s += 1.5
        if verb in NAVIGATION:
            s += 1.0
        scores.append(s)
    return scores


def shortlist_actions(
    actions: Sequence[str],
    *,
    task: str,
    observation: str,
    k: int = 20,
    keep: Iterable[str] = (),
    per_verb: int | None = None,
) -> tuple[str, ...]:
    """Pick at most ``k`` actions most relevant to the task and observation.

    Order of selection: the ``keep`` actions that are valid; then actions by relevance
    (:func:`score_actions`; ties go to the shorter action, then to the benchmark's order) with at most
    ``per_verb`` of any one verb, so a verb with many objects cannot fill the list; then, if slots remain,
    the best of the rest. Deterministic for the same inputs.

    Args:
        actions: The valid actions, in the benchmark's order.
        task: The task description.
        observation: The latest observation text (or the room description).
        k: How many actions to return (``k >= 1``).
        keep: Actions always included when valid (e.g. ``"look around"``).
        per_verb: Cap per verb phrase in the first pass (default ``max(2, k // 4)``).

    Returns:
        The shortlisted actions, in selection order.

    Raises:
        ValueError: if ``k`` is smaller than 1.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}; pass the number of actions to show in the prompt.")
    if len(actions) <= k:
        return tuple(actions)
    cap = per_verb if per_verb is not None else max(2, k // 4)
    scores = score_actions(actions, task=task, observation=observation)
    order = sorted(range(len(actions)), key=lambda i: (-scores[i], len(actions[i]), i))
    index = {a: i for i, a in enumerate(actions)}
    chosen: list[int] = []
    seen: set[int] = set()
    for action in keep:
        i = index.get(action)
        if i is not None and i not in seen and len(chosen) < k:
            chosen.append(i)
            seen.add(i)
    per: Counter[str] = Counter(verb_of(actions[i]) for i in chosen)
    for i in order:
        if len(chosen) >= k:
            break
        verb = verb_of(actions[i])
        if i not in seen and per[verb] < cap:
            chosen.append(i)
            seen.add(i)
            per[verb] += 1
    for i in order:
        if len(chosen) >= k:
            break
        if i not in seen:
            chosen.append(i)
            seen.add(i)
    return tuple(actions[i] for i in chosen)
