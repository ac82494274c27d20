"""The bridge between episodes and the memory bank: what gets written, and what gets retrieved.

A weak model's free-form rules are mostly noise; grounded memories are not. So an episode becomes:

* an ``experience``: the action sequence with its outcome, keyed by the task's first observation for
  retrieval; a solved episode keeps only its rewarded steps and what enabled them, a failed one its
  informative steps (no look/inventory, invalid or repeated actions);
* ``fact`` memories: each action the environment rewarded or penalised ("put X in Y → earned
  points"), and each unrewarded step that enabled a rewarded one ("open fridge → needed before put X
  in fridge"): concrete, checkable knowledge that transfers to unseen games with the same objects;
* ``reflection``: a Reflexion note written after a failed trial (and a STaR rationale of the gold
  path when every trial failed on a training task).

Retrieval is done once per episode and restricted to the kinds an ablation may use.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent.errors import UsageError
from agent.llm.structured import complete_json
from agent.prompting import MemoryContext, load_prompts
from agent.trajectory import Episode
from memory import MemoryBank, MemoryInput, MemoryKind
from memory.reflect import JsonLLM

log = logging.getLogger(__name__)

ABLATIONS: dict[str, tuple[MemoryKind, ...]] = {
    "none": (),
    "reflexion": (MemoryKind.REFLECTION,),
    "trajectories": (MemoryKind.EXPERIENCE,),
    "insights": (MemoryKind.INSIGHT,),
    "facts": (MemoryKind.FACT,),
    "full": (MemoryKind.EXPERIENCE, MemoryKind.REFLECTION, MemoryKind.INSIGHT, MemoryKind.FACT),
}
"""Which memory kinds each ablation may retrieve at test time (all share one training memory)."""


def parse_ablations(text: str) -> list[str]:
    """``"none,full"`` → ``["none", "full"]``; an unknown name is a usage error naming the choices."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown or not names:
        raise UsageError(f"unknown ablation(s) {unknown or [text]}; choose from {', '.join(ABLATIONS)}")
    return names


def namespace_for(env_id: str) -> str:
    """The memory namespace of an environment: ``env:<env_id>``."""
    return f"env:{env_id}"


def json_llm(chat: BaseChatModel, retries: int = 1) -> JsonLLM:
    """Adapt a chat model into the memory package's injected ``JsonLLM`` protocol."""

    def call(messages: list[dict[str, str]], schema: dict[str, Any]) -> dict[str, Any]:
        converted: list[BaseMessage] = [
            SystemMessage(m["content"]) if m.get("role") == "system" else HumanMessage(m["content"]) for m in messages
        ]
        return complete_json(chat, converted, schema, retries=retries, name="reflection").data

    return call


def _short(text: str, words: int = 40) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def experience_inputs(episode: Episode, namespace: str, *, corrected: bool = False) -> list[MemoryInput]:
    """The memories one episode yields: its cleaned trajectory and its rewarded/penalised actions."""
    # a solved episode is remembered without its detours (the rewarded steps and what enabled them)
    actions = episode.essential_actions() if episode.success and not corrected else episode.informative_actions()
    outcome = "solved" if episode.success else f"failed (score {episode.score:.2f})"
    label = "Corrected solution (gold path)" if corrected else ("Solution" if episode.success else "Attempt")
    source = (episode.episode_id or f"{episode.env_id}:{episode.seed}",)
    meta: dict[str, Any] = {
        "success": episode.success, "score": round(episode.score, 4), "seed": episode.seed,
        "task_type": episode.task_type, "corrected": corrected, "actions": " -> ".join(actions)[:2000],
    }  # fmt: skip
    items = []
    if actions:
        items.append(
            MemoryInput(
                text=f"Start: {_short(episode.first_observation)}\n{label}: {' -> '.join(actions)} ({outcome})",
                kind=MemoryKind.EXPERIENCE, namespace=namespace, importance=0.7 if episode.success else 0.4,
                context=episode.task, source_ids=source, episode_id=episode.episode_id, meta=meta,
            )  # fmt: skip
        )
    seen: set[str] = set()
    for step in episode.steps:
        if step.invalid or step.reward == 0 or step.action in seen:
            continue
        seen.add(step.action)
        verdict = "earned points (accepted)" if step.reward > 0 else "lost points (wrong)"
        items.append(
            MemoryInput(
                text=f"{step.action} → {verdict}", kind=MemoryKind.FACT, namespace=namespace,
                importance=0.8 if step.reward > 0 else 0.6, context=_short(step.observation, 30),
                source_ids=source, episode_id=episode.episode_id,
                meta={"action": step.action, "reward": step.reward, "task_type": episode.task_type},
            )  # fmt: skip
        )
    for index, target in sorted(episode.enabling_steps().items()):
        action = episode.steps[index].action
        if action in seen:
            continue
        seen.add(action)
        items.append(
            MemoryInput(
                text=f"{action} → needed before {target} (earned points)", kind=MemoryKind.FACT,
                namespace=namespace, importance=0.7, context=_short(episode.steps[index].observation, 30),
                source_ids=source, episode_id=episode.episode_id,
                meta={"action": action, "reward": 0.0, "enabled": target, "task_type": episode.task_type},
            )  # fmt: skip
        )
    return items


