"""The chat's clock and dates: an injectable clock for simulated days, and how dates are parsed and spoken."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from agent.errors import UsageError
from memory import (
    MemoryBank,
    MemoryRecord,
)

log = logging.getLogger(__name__)


def parse_when(text: str) -> float:
    """``2026-05-01`` (noon UTC) or ``2026-05-01T14:30`` (UTC unless an offset is given) → Unix seconds.

    Raises:
        UsageError: the text is not an ISO date or date-time.
    """
    raw = text.strip()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(
            f"cannot read the date {text!r}; give an ISO date like 2026-05-01 or 2026-05-01T14:30"
        ) from None
    if len(raw) <= 10:  # a date alone: the middle of that day
        moment = moment.replace(hour=12)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def day_of(ts: float) -> str:
    """The UTC date of a Unix time, ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def spoken_date(ts: float) -> str:
    """A date as people say it (``Friday, May 1, 2026``): the keyword context of a turn."""
    moment = datetime.fromtimestamp(ts, UTC)
    return f"{moment:%A}, {moment:%B} {moment.day}, {moment.year}"


class SimulatedClock:
    """A clock that starts at a chosen time and then runs at real speed (turns stay in order).

    ``SimulatedClock()`` is the real time; ``SimulatedClock(parse_when("2026-05-01"))`` pretends the
    session happens on that day. :meth:`set` jumps to another time (a replay walks through days).
    """

    def __init__(self, start: float | None = None) -> None:
        """Start at ``start`` (Unix seconds), or at the real time when None."""
        self._offset = 0.0
        if start is not None:
            self.set(start)

    def set(self, moment: float) -> None:
        """Make the clock read ``moment`` now (and run on from there)."""
        self._offset = float(moment) - time.time()

    def __call__(self) -> float:
        """The simulated now, Unix seconds."""
        return time.time() + self._offset


def memory_dates(bank: MemoryBank, record: MemoryRecord) -> str:
    """When a memory's content happened: its evidence's date range for derived memories, else its own date."""
    if record.derived_from:
        days = sorted({day_of(r.created_at) for r in bank.get_many(list(record.derived_from))})
        if days:
            return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
    return day_of(record.created_at)
