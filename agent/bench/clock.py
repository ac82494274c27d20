"""The memory bank's clock during a bench: the wall clock while training, frozen for held-out play.

Retrieval weighs recency and retention, which move with time; frozen at the bank's last activity
(:meth:`memory.views.BankView.latest_activity`), the same bank ranks the same memories for the same query at
any later time, so a held-out replay with the same code and model plays the same episodes.
"""

from __future__ import annotations

import time


class BenchClock:
    """A callable clock (Unix seconds) that can be frozen and thawed."""

    def __init__(self) -> None:
        self.frozen_at: float | None = None
        """The time it returns while frozen; None: the wall clock."""

    def __call__(self) -> float:
        return time.time() if self.frozen_at is None else self.frozen_at

    def freeze(self, at: float) -> None:
        """Return ``at`` from now on."""
        self.frozen_at = float(at)

    def thaw(self) -> None:
        """Follow the wall clock again (training)."""
        self.frozen_at = None