_TEXT_SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


def write_reflection(chat: BaseChatModel, episode: Episode, *, gold: Sequence[str] | None = None) -> str:
    """A Reflexion note on a failed episode, or (with ``gold``) a STaR rationale of the gold path.

    Raises:
        agent.errors.ModelOutputError: the model gave no usable reply (the caller counts it).
    """
    start = _short(episode.first_observation, 60)
    templates = load_prompts("reflection")
    if gold is None:
        actions = " -> ".join(s.action for s in episode.steps) or "(none)"
        last = _short(episode.steps[-1].observation if episode.steps else "", 40)
        prompt = templates["reflexion"].format(task=episode.task, start=start, actions=actions, last=last)
    else:
        prompt = templates["rationale"].format(task=episode.task, start=start, actions=" -> ".join(gold))
    reply = complete_json(chat, [HumanMessage(prompt)], _TEXT_SCHEMA, retries=1, name="reflection")
    episode.counters.llm_calls += reply.attempts
    episode.counters.input_tokens += reply.input_tokens
    episode.counters.output_tokens += reply.output_tokens
    return str(reply.data["text"]).strip()


def retrieve_context(
    bank: MemoryBank,
    *,
    task: str,
    observation: str,
    namespace: str,
    kinds: Sequence[MemoryKind],
    record: bool,
    same_task_reflections: Sequence[str] = (),
    budget: int = 700,
) -> MemoryContext:
    """Memories for one episode, restricted to ``kinds`` (an ablation), grouped for the prompt.

    ``record=False`` leaves recall statistics untouched (held-out evaluation must not change memory).
    """
    query = f"{task}\n{observation}"
    examples: list[str] = []
    facts: list[str] = []
    rules: list[str] = []
    reflections: list[str] = list(same_task_reflections)
    rewarded: set[str] = set()
    penalised: set[str] = set()
    ids: list[str] = []
    plan = {MemoryKind.EXPERIENCE: 6, MemoryKind.FACT: 10, MemoryKind.INSIGHT: 5, MemoryKind.REFLECTION: 3}
    for kind in kinds:
        if kind not in plan:
            continue
        hits = bank.retrieve(query, k=plan[kind], kinds=[kind], namespace=namespace, token_budget=budget, record=record)
        for hit in hits:
            meta = hit.record.meta
            if kind is MemoryKind.EXPERIENCE:
                if not meta.get("success") and not meta.get("corrected"):
                    continue
                line = f"{_short(hit.record.text.split(chr(10))[0], 25)} ⇒ {meta.get('actions', '')}"
                if line in examples or len(examples) >= 2:
                    continue
                examples.append(line)
            elif kind is MemoryKind.FACT:
                facts.append(hit.record.text)
                reward = meta.get("reward")
                if meta.get("enabled"):
                    rewarded.add(str(meta.get("action", "")))  # it prepared a rewarded action
                elif isinstance(reward, (int, float)) and reward != 0:
                    (rewarded if reward > 0 else penalised).add(str(meta.get("action", "")))
            elif kind is MemoryKind.INSIGHT:
                rules.append(hit.record.text)
            else:
                reflections.append(hit.record.text)
            ids.append(hit.id)
    return MemoryContext(
        facts=tuple(facts), rules=tuple(rules), examples=tuple(examples), reflections=tuple(reflections),
        rewarded_actions=frozenset(rewarded), penalised_actions=frozenset(penalised - rewarded),
        memory_ids=tuple(dict.fromkeys(ids)),
    )  # fmt: skip
