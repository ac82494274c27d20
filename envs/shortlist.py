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
    "a an the to on in of at it is are be your you and or then first this that with from into for by "
    "as its there here can which what when do does will must should".split()
)
"""Words ignored when measuring overlap."""

# Multi-word verbs come first so "pick up x" is filed under "pick up", not "pick".
_VERBS = (
    "focus on", "pick up", "put down", "look around", "look at", "look in", "teleport to", "move",
    "open", "close", "go to", "connect", "disconnect", "activate", "deactivate", "pour", "mix", "use",
    "eat", "wait", "read", "flush", "dunk", "inventory", "take", "put", "cook", "slice", "chop", "dice",
    "prepare", "drop", "examine", "read map", "task", "score",
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


def score_actions(actions: Sequence[str], *, task: str, observation: str) -> list[float]:
    """Relevance of each action to the task and the observation.

    Each content word of an action scores ``idf * (2 if in task) + idf * (1 if in observation)``, where
    ``idf = log(1 + n_actions / df)`` and ``df`` counts the actions holding the word.

    Args:
        actions: The valid actions.
        task: The task description.
        observation: The latest observation text.

    Returns:
        One score per action, in the same order.
    """
    action_tokens = [set(tokens(a)) for a in actions]
    df: Counter[str] = Counter()
    for toks in action_tokens:
        df.update(toks)
    task_words = set(tokens(task))
    obs_words = set(tokens(observation))
    n = max(len(actions), 1)
    scores = []
    for toks in action_tokens:
        s = 0.0
        for w in toks:
            idf = math.log(1.0 + n / df[w])
            s += idf * (2.0 * (w in task_words) + 1.0 * (w in obs_words))
        scores.append(s)
    return scores


def shortlist_actions(
    actions: Sequence[str],
    *,
    task: str,
    observation: str,
    k: int = 20,
    keep: Iterable[str] = (),
) -> tuple[str, ...]:
    """Pick at most ``k`` actions most relevant to the task and observation.

    Order of selection: the ``keep`` actions that are valid; then the best action of each verb (most
    relevant verbs first) until half of ``k`` is used; then the remaining actions by relevance. Ties keep
    the benchmark's order, so the result is deterministic.

    Args:
        actions: The valid actions, in the benchmark's order.
        task: The task description.
        observation: The latest observation text.
        k: How many actions to return (``k >= 1``).
        keep: Actions always included when valid (e.g. ``"look around"``).

    Returns:
        The shortlisted actions, in selection order.

    Raises:
        ValueError: if ``k`` is smaller than 1.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}; pass the number of actions to show in the prompt.")
    if len(actions) <= k:
        return tuple(actions)
    scores = score_actions(actions, task=task, observation=observation)
    order = sorted(range(len(actions)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    seen: set[int] = set()
    valid = {a: i for i, a in enumerate(actions)}
    for action in keep:
        i = valid.get(action)
        if i is not None and i not in seen and len(chosen) < k:
            chosen.append(i)
            seen.add(i)
    verbs_done = {verb_of(actions[i]) for i in chosen}
    for i in order:
        if len(chosen) >= max(k // 2, 1):
            break
        verb = verb_of(actions[i])
        if verb not in verbs_done and i not in seen:
            verbs_done.add(verb)
            chosen.append(i)
            seen.add(i)
    for i in order:
        if len(chosen) >= k:
            break
        if i not in seen:
            chosen.append(i)
            seen.add(i)
    return tuple(actions[i] for i in chosen)
