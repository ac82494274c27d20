"""Reading the JSON-lines files runs append to (episodes, reflect logs, answers), tolerant of a crash.

Runs append one JSON object per line and flush it, so an interrupted run leaves at most one torn line at
the end of a file. Readers skip it (and any other line that is not a JSON object) with a warning, and
resume from what was written whole.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of a JSON-lines file with their line numbers; a line torn by a crash is logged and skipped."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            log.warning("%s line %d is unreadable (%s); skipped", path, number, exc)
            continue
        if isinstance(data, dict):
            yield number, data
        else:
            log.warning("%s line %d is not a JSON object; skipped", path, number)
