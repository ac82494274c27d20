"""Prompt templates (data files shipped with the package) and token-budgeted packing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from memory.tokens import count_tokens, truncate_to_tokens

if TYPE_CHECKING:
    from agent.likeness import Likeness


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


@dataclass(frozen=True)
class MemoryContext:
    """Memories retrieved for one episode, grouped by how the prompt uses them.

    Retrieved before the first step and again only when a step brings new things into view (not at every
    step), so the prompt's stable prefix stays the same for most steps and the local model's KV cache is
    reused.
    """

    facts: tuple[str, ...] = ()
    """Grounded facts from the environment's feedback ("put X in Y was accepted")."""
    rules: tuple[str, ...] = ()
    """Insights and general lessons."""
    examples: tuple[str, ...] = ()
    """Action sequences of solved (or gold-corrected) similar tasks."""
    reflections: tuple[str, ...] = ()
    """Reflexion notes on earlier failed trials of this very task."""
    similar_notes: tuple[str, ...] = ()
    """Reflections retrieved from other, similar tasks (shown apart: they may not apply here)."""
    rewarded_actions: frozenset[str] = frozenset()
    """Actions that earned reward in similar tasks; listed first and tagged when they are valid now."""
    penalised_actions: frozenset[str] = frozenset()
    """Actions that lost points in similar tasks; listed last and tagged."""
    waiting_templates: tuple[str, ...] = ()
    """Ways of processing an object that instructions decide ("cook {} in stove"): an action fitting one that is
    not among ``rewarded_actions`` waits for an instruction naming its object (:mod:`agent.howto`)."""
    kept_objects: frozenset[str] = frozenset()
    """Objects earlier wins took and held to the end ("knife"): not let go of (``ActorConfig.keep_earned``)."""
    takes_are_kept: bool = False
    """Memory knows actions that earned points in these tasks, and no placing among them (cookingworld pays for
    taking an ingredient, never for putting it anywhere): what a step earned points taking is not let go of
    (``ActorConfig.keep_earned``). False without memory, and where placing pays (twc)."""
    likeness: Likeness | None = None
    """Where memory placed which objects, to rank places for an object it cannot place (``ActorConfig.
    place_by_likeness``); None without facts or without an earned action, empty (false) when memory earned no
    placing (cookingworld)."""
    memory_ids: tuple[str, ...] = ()
    """Ids of every memory above (for the feedback hook)."""
    earned_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Each action memory says earned points → the ids of the facts that say so, shown or not: a step memory
    takes without the model (:attr:`agent.actor.Decision.grounds`) adds them to the episode's memory ids."""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when nothing was retrieved."""
        return not (self.facts or self.rules or self.examples or self.reflections or self.similar_notes)


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
