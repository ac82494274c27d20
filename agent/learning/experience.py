"""The bridge between episodes and the memory bank: what gets written, and what gets retrieved.

A weak model's free-form rules are mostly noise; grounded memories are not. So an episode becomes:

* an ``experience``: the action sequence with its outcome, keyed by the task's first observation for
  retrieval; a solved episode keeps only its rewarded steps and what enabled them, a failed one its
  informative steps (no look/inventory, invalid or repeated actions);
* ``fact`` memories: each action the environment rewarded or penalised ("put X in Y → earned
  points"), the action that ended a game unsolved ("cook X in oven → ended the game (lost)"), each with
  the environment's reply when it says more than the action ("You roast the X with the oven."), and
  each unrewarded step that enabled a rewarded one ("open fridge → needed before put X in fridge"):
  concrete, checkable knowledge that transfers to unseen games with the same objects;
* ``reflection``: a Reflexion note written after a failed trial (and a STaR rationale of the gold
  path when every trial failed on a training task).

Retrieval is done at the start of an episode, and again (a few times at most) when a step brings new
things into view (see :func:`agent.core.episode.run_episode`); it is restricted to the kinds an ablation may use.
"""

from __future__ import annotations

import logging
from typing import Any

from agent.core.family import GENERAL, Family
from agent.core.trajectory import Episode
from agent.text import content_words, first_words
from memory import MemoryInput, MemoryKind

log = logging.getLogger(__name__)


def namespace_for(env_id: str) -> str:
    """The memory namespace of an environment: ``env:<env_id>``."""
    return f"env:{env_id}"

def _informative_reply(action: str, observation: str, words: int = 15) -> str:
    """The environment's reply to ``action`` when it says more than the action itself ("You grill the
    chicken wing with the toaster." tells which appliance grills; "You take the milk." tells nothing)."""
    return first_words(observation.strip(), words) if content_words(observation) - content_words(action) else ""

def ended_the_game(episode: Episode, index: int) -> bool:
    """True when step ``index`` is a valid last step that ended the game unsolved: it lost the game, whatever
    its reward ("cook chicken wing in oven" when the recipe said grill)."""
    step = episode.steps[index]
    return (index == len(episode.steps) - 1 and episode.stop_reason == "terminated" and not episode.success
            and not step.invalid)  # fmt: skip

def trial_losses(episode: Episode) -> dict[str, str]:
    """What a failed trial showed for certain: each action that lost points or ended the game, with a line
    saying so ("cook chicken wing in oven → ended the game (lost)"), for the next trial at the same task."""
    lost: dict[str, str] = {}
    for index, step in enumerate(episode.steps):
        if ended_the_game(episode, index):
            lost[step.action] = f"{step.action} → ended the game (lost)"
        elif step.reward < 0 and not step.invalid:
            lost.setdefault(step.action, f"{step.action} → lost points")
    return lost

def trial_gains(episode: Episode) -> dict[str, str]:
    """What a failed trial earned points with, each with a line saying so ("take chicken wing → earned points"): at
    the same task the same step earns again, so the next trial values it as memory would."""
    return {step.action: f"{step.action} → earned points" for index, step in enumerate(episode.steps)
            if step.reward > 0 and not step.invalid and not ended_the_game(episode, index)}  # fmt: skip

def experience_inputs(episode: Episode, namespace: str, *, corrected: bool = False, family: Family = GENERAL
                      ) -> list[MemoryInput]:  # fmt: skip
    """The memories one episode yields: its cleaned trajectory, its rewarded/penalised actions (with the reply
    when it says more than the action, in ``meta["reply"]`` too), the steps that enabled rewarded ones and what
    the ``family`` plug-in reads beside (the TextWorld one: how-to meta, and the objects a solved episode took and
    held until it was won)."""
    # a solved episode is remembered without its detours (the rewarded steps and what enabled them)
    actions = episode.essential_actions() if episode.success and not corrected else episode.informative_actions()
    outcome = "solved" if episode.success else f"failed (score {episode.score:.2f})"
    label = "Corrected solution (gold path)" if corrected else ("Solution" if episode.success else "Attempt")
    source = (episode.episode_id or f"{episode.env_id}:{episode.seed}",)
    meta: dict[str, Any] = {
        "success": episode.success, "score": round(episode.score, 4), "seed": episode.seed,
        "task_type": episode.task_type, "corrected": corrected, "actions": " -> ".join(actions)[:2000],
        # every valid action it took, detours included: what a rule citing it may say was done (learning.grounding)
        "taken": " -> ".join(dict.fromkeys(s.action for s in episode.steps if not s.invalid))[:2000],
    }  # fmt: skip
    items = []
    if actions:
        items.append(
            MemoryInput(
                text=f"Start: {first_words(episode.first_observation)}\n{label}: {' -> '.join(actions)} ({outcome})",
                kind=MemoryKind.EXPERIENCE, namespace=namespace, importance=0.7 if episode.success else 0.4,
                context=episode.task, source_ids=source, episode_id=episode.episode_id, meta=meta, origin="environment",
            )  # fmt: skip
        )
    seen: set[str] = set()
    shown = "\n".join([episode.first_observation, *(s.observation for s in episode.steps if not s.invalid)])
    answered = episode.stop_reason == "answered"  # a free answer ("42") is no action to take again: no facts
    for index, step in enumerate(episode.steps):
        fatal = ended_the_game(episode, index)
        if answered or step.invalid or (step.reward == 0 and not fatal) or step.action in seen:
            continue
        seen.add(step.action)
        earned = step.reward > 0 and not fatal
        verdict = "ended the game (lost)" if fatal else "earned points (accepted)" if earned else "lost points (wrong)"
        reply = _informative_reply(step.action, step.observation)
        how_meta: dict[str, Any] = family.step_meta(step, shown, fatal=fatal) or ({"reply": reply} if reply else {})
        items.append(
            MemoryInput(
                text=f"{step.action} → {verdict}" + (f': "{reply}"' if reply else ""), kind=MemoryKind.FACT,
                namespace=namespace, importance=0.8 if earned else 0.6, context=first_words(step.observation, 30),
                source_ids=source, episode_id=episode.episode_id, origin="environment",
                meta={"action": step.action, "reward": step.reward, "task_type": episode.task_type,
                      **({"fatal": True} if fatal else {}), **how_meta},
            )  # fmt: skip
        )
    # steps that earned nothing themselves: what enabled a rewarded action, what a won game held to the end, and
    # what undid a rewarded action in a lost one
    quiet = [(index, f"→ needed before {target} (earned points)", 0.7, {"enabled": target})
             for index, target in sorted(family.enabling_steps(episode).items())]
    quiet += [(index, "→ kept until the game was won", 0.6, {"kept": obj})
              for index, obj in sorted(family.kept_steps(episode).items())]
    quiet += [(index, f"→ undid {target}, which had earned points (nothing was earned after)", 0.6, {"undid": target})
              for index, target in sorted(family.undoing_steps(episode).items())]
    for index, says, importance, extra in quiet:
        action = episode.steps[index].action
        if action in seen:
            continue
        seen.add(action)
        items.append(
            MemoryInput(
                text=f"{action} {says}", kind=MemoryKind.FACT, namespace=namespace, importance=importance,
                context=first_words(episode.steps[index].observation, 30), source_ids=source,
                episode_id=episode.episode_id, origin="environment",
                meta={"action": action, "reward": 0.0, **extra, "task_type": episode.task_type},
            )  # fmt: skip
        )
    return items
