"""Run one episode: the actor against an environment, with loop control, counting every mistake.

Memory is retrieved once before the first step and again, up to ``recalls`` times, when a step brings
new things into view (the recipe in a cookbook, what an opened fridge holds): in partially observable
games what matters is often not in the first observation. A retrieval that changes nothing shown keeps
the prompt as it was (and the local model's KV cache with it). Such steps also stay in the prompt after
they leave the window of recent steps (``ActorState.found``).

Loop control, because a small model repeats itself: an action already taken that changed nothing is replaced
by an untried one (``loop_overrides``), and an episode whose recent steps cycle over one or two actions without
reward stops early (``stop_reason="loop"``). A verb whose last uses changed nothing (no reward, nothing new
shown, no new valid actions) is idle, and the actor stops offering its other actions. Model mistakes and
environment errors are recorded and counted and never end a run; a model that cannot run at all
(:class:`agent.errors.ComponentError`) does.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence

from agent.core.actor import Actor
from agent.core.context import MemoryContext, with_values
from agent.core.family import Family
from agent.core.options import pick_untried
from agent.core.state import ActorState, Decision
from agent.core.trajectory import Episode, StepRecord, mark_unlocked
from agent.core.undo import about_same, undone_by
from agent.errors import ComponentError
from agent.text import content_words
from envs.base import Env, StepResult
from envs.shortlist import verb_of

log = logging.getLogger(__name__)

LOOP_WINDOW = 8
"""Steps inspected for a cycle before stopping early."""
NEW_WORDS = 3
"""Words never seen in the episode (nor in the action) a step's reply must bring to retrieve again."""
IDLE_RUN = 3
"""Uses in a row without effect after which a verb is idle (``ActorState.idle_verbs``)."""

Recall = Callable[[str, str], MemoryContext]
"""Retrieval mid-episode: ``recall(observation, seen)`` with the new observation (the query) and
everything shown so far (what is in view)."""


def _shortlist(env: Env, valid: Sequence[str], limit: int) -> Sequence[str] | None:
    if len(valid) <= limit:
        return None
    shortlist = getattr(env, "shortlist", None)
    return tuple(shortlist(limit)) if callable(shortlist) else tuple(valid[:limit])


def _no_effect(history: list[StepRecord], action: str, observation: str) -> bool:
    """True when ``action`` was taken before from this same observation and earned nothing, and no step has undone it
    since (taking back what was let go of is no repeat)."""
    taken = max((i for i, s in enumerate(history) if s.action == action), default=-1)
    if any(action in s.undid for s in history[taken + 1 :]):
        return False
    previous_obs = None
    for step in history:
        if step.action == action and step.reward <= 0 and previous_obs == observation:
            return True
        previous_obs = step.observation
    return False


def _shown(context: MemoryContext, family: Family) -> tuple[object, ...]:
    return (context.facts, context.rules, context.examples, context.reflections, context.similar_notes,
            context.rewarded_actions, context.penalised_actions, *family.shown(context))  # fmt: skip


def idle_verbs(steps: Sequence[StepRecord], effects: Sequence[bool]) -> frozenset[str]:
    """Verbs whose last :data:`IDLE_RUN` uses all had no effect (``effects`` parallel to ``steps``)."""
    by_verb: dict[str, list[bool]] = {}
    for step, effect in zip(steps, effects, strict=True):
        by_verb.setdefault(verb_of(step.action), []).append(effect)
    return frozenset(v for v, uses in by_verb.items() if len(uses) >= IDLE_RUN and not any(uses[-IDLE_RUN:]))


def spent_in(state: frozenset[str], before: Sequence[frozenset[str]], steps: Sequence[StepRecord],
             after: Sequence[frozenset[str]], since: int = 0) -> frozenset[str]:  # fmt: skip
    """Actions taken in ``state`` (the valid actions at that step, ``before``) that earned nothing and led back to
    the same state (``after``), or were taken there twice without earning: spent in this state, not elsewhere
    ("move east" goes on being useful in other rooms).

    The valid actions do not show every change (a game may offer the same actions with a door shut and open), so
    only steps from ``since`` on count (the first step after the last one that earned points or showed something
    new), and an action stops being spent once a later step acted on what it acts on
    (:func:`agent.core.undo.about_same`: "move west" against a shut door, after "open door to west")."""
    taken: Counter[str] = Counter()
    spent: dict[str, int] = {}
    for index in range(since, min(len(before), len(steps), len(after))):
        was, step, now = before[index], steps[index], after[index]
        if was != state or step.reward > 0:
            continue
        taken[step.action] += 1
        if now == was or taken[step.action] >= 2:
            spent[step.action] = index
    return frozenset(action for action, index in spent.items()
                     if not any(s.action != action and about_same(s.action, action) for s in steps[index + 1 :]))


