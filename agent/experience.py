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
things into view (see :func:`agent.episode.run_episode`); it is restricted to the kinds an ablation may use.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent import howto
from agent.errors import UsageError
from agent.likeness import Likeness
from agent.llm.structured import complete_json
from agent.prompting import MemoryContext, load_prompts
from agent.trajectory import Episode, content_words
from envs.shortlist import PLACING, verb_of
from memory import MemoryBank, MemoryInput, MemoryKind, MemoryRecord
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


def _informative_reply(action: str, observation: str, words: int = 15) -> str:
    """The environment's reply to ``action`` when it says more than the action itself ("You grill the
    chicken wing with the toaster." tells which appliance grills; "You take the milk." tells nothing)."""
    return _short(observation.strip(), words) if content_words(observation) - content_words(action) else ""


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


def experience_inputs(episode: Episode, namespace: str, *, corrected: bool = False, kept: bool = True
                      ) -> list[MemoryInput]:  # fmt: skip
    """The memories one episode yields: its cleaned trajectory, its rewarded/penalised actions, the steps that
    enabled rewarded ones and (``kept``) the objects a solved episode took and held until it was won."""
    # a solved episode is remembered without its detours (the rewarded steps and what enabled them)
    actions = episode.essential_actions() if episode.success and not corrected else episode.informative_actions()
    outcome = "solved" if episode.success else f"failed (score {episode.score:.2f})"
    label = "Corrected solution (gold path)" if corrected else ("Solution" if episode.success else "Attempt")
    source = (episode.episode_id or f"{episode.env_id}:{episode.seed}",)
    meta: dict[str, Any] = {
        "success": episode.success, "score": round(episode.score, 4), "seed": episode.seed,
        "task_type": episode.task_type, "corrected": corrected, "actions": " -> ".join(actions)[:2000],
        # every valid action it took, detours included: what a rule citing it may say was done (agent.grounding)
        "taken": " -> ".join(dict.fromkeys(s.action for s in episode.steps if not s.invalid))[:2000],
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
    shown = "\n".join([episode.first_observation, *(s.observation for s in episode.steps if not s.invalid)])
    for index, step in enumerate(episode.steps):
        fatal = ended_the_game(episode, index)
        if step.invalid or (step.reward == 0 and not fatal) or step.action in seen:
            continue
        seen.add(step.action)
        earned = step.reward > 0 and not fatal
        verdict = "ended the game (lost)" if fatal else "earned points (accepted)" if earned else "lost points (wrong)"
        reply = _informative_reply(step.action, step.observation)
        how_meta: dict[str, Any] = {}
        if how := howto.how_done(step.action, step.observation):  # how the reply names what it did: a how-to
            asked = howto.action_object(step.action) in howto.instructed_objects(how, shown)
            how_meta = {"how": how, "template": howto.template_of(step.action), "reply": _short(step.observation, 15),
                        "processing": fatal or asked, "instructed": asked}  # fmt: skip
        items.append(
            MemoryInput(
                text=f"{step.action} → {verdict}" + (f': "{reply}"' if reply else ""), kind=MemoryKind.FACT,
                namespace=namespace, importance=0.8 if earned else 0.6, context=_short(step.observation, 30),
                source_ids=source, episode_id=episode.episode_id,
                meta={"action": step.action, "reward": step.reward, "task_type": episode.task_type,
                      **({"fatal": True} if fatal else {}), **how_meta},
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
    for index, obj in sorted(episode.kept_steps().items()) if kept else ():
        action = episode.steps[index].action
        if action in seen:
            continue
        seen.add(action)
        items.append(
            MemoryInput(
                text=f"{action} → kept until the game was won", kind=MemoryKind.FACT, namespace=namespace,
                importance=0.6, context=_short(episode.steps[index].observation, 30), source_ids=source,
                episode_id=episode.episode_id,
                meta={"action": action, "reward": 0.0, "kept": obj, "task_type": episode.task_type},
            )  # fmt: skip
        )
    return items


_TEXT_SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
_TEXT_BOUNDED = {"type": "object", "properties": {"text": {"type": "string", "maxLength": 600}}, "required": ["text"]}
"""Sent for constrained decoding, so that the JSON closes within the model's ``max_tokens`` (256): unbounded,
the 1.5B model's cookingworld reflections ran on and came back unterminated twice in a row. Replies are
validated against the unbounded schema (a longer one from an unconstrained backend is kept)."""


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
    reply = complete_json(chat, [HumanMessage(prompt)], _TEXT_SCHEMA, retries=1, name="reflection",
                          constrain=_TEXT_BOUNDED)  # fmt: skip
    episode.counters.llm_calls += reply.attempts
    episode.counters.input_tokens += reply.input_tokens
    episode.counters.output_tokens += reply.output_tokens
    return str(reply.data["text"]).strip()


FACT_QUOTAS = {"earned here": 8, "lost here": 6, "earned elsewhere": 3}
"""Facts shown per episode, by group: about an object in view ("here") that earned points or enabled an
action that did, about one in view that lost points, and (only when there is none of those) earned
points with other objects. Without quotas the losses crowd out the one fact that matters (measured: 7
"put used tissue in … → lost points" retrieved, "put used tissue in trash can → earned points" not),
and facts about other objects ("open bathroom cabinet → needed before put brush in …") lead the small
model astray."""


def _mentioned(action: str, text: str) -> bool:
    """True when the action's object (the words after its verb, before " in "/" on ") occurs in ``text``."""
    obj = howto.action_object(action)
    return bool(obj) and obj in text.lower()


def _on_topic(action: str, enabled: str, observation: str) -> bool:
    """A fact is about this game when its action's object is in view, or, for an enabling step ("open
    fridge → needed before put milk in fridge"), the object of the action it enabled (the milk)."""
    return _mentioned(enabled, observation) if enabled else _mentioned(action, observation)


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
    seen: str | None = None,
    avoid: Iterable[str] = (),
    howtos: bool = True,
    kept: bool = True,
) -> MemoryContext:
    """Memories for one episode, restricted to ``kinds`` (an ablation), grouped for the prompt.

    Facts: the best-scored candidates fill the quotas of :data:`FACT_QUOTAS` (what earned and what lost
    points with an object in view; else a few earned elsewhere); only facts about objects in view tag
    actions as rewarded or penalised. Reflections retrieved from other tasks are kept apart from this
    task's own notes.
    ``record=False`` leaves recall statistics untouched (held-out evaluation must not change memory).
    ``observation`` is what the query is about; ``seen`` (default: ``observation``) is everything the episode
    has shown so far, against which a fact is judged on topic (a retrieval again mid-episode, after the
    fridge was opened, still knows what was in view at the start).
    ``avoid``: actions an earlier trial at this very task lost with; penalised whatever memory says.
    ``howtos``: with facts, apply the how-to facts (:mod:`agent.howto`) to the instruction lines of ``seen``:
    what they ask is tagged rewarded and the other known ways of processing those objects penalised, over
    what facts about the objects say.
    ``kept``: with facts, the objects earlier wins took and held to the end (the knife that slicing needs) become
    ``MemoryContext.kept_objects`` and their takes rewarded (:meth:`Episode.kept_steps`; the fact is shown when
    the object is in view), and ``MemoryContext.takes_are_kept`` says whether no placing ever earned points.
    """
    query = f"{task}\n{observation}"
    in_view = observation if seen is None else seen
    examples: list[str] = []
    rules: list[str] = []
    notes: list[str] = []
    rewarded: set[str] = set()
    penalised: set[str] = set()
    ids: list[str] = []
    plan = {MemoryKind.EXPERIENCE: 6, MemoryKind.FACT: 40, MemoryKind.INSIGHT: 5, MemoryKind.REFLECTION: 3}
    good: list[tuple[str, str, str, bool]] = []
    bad: list[tuple[str, str, str, bool]] = []
    for kind in kinds:
        if kind not in plan:
            continue
        hits = bank.retrieve(query, k=plan[kind], kinds=[kind], namespace=namespace,
                             token_budget=None if kind is MemoryKind.FACT else budget, record=False)  # fmt: skip
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
                reward = _reward(hit.record)
                action, enabled = str(meta.get("action", "")), str(meta.get("enabled") or "")
                row = (hit.id, hit.record.text, action, _on_topic(action, enabled, in_view))
                if meta.get("fatal") or reward < 0:
                    bad.append(row)
                elif enabled or reward > 0:
                    good.append(row)
                continue
            elif kind is MemoryKind.INSIGHT:
                rules.append(hit.record.text)
            else:  # notes of other tasks are the weakest memories: short, so they cannot crowd out facts
                notes.append(_short(hit.record.text, 50))
            ids.append(hit.id)
    facts: list[str] = []
    applied = howto.Applied()
    standing = bank.memories(kinds=[MemoryKind.FACT], namespace=namespace) if MemoryKind.FACT in kinds else []
    if howtos and standing:  # what this game's instructions ask, done the way earlier replies said
        known = _howtos(standing)
        applied = howto.apply(known, in_view)
        facts.extend(applied.lines)
        ids.extend(applied.memory_ids)
        # instructions decide how an object is processed: a fact about processing this ingredient under another
        # recipe ("cook red hot pepper in stove → earned points", it fried it) is neither shown nor tagged (shown
        # before the recipe was read, the 1.5B model cooked the pepper that way and lost a grill recipe)
        processing = howto.processing_actions(known, {row[2] for row in good + bad})
        good, bad = [r for r in good if r[2] not in processing], [r for r in bad if r[2] not in processing]
    held: dict[str, str] = {}  # an object earlier wins held to the end → its take
    for mid, action, obj in _kept(standing) if kept else ():
        if obj in held:
            continue
        # kept wherever it turns up (the knife may be in a cupboard opened after the last retrieval); only one
        # in view is shown
        held[obj] = action
        if re.search(rf"\b{re.escape(obj)}\b", in_view.lower()):
            facts.append(f"{action} → kept until the game was won")
            ids.append(mid)
    groups = (([f for f in good if f[3]], FACT_QUOTAS["earned here"], rewarded),
              ([f for f in bad if f[3]], FACT_QUOTAS["lost here"], penalised),
              # facts about other objects only when memory knows nothing about these (analogies help then)
              ([f for f in good if not f[3]] if not any(f[3] for f in good + bad) else [],
               FACT_QUOTAS["earned elsewhere"], None))  # fmt: skip
    for group, quota, tagged in groups:  # each in the bank's order
        for mid, text, action, _ in group[:quota]:
            facts.append(text)
            ids.append(mid)
            if tagged is not None:  # only facts about this game tag and rank the action list
                tagged.add(action)
    if record and ids:
        bank.mark_recalled(ids)
    # an action memory saw both earn and lose is tagged neither, unless this game's instructions decide; one it
    # only saw earn is tagged whenever offered, on topic at this retrieval or not (the meal exists once prepared,
    # after the last retrieval: training prepared it and never ate it)
    earned = earned_anywhere(standing)
    rewarded |= earned
    good_now = (rewarded - penalised - applied.unasked) | applied.asked | (set(held.values()) - penalised)
    bad_now = (penalised - rewarded - applied.asked) | applied.unasked
    return MemoryContext(
        facts=tuple(facts), rules=tuple(rules), examples=tuple(examples), reflections=tuple(same_task_reflections),
        similar_notes=tuple(notes), rewarded_actions=frozenset(good_now - set(avoid)),
        penalised_actions=frozenset(bad_now | set(avoid)), memory_ids=tuple(dict.fromkeys(ids)),
        waiting_templates=applied.instructed_templates, kept_objects=frozenset(held),
        takes_are_kept=kept and _placing_never_paid(standing),
        likeness=Likeness(earned - set(avoid), bank.embed) if earned else None,
        earned_ids=_ids_by_action(standing, earned | set(held.values())),
    )  # fmt: skip


def _reward(record: MemoryRecord) -> float:
    """The reward a fact records (0 when it records none)."""
    reward = record.meta.get("reward")
    return float(reward) if isinstance(reward, (int, float)) else 0.0


def earned_anywhere(records: Sequence[MemoryRecord]) -> set[str]:
    """The actions of ``records`` that earned points and never lost any, other than ways of processing an
    ingredient (which its recipe decides: "cook pork chop in oven" roasts, fatal where the recipe fries)."""
    earned = {str(r.meta.get("action", "")) for r in records if _reward(r) > 0 and not r.meta.get("processing")}
    lost = {str(r.meta.get("action", "")) for r in records if _reward(r) < 0 or r.meta.get("fatal")}
    return earned - lost - {""}


def _ids_by_action(records: Sequence[MemoryRecord], actions: set[str]) -> dict[str, tuple[str, ...]]:
    """Each of ``actions`` → the ids of the facts among ``records`` that say it earned points."""
    out: dict[str, list[str]] = {}
    for r in records:
        action = str(r.meta.get("action", ""))
        if action in actions and (_reward(r) > 0 or r.meta.get("kept")):
            out.setdefault(action, []).append(r.id)
    return {action: tuple(ids) for action, ids in out.items()}


def _placing_never_paid(records: Sequence[MemoryRecord]) -> bool:
    """True when ``records`` hold facts of actions that earned points and none of them placed something."""
    earned = [str(r.meta.get("action", "")) for r in records if _reward(r) > 0]
    return bool(earned) and not any(verb_of(action) in PLACING for action in earned)


def _kept(records: Iterable[MemoryRecord]) -> list[tuple[str, str, str]]:
    """(id, take action, object) of the kept facts among ``records`` (:meth:`Episode.kept_steps`)."""
    return [(r.id, str(r.meta.get("action", "")), str(r.meta["kept"])) for r in records if r.meta.get("kept")]


def _howtos(records: Iterable[MemoryRecord]) -> list[howto.HowTo]:
    """The how-to facts among ``records``, one per way of doing something (the newest reply kept)."""
    first: dict[tuple[str, str], tuple[str, str]] = {}
    processing: set[str] = set()
    instructed: set[str] = set()
    for record in records:
        how, template = str(record.meta.get("how") or ""), str(record.meta.get("template") or "")
        if how and "{}" in template:
            first.setdefault((how, template), (record.id, str(record.meta.get("reply", ""))))
            if record.meta.get("processing"):
                processing.add(how)
            if record.meta.get("instructed"):
                instructed.add(how)
    return [howto.HowTo(mid, how, template, reply, how in processing, how in instructed)
            for (how, template), (mid, reply) in first.items()]
