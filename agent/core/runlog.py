"""The episodes of a run, persisted one JSON line each: what a crash or a resume reads back."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent.core.trajectory import Episode
from agent.jsonl import json_lines

log = logging.getLogger(__name__)


@dataclass
class RunLog:
    """The episodes of a run, persisted one JSON line each (append-only, fsynced).

    A run with several worker processes writes one file per worker (``episodes-w0.jsonl``,
    ``episodes-w1.jsonl``, ...) beside ``episodes.jsonl`` so that concurrent appends never interleave;
    :meth:`open` reads them all, so resuming works the same with or without workers.
    """

    path: Path
    episodes: list[Episode] = field(default_factory=list)
    code: str = ""
    """The agent code's hash stamped on each episode appended (``Episode.code``); '' stamps nothing."""

    @staticmethod
    def files(path: Path) -> list[Path]:
        """``path`` and its worker siblings ``STEM-wN.SUFFIX`` that exist, the worker files by number."""
        pattern = re.compile(re.escape(path.stem) + r"-w(\d+)" + re.escape(path.suffix))
        workers = [(int(m.group(1)), p) for p in path.parent.glob(f"{path.stem}-w*{path.suffix}")
                   if (m := pattern.fullmatch(p.name))]  # fmt: skip
        return [p for p in [path] if p.is_file()] + [p for _, p in sorted(workers)]

    @classmethod
    def open(cls, path: Path) -> RunLog:
        """Load the episodes recorded at ``path`` and in its worker files (torn lines from a crash are skipped).

        Episodes are ordered by the time they were logged (lines written before that time was recorded
        keep their file order, first).
        """
        log_ = cls(path)
        stamped: list[tuple[float, int, Episode]] = []
        for file in cls.files(path):
            for number, data in json_lines(file):
                try:
                    logged_at = float(data.pop("logged_at", 0.0))
                    stamped.append((logged_at, len(stamped), Episode.from_dict(data)))
                except (ValueError, TypeError, AttributeError, KeyError) as exc:
                    log.warning("%s line %d is unreadable (%s); skipped", file, number, exc)
        log_.episodes = [episode for *_, episode in sorted(stamped, key=lambda item: item[:2])]
        return log_

    def append(self, episode: Episode, tag: str) -> None:
        """Record one finished episode durably (with the time it was logged, to merge worker files)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        episode.tag = tag
        if self.code:
            episode.code = self.code
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({**episode.to_dict(), "logged_at": round(time.time(), 3)}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.episodes.append(episode)
