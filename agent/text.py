"""Small text helpers every layer of the agent shares: shortening for prompts and terminals, and the words
that carry no content in game prose."""

from __future__ import annotations

import re

FILLER = frozenset(
    {"the", "and", "you", "your", "that", "this", "with", "are", "there", "has", "have", "also", "see", "part",
     "room", "another", "one", "some", "into", "from", "for", "nothing", "contains", "can", "not", "its", "was",
     "were", "which", "what", "here", "now", "then"}
)  # fmt: skip
"""The filler of game prose ("you see", "there is"), left out of :func:`content_words`."""

ARTICLES = ("the", "some", "a", "an")
"""Articles before an object in game text ("the pork chop", "some milk")."""


def content_words(text: str) -> set[str]:
    """Lower-case words of three letters or more, without :data:`FILLER`."""
    return set(re.findall(r"[a-z]{3,}", text.lower())) - FILLER


def first_words(text: str, words: int = 40) -> str:
    """The first ``words`` words of ``text``, with " …" when some were cut (for memories and prompts)."""
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def clip(text: str, width: int = 90) -> str:
    """``text`` on one line, cut to ``width`` characters with "…" (for terminal tables)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