def cycling(history: list[StepRecord]) -> bool:
    """True when the last steps alternate over one or two actions without reward (the episode stops)."""
    recent = history[-LOOP_WINDOW:]
    return (
        len(recent) == LOOP_WINDOW
        and len({s.action for s in recent}) <= 2
        and all(s.reward <= 0 for s in recent)
    )


def replay_actions(env: Env, seed: int, actions: Sequence[str] | None = None, *, episode_id: str = "") -> Episode:
    """Play ``actions`` (default: the game's gold path) in ``env`` at ``seed`` as given, without a model, until
    the game ends: a STaR correction, or a script."""
    obs = env.reset(seed=seed)
    episode = Episode.begin(env, seed, obs, trial=0, episode_id=episode_id)
    gold = actions is None
    before: list[frozenset[str]] = []
    after: list[frozenset[str]] = []
    valid = frozenset(obs.valid_actions)
    for action in (env.gold_actions() or []) if gold else actions or []:
        result = env.step(action)
        before.append(valid)
        valid = frozenset(result.valid_actions)
        after.append(valid)
        undid = undone_by(action, result.reward, before[-1], valid, episode.steps)
        episode.steps.append(StepRecord(action=action, observation=result.observation, reward=result.reward,
                                        score=result.score, invalid=bool(result.info.get("invalid_action")),
                                        source="gold" if gold else "script", undid=undid))  # fmt: skip
        episode.score, episode.success = result.score, result.success
        if result.done:
            episode.stop_reason = "terminated" if result.terminated else "truncated"
            break
    mark_unlocked(episode.steps, before, after)
    return episode


