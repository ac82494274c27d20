"""An inter-process reader/writer lock on a directory, for stores that several processes open at once.

``fcntl.flock`` on ``DIR/.evolve-lock`` orders processes; a re-entrant thread lock per directory, shared
by every lock object on it in a process, lets nested holds take the file lock once. A waiter gives up
after ``timeout`` seconds with :class:`StoreUnavailable` naming the lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from memory.errors import StoreUnavailable

_PATH_LOCKS: dict[str, threading.RLock] = {}
_PATH_LOCKS_GUARD = threading.Lock()


class DirLock:
    """An inter-process reader/writer lock on a directory (fcntl) plus an in-process re-entrant lock."""

    def __init__(self, directory: Path, timeout: float) -> None:
        self.path = directory / ".evolve-lock"
        self.timeout = timeout
        with _PATH_LOCKS_GUARD:
            self._thread_lock = _PATH_LOCKS.setdefault(str(directory.resolve()), threading.RLock())
        self._depth = 0
        self._fh: Any = None

    @contextlib.contextmanager
    def hold(self, exclusive: bool) -> Iterator[None]:
        """Hold the lock for the block: exclusive for writers, shared for readers; re-entrant in a process."""
        with self._thread_lock:
            if self._depth > 0:  # re-entrant: the outer holder already has the file lock
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            fh = open(self.path, "a+b")  # noqa: SIM115 - closed in finally
            try:
                self._acquire(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                self._depth = 1
                try:
                    yield
                finally:
                    self._depth = 0
                    fcntl.flock(fh, fcntl.LOCK_UN)
            finally:
                fh.close()

    def _acquire(self, fh: Any, mode: int) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fh, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreUnavailable(
                        f"another process has held the write lock {self.path} for over {self.timeout:.0f} s; "
                        "if no other process uses this memory directory, delete the lock file"
                    ) from None
                time.sleep(0.005)
