"""Reflection prompts: a Reflexion note after a failed trial, a STaR rationale of a gold path, and the log of what
periodic reflects wrote and refused."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import HumanMessage

from agent.core.prompting import load_prompts
from agent.core.trajectory import Episode
from agent.errors import ModelOutputError
from agent.jsonl import json_lines
from agent.llm.structured import complete_json
from agent.text import first_words

log = logging.getLogger(__name__)


TEXT_SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}

TEXT_BOUNDED = {"type": "object", "properties": {"text": {"type": "string", "maxLength": 600}}, "required": ["text"]}
"""Sent for constrained decoding, so that the JSON closes within the model's ``max_tokens``. Replies are validated
against the unbounded :data:`TEXT_SCHEMA` (a longer one from an unconstrained backend is kept)."""

def write_reflection(chat: BaseChatModel, episode: Episode, *, gold: Sequence[str] | None = None) -> str:
    """A Reflexion note on a failed episode, or (with ``gold``) a STaR rationale of the gold path.

    Raises:
        agent.errors.ModelOutputError: the model gave no usable reply (the caller counts it).
    """
    start = first_words(episode.first_observation, 60)
    templates = load_prompts("reflection")
    if gold is None:
        actions = " -> ".join(s.action for s in episode.steps) or "(none)"
        last = first_words(episode.steps[-1].observation if episode.steps else "", 40)
        prompt = templates["reflexion"].format(task=episode.task, start=start, actions=actions, last=last)
    else:
        prompt = templates["rationale"].format(task=episode.task, start=start, actions=" -> ".join(gold))
    reply = complete_json(chat, [HumanMessage(prompt)], TEXT_SCHEMA, retries=1, name="reflection",
                          constrain=TEXT_BOUNDED)  # fmt: skip
    episode.counters.llm_calls += reply.attempts
    episode.counters.input_tokens += reply.input_tokens
    episode.counters.output_tokens += reply.output_tokens
    text = str(reply.data["text"]).strip()
    if echo_share(text, prompt) > ECHO_LIMIT:
        raise ModelOutputError(f"the note mostly repeats its prompt: {text[:120]!r}", raw=text)
    return text


ECHO_RUN = 6
"""Words in a row shared with the prompt that count as copied."""
ECHO_LIMIT = 0.5
"""A note more than this share of whose words are copied from its prompt (the instruction, the observation) says
nothing of its own and is refused."""


def echo_share(text: str, prompt: str) -> float:
    """The share of ``text``'s words that lie in runs of :data:`ECHO_RUN` or more words found in ``prompt`` too."""
    words = re.findall(r"[a-z0-9']+", text.lower())
    source = " " + " ".join(re.findall(r"[a-z0-9']+", prompt.lower())) + " "
    copied = [False] * len(words)
    for start in range(len(words) - ECHO_RUN + 1):
        if f" {' '.join(words[start : start + ECHO_RUN])} " in source:
            copied[start : start + ECHO_RUN] = [True] * ECHO_RUN
    return sum(copied) / len(words) if words else 1.0


REFLECT_LOG = "reflect.jsonl"
"""Beside the run's episodes: one line per periodic reflect, with what it wrote and what it refused and why."""

def reflect_summary(run_dir: Path) -> dict[str, Any]:
    """What the periodic reflects of a run did, from its :data:`REFLECT_LOG`: counts, and every refusal."""
    path = run_dir / REFLECT_LOG
    lines = [data for _, data in json_lines(path)] if path.is_file() else []
    counted = ("insights_added", "insights_edited", "insights_removed", "reflections", "facts", "summaries")
    summary: dict[str, Any] = {"runs": len(lines), **{k: sum(len(r.get(k, [])) for r in lines) for k in counted}}
    summary.update(upvotes=sum(r.get("upvotes", 0) for r in lines), downvotes=sum(r.get("downvotes", 0) for r in lines),
                   failures=sum(r.get("failures", 0) for r in lines),
                   rejected=[reason for r in lines for reason in r.get("rejected", [])])  # fmt: skip
    passes = [r["gate"] for r in lines if r.get("gate")]
    trials = [t for g in passes for t in g["trials"]]
    if passes:
        summary["gate"] = {"passes": len(passes), **{d: sum(t["decision"] == d for t in trials)
                                                     for d in ("admitted", "refused", "kept", "demoted")},
                           **{k: sum(g[k] for g in passes) for k in ("episodes", "model_calls")},
                           "seconds": round(sum(g["seconds"] for g in passes), 1)}  # fmt: skip
    return summary