def run_episode(
    env: Env,
    actor: Actor,
    *,
    seed: int,
    context: MemoryContext | None = None,
    max_steps: int | None = None,
    trial: int = 1,
    loop_control: bool = True,
    recall: Recall | None = None,
    recalls: int = 0,
    memory_seconds: float = 0.0,
) -> Episode:
    """Play one episode of ``env`` at ``seed`` and return its full record.

    ``recall``, when given, retrieves memory again (at most ``recalls`` times) after a valid step whose
    reply brings at least :data:`NEW_WORDS` new words; the episode's ``memory_ids`` gain what it shows.
    ``memory_seconds``: what retrieving ``context`` took the caller, counted in the episode's time and in
    ``Counters.memory_seconds`` with the valuation and the retrievals made here.
    """
    context = context or MemoryContext()
    start = time.perf_counter() - memory_seconds
    actor.fresh_context()
    obs = env.reset(seed=seed)
    episode = Episode.begin(env, seed, obs, trial=trial, memory_ids=context.memory_ids)
    limit = int(max_steps or getattr(env, "max_steps", None) or 30)
    observation, valid = obs.text, tuple(obs.valid_actions)
    counters = episode.counters
    limit_shown = actor.config.max_actions_shown
    seen, known = [obs.text], content_words(f"{obs.task} {obs.text}")
    found: list[int] = []  # steps that brought new things into view
    effects: list[bool] = []  # per step: earned or lost points, showed something new, or reached new actions
    changed_at = 0  # the step after the last one that earned or lost points or showed something new
    visited = {frozenset(valid)}  # the sets of valid actions seen: a state the episode was in before
    before: list[frozenset[str]] = []  # per step: the valid actions it was taken among, and those it led to
    after: list[frozenset[str]] = []
    while episode.n_steps < limit:
        shown = _shortlist(env, valid, limit_shown)
        valuing = time.perf_counter()
        values = context.valuer.values(shown or valid, "\n".join([obs.task, *seen])) if context.valuer and valid else {}
        counters.memory_seconds += time.perf_counter() - valuing
        view = with_values(context, values, actor.config.value_threshold) if values else context
        state = ActorState(
            task=obs.task, first_observation=obs.text, observation=observation, valid_actions=valid,
            history=episode.steps, context=view, shown_actions=shown, found=found, values=values,
            spent_here=spent_in(frozenset(valid), before, episode.steps, after, since=changed_at),
            idle_verbs=idle_verbs(episode.steps, effects),
        )  # fmt: skip
        try:
            decision = actor.act(state)
        except ComponentError:  # the model cannot run at all (a build that crashes on this CPU): no step can
            raise
        except Exception as exc:  # a model timeout or server error must not end the run: count, explore
            counters.model_errors += 1
            log.warning("model call failed at step %d: %s", episode.n_steps, exc)
            options = shown or valid
            fallback = pick_untried(options, episode.steps, view.rewarded_actions) or (valid[0] if valid else "")
            decision = Decision(action=fallback, source="fallback", error=f"{type(exc).__name__}: {exc}")
        counters.llm_calls += decision.calls
        counters.input_tokens += decision.input_tokens
        counters.output_tokens += decision.output_tokens
        if decision.source == "fallback":
            counters.parse_failures += 1
        elif decision.source == "matched":
            counters.action_mismatches += 1
        elif decision.source == "memory":
            counters.memory_actions += 1
        elif decision.source == "analogy":
            counters.analogy_actions += 1
        elif decision.source == "likeness":
            counters.likeness_actions += 1
        if loop_control and valid and _no_effect(episode.steps, decision.action, observation):
            replacement = pick_untried(shown or valid, episode.steps, view.rewarded_actions)
            if replacement is not None:
                decision.error = f"{decision.action!r} had no effect here before; explored instead"
                decision.action, decision.source, decision.grounds = replacement, "explore", ()
                counters.loop_overrides += 1
        used = tuple(dict.fromkeys(i for action in decision.grounds for i in view.earned_ids.get(action, ())))
        episode.memory_ids.extend(i for i in used if i not in episode.memory_ids)  # what a step memory took stands on
        try:
            result: StepResult = env.step(decision.action)
        except Exception as exc:  # an environment crash is recorded; the run goes on with the next episode
            counters.env_errors += 1
            log.error("environment error on %r: %s", decision.action, exc)
            episode.steps.append(StepRecord(decision.action, f"[environment error: {exc}]", decision.thought,
                                            source=decision.source, error=str(exc)))  # fmt: skip
            episode.stop_reason = "env_error"
            break
        invalid = bool(result.info.get("invalid_action"))
        counters.invalid_actions += int(invalid)
        undid = () if invalid else undone_by(decision.action, result.reward, valid, result.valid_actions,
                                              episode.steps)  # fmt: skip
        episode.steps.append(
            StepRecord(
                action=decision.action, observation=result.observation, thought=decision.thought,
                reward=result.reward, score=result.score, invalid=invalid, source=decision.source,
                error=decision.error, undid=undid, used=used,
            )  # fmt: skip
        )
        episode.score, episode.success = result.score, result.success
        # an invalid action says nothing about its verb: only valid ones that changed nothing count as idle.
        # Back in a state seen before ("close fridge" after "open fridge") is no change either
        reached = frozenset(result.valid_actions)
        before.append(frozenset(valid))
        after.append(reached)
        effects.append(invalid or result.reward != 0 or reached not in visited)
        if not invalid and result.reward != 0:
            changed_at = len(episode.steps)
        visited.add(reached)
        observation, valid = result.observation, tuple(result.valid_actions)
        if result.done:
            episode.stop_reason = "answered" if not obs.valid_actions else (
                "terminated" if result.terminated else "truncated"
            )
            break
        if not invalid:
            new = content_words(observation) - known - content_words(decision.action)
            known |= new
            seen.append(observation)
            if len(new) >= NEW_WORDS:
                effects[-1] = True
                changed_at = len(episode.steps)
                found.append(len(episode.steps) - 1)
                if recall is not None and counters.recalls < recalls:
                    counters.recalls += 1
                    recalling = time.perf_counter()
                    fresh = recall(observation, "\n".join(seen))
                    counters.memory_seconds += time.perf_counter() - recalling
                    if _shown(fresh, actor.family) != _shown(context, actor.family):
                        context = fresh
                        episode.memory_ids.extend(i for i in fresh.memory_ids if i not in episode.memory_ids)
        if loop_control and cycling(episode.steps):
            episode.stop_reason = "loop"
            break
    else:
        episode.stop_reason = "truncated"
    mark_unlocked(episode.steps, before, after)
    counters.memory_seconds = round(counters.memory_seconds + memory_seconds, 3)
    episode.seconds = round(time.perf_counter() - start, 3)
    return episode
