"""What a chat session's operations return: a turn, the portrait, a forgetting sweep, a reflection."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from memory import (
    ForgetReport,
    MemoryRecord,
    ReflectReport,
    RetrievedMemory,
)

log = logging.getLogger(__name__)


@dataclass
class TurnResult:
    """One turn of the chat: what was asked, answered and used."""

    message: str
    """The user's message."""
    reply: str
    """The assistant's answer (what had streamed before an error, if one happened)."""
    used: list[RetrievedMemory] = field(default_factory=list)
    """The memories the answer was grounded in, best first."""
    memory_id: str | None = None
    """Id of the stored ``experience`` memory (None when the model failed and nothing was stored)."""
    retrieve_s: float = 0.0
    """Seconds spent retrieving memories."""
    first_token_s: float | None = None
    """Seconds from the start of the turn to the first streamed token (None: no token came)."""
    answer_s: float | None = None
    """Seconds from the start of the turn to the end of the streamed answer (None: no token came)."""
    total_s: float = 0.0
    """Seconds for the whole turn (retrieval, generation, storing)."""
    error: str | None = None
    """The model error, when the model failed (the session goes on)."""


@dataclass(frozen=True)
class Portrait:
    """What the agent knows about the user (``/memories``)."""

    namespace: str
    """The user's namespace."""
    profile: list[MemoryRecord]
    """Profile facts, newest first."""
    summaries: list[MemoryRecord]
    """Session summaries, newest first."""
    recent_turns: list[MemoryRecord]
    """The most recent remembered turns, newest first."""
    turns: int
    """Active conversation turns remembered."""
    forgotten: int
    """Memories of this user that were forgotten (archived, restorable)."""
    first_day: str | None
    """Date of the oldest remembered turn."""
    last_day: str | None
    """Date of the newest remembered turn."""

    @property
    def empty(self) -> bool:
        """True when nothing is known yet."""
        return not (self.profile or self.summaries or self.turns)


@dataclass(frozen=True)
class ForgetResult:
    """What ``/forget`` did."""

    archived: list[MemoryRecord]
    """The memories forgotten (archived; restorable from the dashboard)."""
    matched_by: str
    """``id``, ``text`` or ``similarity``."""


@dataclass(frozen=True)
class SessionReflection:
    """What a reflection at ``/reflect`` or at the end of a session did."""

    reflect: ReflectReport | None
    """The reflection report (None when there was nothing new to reflect on)."""
    forget: ForgetReport
    """The forgetting sweep at the session's now."""
