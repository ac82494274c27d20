"""What reflection's items stand on: the experiences labelled E1, E2, ... in a prompt, the labels a reply cites, the
episodes an item cites through them, and the shared-word check that refuses generic advice."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from memory.base import MemoryRecord
from memory.keyword import tokenize

PARTS = re.compile(r"\n| -> | → |; ")
"""Where an evidence text splits into the parts an item may cite: lines, arrows between steps, semicolons."""
CITES = "cites"
"""``meta`` key of a written item: the parts of its evidence it stands on, ``ID#K,...`` (see :func:`cited_parts`)."""

LABEL = re.compile(r"^\[?\s*([ER])\s*(\d+)\s*\]?$", re.IGNORECASE)
"""An evidence or rule label as a model writes it: ``E3``, ``[e3]``, ``R 2``."""


def label_lines(experiences: Sequence[MemoryRecord]) -> str:
    """The experiences as a prompt shows them: ``E1: text (outcome: ...)``, one per line."""
    lines = []
    for i, e in enumerate(experiences, start=1):
        outcome = e.meta.get("outcome")
        suffix = f" (outcome: {outcome})" if outcome is not None else ""
        lines.append(f"E{i}: {e.text}{suffix}")
    return "\n".join(lines)


def resolve_labels(labels: Any, mapping: dict[str, str]) -> list[str]:
    """The memory ids a reply's labels name (unknown labels and anything but a list are ignored), in order, once."""
    out: list[str] = []
    for label in labels if isinstance(labels, list) else []:
        m = LABEL.match(str(label).strip())
        key = f"{m.group(1).upper()}{int(m.group(2))}" if m else str(label).strip()
        if key in mapping and mapping[key] not in out:
            out.append(mapping[key])
    return out


def cited_sources(evidence: Sequence[str], by_id: dict[str, MemoryRecord]) -> tuple[str, ...]:
    """The episodes (and turns) the evidence came from: what a written item cites besides the evidence itself."""
    return tuple(dict.fromkeys(s for e in evidence for s in (*by_id[e].source_ids, by_id[e].episode_id) if s))


def shares_a_word(text: str, evidence: Sequence[MemoryRecord]) -> bool:
    """True when the statement shares a content word with its evidence (rejects generic advice)."""
    words = set(tokenize(text))
    return any(words & set(tokenize(e.text)) for e in evidence)


def cited_parts(text: str, evidence: Sequence[MemoryRecord], most: int = 12) -> str:
    """The parts of the evidence an item stands on, as ``ID#K`` joined by commas: part K (from 1, the evidence text
    split by :data:`PARTS`; in an episode's trajectory, its steps) of memory ID shares a content word with the item."""
    words = set(tokenize(text))
    cites = [f"{e.id}#{k}" for e in evidence for k, part in enumerate(PARTS.split(e.text), start=1)
             if words & set(tokenize(part))]  # fmt: skip
    return ",".join(cites[:most])


def part_of(record: MemoryRecord, k: int) -> str:
    """Part ``k`` (from 1) of a memory's text as :func:`cited_parts` counts them ("" when there is none)."""
    parts = PARTS.split(record.text)
    return parts[k - 1] if 1 <= k <= len(parts) else ""
