"""Small text helpers every layer of the agent shares: shortening for prompts and terminals, the words that carry
no content in game prose, and the English reading of what an action acts on."""

from __future__ import annotations

import re

from envs.shortlist import after_verb

FILLER = frozenset(
    {"the", "and", "you", "your", "that", "this", "with", "are", "there", "has", "have", "also", "see", "part",
     "room", "another", "one", "some", "into", "from", "for", "nothing", "contains", "can", "not", "its", "was",
     "were", "which", "what", "here", "now", "then"}
)  # fmt: skip
"""The filler of game prose ("you see", "there is"), left out of :func:`content_words`."""

ARTICLES = ("the", "some", "a", "an")
"""Articles before an object in game text ("the pork chop", "some milk")."""

OBJECT_PREPOSITIONS = ("in", "on", "into", "onto", "from", "with", "to")
"""English words that end the thing an action acts on ("cook pork chop in toaster", "take apple from fridge")."""


def content_words(text: str) -> set[str]:
    """Lower-case words of three letters or more, without :data:`FILLER`."""
    return set(re.findall(r"[a-z]{3,}", text.lower())) - FILLER


def first_words(text: str, words: int = 40) -> str:
    """The first ``words`` words of ``text``, with " …" when some were cut (for memories and prompts)."""
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def split_at(words: str, prepositions: tuple[str, ...]) -> list[str]:
    """``words`` split once at the first of ``prepositions`` ("white onion in fridge" → ["white onion", "fridge"])."""
    return re.split(rf" (?:{'|'.join(prepositions)}) ", words, maxsplit=1)


def action_object(action: str) -> str:
    """The thing an action acts on: the words after its verb (:func:`envs.shortlist.after_verb`) before any of
    :data:`OBJECT_PREPOSITIONS` ("cook pork chop in toaster" → "pork chop", "pick up seed" → "seed")."""
    return split_at(after_verb(action), OBJECT_PREPOSITIONS)[0].strip()


_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (newlines and tabs stay), so memory
    text shown in a terminal cannot set its title, clear it or reorder what it shows."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def clip(text: str, width: int = 90) -> str:
    """``text`` on one line, cut to ``width`` characters with "…", without control sequences (for terminal
    tables)."""
    flat = " ".join(printable(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
