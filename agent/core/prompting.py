"""Prompt templates (data files shipped with the package) and token-budgeted packing."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from agent.core.context import MemoryContext
from memory.tokens import count_tokens, truncate_to_tokens


@lru_cache(maxsize=8)
def load_prompts(name: str) -> dict[str, str]:
    """The templates of ``agent/prompts/<name>.yaml``."""
    text = resources.files("agent.prompts").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    data: Any = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"prompt file {name}.yaml must hold a mapping of template names to strings")
    return {str(k): str(v) for k, v in data.items()}


def pack(items: Iterable[str], budget: int) -> list[str]:
    """Keep items in order while their tokens fit in ``budget``; the first item that overflows is cut."""
    kept: list[str] = []
    left = budget
    for item in items:
        if left <= 0:
            break
        cost = count_tokens(item) + 1
        if cost <= left:
            kept.append(item)
            left -= cost
        else:
            if left > 16:
                kept.append(truncate_to_tokens(item, left - 1) + " …")
            break
    return kept


def memory_block(context: MemoryContext, budget: int) -> str:
    """The memory part of the prompt, within ``budget`` tokens; empty when there is nothing."""
    if context.empty:
        return ""
    p = load_prompts("actor")
    # the most actionable first: a long note from another task must not crowd out this task's facts
    sections: list[tuple[str, tuple[str, ...]]] = [
        (p["reflections_header"], context.reflections),
        (p["facts_header"], context.facts),
        (p["examples_header"], context.examples),
        (p["similar_notes_header"], context.similar_notes),
        (p["rules_header"], context.rules),
    ]
    lines = [p["memory_header"]]
    left = budget - count_tokens(lines[0])
    for header, items in sections:
        if not items or left <= 32:
            continue
        kept = pack((f"- {item}" for item in items), left - count_tokens(header))
        if kept:
            block = "\n".join([header, *kept])
            lines.append(block)
            left -= count_tokens(block) + 1
    return "\n".join(lines) if len(lines) > 1 else ""
