"""The slash commands of a chat session and the labels of memory kinds shown to the user."""

from __future__ import annotations

import logging

from memory import (
    MemoryKind,
)

log = logging.getLogger(__name__)


KIND_LABELS = {MemoryKind.EXPERIENCE: "conversation", MemoryKind.SUMMARY: "summary", MemoryKind.PROFILE: "about"}


COMMANDS = {
    "/memories": "what I know about you",
    "/why": "which memories the last answer used, with scores",
    "/forget <id|text>": "forget a memory by id, or the memories containing a text",
    "/pin <id>": "never forget a memory",
    "/reflect": "write the summary and portrait now, and forget what has faded",
    "/help": "this list",
    "/quit": "end the session (also Ctrl-D)",
}
"""The slash commands of the chat and what they do."""


def parse_command(line: str) -> tuple[str, str] | None:
    """``"/forget my dog"`` → ``("/forget", "my dog")``; None for an ordinary message."""
    text = line.strip()
    if not text.startswith("/"):
        return None
    name, _, arg = text.partition(" ")
    return name.lower(), arg.strip()
