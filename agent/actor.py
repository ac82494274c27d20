"""The actor: one ReAct step (a thought, then an action) from task, memories, recent steps and actions.

The prompt's stable part (instructions, retrieved memories, task, first observation) comes first
so that llama.cpp reuses its KV cache across the steps of an episode; the changing part (a short
window of recent steps, the current observation, the valid actions) comes last. The action is
constrained to the valid actions by a JSON-schema ``enum`` where the backend supports it; otherwise
the reply is mapped to the nearest valid action and the mismatch is counted.
"""

from __future__ import annotations

import copy
import difflib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.analogy import analogous
from agent.analogy import grounds as analogy_grounds
from agent.errors import ModelOutputError
from agent.howto import action_object, fits
from agent.likeness import guess, take_back
from agent.llm.structured import complete_json
from agent.prompting import MemoryContext, load_prompts, memory_block, pack
from agent.trajectory import NON_INFORMATIVE, StepRecord
from envs.shortlist import PLACING, TAKING, after_verb, verb_of

log = logging.getLogger(__name__)


class ActorConfig(BaseModel):
    """How the actor builds its prompt."""

    history_window: int = Field(default=6, ge=0)
    """How many recent steps the prompt shows."""
    memory_budget: int = Field(default=700, ge=0)
    """Token budget of the memory block."""
    history_budget: int = Field(default=600, ge=50)
    """Token budget of the recent-steps block."""
    observation_budget: int = Field(default=350, ge=50)
    """Token budget of each observation text."""
    max_actions_shown: int = Field(default=40, ge=2)
    """Large action spaces are shortlisted to this many for the prompt (every valid action stays accepted)."""
    retries: int = Field(default=1, ge=0)
    """Times an unusable reply is sent back before falling back."""
    thought_chars: int = Field(default=200, ge=20)
    """Longest thought, in characters (the reply schema's ``maxLength``)."""
    hide_spent: bool = True
    """Leave out of the list (and the enum) actions already taken in this episode that earned nothing,
    while other actions remain: a small model otherwise keeps re-choosing "look around" or re-opening
    what is open (measured: ~45% repeats). Actions that earned reward stay available."""
    hide_penalised: bool = True
    """Leave out actions that memory says lost points in similar tasks, while other actions remain: tagged
    and listed last, the 1.5B model still chose them (measured: 3 of 7 wrong placements in one game)."""
    hide_idle_verbs: bool = True
    """Leave out the untried actions of a verb whose last uses in this episode all had no effect (no reward,
    nothing new shown, no valid actions not seen before; see ``ActorState.idle_verbs``), while other actions
    remain, except what memory says earned points. Cookingworld offers "examine" for every object; the
    1.5B model spent 17–20 of 30 steps examining ("a knife", "a fridge that is closed") whatever order the
    list was in."""
    mix_verbs: bool = True
    """List untried actions taking turns by verb ("examine A", "open B", "take C", "examine D", ...) within
    each memory rank, so that one verb offered for every object does not fill the top of the list
    (cookingworld offers "examine" for each of ~20 objects: the 1.5B model spent 11 and 17 of 30 steps
    examining in its first two training episodes)."""
    follow_memory: bool = True
    """Take an untried action memory says earned points in similar tasks (tagged "worked in similar tasks") as
    soon as it is offered, without asking the model (``Decision.source == "memory"``): at the top of its list
    and tagged, "eat meal" was left untaken by the 1.5B model for 20 steps after "prepare meal" (in a cookingworld
    probe 4 of 10 episodes without memory also ended with the meal prepared and not eaten). The model
    explores; memory exploits what it knows."""
    keep_earned: bool = True
    """Leave out actions that would undo what a step of this episode earned (:func:`undoing_actions`), or let go
    of what earlier wins held to the end (``MemoryContext.kept_objects``), unless memory says they earned
    points: after "prepare meal" (points) the 1.5B model put the meal in the dishwasher instead of eating it;
    it took the knife and put it down again, and slicing was no longer offered."""
    place_by_analogy: bool = True
    """With ``follow_memory``: when no action memory knows is offered, put an object memory never placed where an
    alike object earned points (:mod:`agent.analogy`: "dirty white blazer" where "dirty brown blazer" went),
    without asking the model (``Decision.source == "analogy"``). Such actions are also tagged in the list."""
    place_by_likeness: bool = True
    """With ``follow_memory``: when neither a known nor an alike placing is offered, put an object being held
    where memory put the objects most like it, best first, opening a closed place first (:mod:`agent.likeness`:
    the white tuna where the chicken leg went), without asking the model (``Decision.source == "likeness"``)."""
    pin_found: bool = True
    """Keep the steps that brought new things into view (a recipe, a fridge's contents) in the prompt after
    they leave the window of recent steps (``ActorState.found``)."""


@dataclass
class Decision:
    """What the actor chose."""

    action: str
    thought: str = ""
    source: str = "model"
    """``model``, ``matched`` (nearest valid action), ``fallback`` (reply unusable), ``memory`` (what earned
    points in similar tasks, taken without the model: ``ActorConfig.follow_memory``) or ``analogy`` (a placing
    like one that earned points: ``ActorConfig.place_by_analogy``) or ``likeness`` (a placing, or opening its
    place, where memory put the most alike objects: ``ActorConfig.place_by_likeness``)."""
    error: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    grounds: tuple[str, ...] = ()
    """For a step memory took: the earned actions it stands on (their facts share the episode's credit)."""


@dataclass
class ActorState:
    """Everything the actor sees at one step."""

    task: str
    first_observation: str
    observation: str
    valid_actions: Sequence[str]
    """Actions accepted now; empty for free-answer tasks."""
    history: list[StepRecord] = field(default_factory=list)
    context: MemoryContext = field(default_factory=MemoryContext)
    shown_actions: Sequence[str] | None = None
    """A shortlist of ``valid_actions`` for the prompt (None: show them all)."""
    found: Sequence[int] = ()
    """Indexes in ``history`` of steps that brought new things into view (a recipe, a fridge's contents):
    shown under their own header once they leave the recent-steps window."""
    idle_verbs: frozenset[str] = frozenset()
    """Verbs (:func:`envs.shortlist.verb_of`) whose last uses in this episode all had no effect."""


def nearest_action(text: str, valid: Sequence[str]) -> str | None:
    """The valid action closest to ``text`` (exact, case-insensitive, containment, then fuzzy)."""
    if not valid:
        return None
    norm = " ".join(text.lower().split())
    lowered = {a.lower(): a for a in valid}
    if norm in lowered:
        return lowered[norm]
    contained = [a for a in valid if a.lower() in norm or norm in a.lower()]
    if contained:
        return max(contained, key=len)
    close = difflib.get_close_matches(norm, list(lowered), n=1, cutoff=0.0)
    return lowered[close[0]] if close else valid[0]


def spent_actions(history: Sequence[StepRecord]) -> set[str]:
    """Actions taken that earned nothing and are still pointless. One whose object a later action changed
    ("open trash can", then "close trash can") may be worth taking again, once: taken twice without earning,
    it is spent whatever happened since (measured on twc: every lost held-out episode cycled "open X" /
    "close X", 4.5 of its 20 steps on average). One that ever earned points stays."""
    last = {step.action: i for i, step in enumerate(history)}
    taken = Counter(step.action for step in history)
    earned = {step.action for step in history if step.reward > 0}
    spent: set[str] = set()
    for action, i in last.items():
        obj = after_verb(action)
        if action in earned or (taken[action] < 2 and obj and any(
                s.action != action and after_verb(s.action) == obj for s in history[i + 1 :])):  # fmt: skip
            continue
        spent.add(action)
    return spent


def undoing_actions(history: Sequence[StepRecord], actions: Sequence[str], *, takes_are_kept: bool = False) -> set[str]:
    """The ``actions`` that would undo what a step of ``history`` earned: letting go of an object a step earned
    points making or processing ("prepare meal" → "put meal in dishwasher", "cook carrot in oven" → "drop
    carrot"), or taking back one a step earned points placing ("put apple in fridge" → "take apple from
    fridge"). Taking is such a step only with ``takes_are_kept`` (``MemoryContext.takes_are_kept``): twc pays
    for taking the shirt and then for putting it in the wardrobe; cookingworld never pays for putting the
    parsley anywhere, and the 1.5B model put it in the trash can."""
    held: set[str] = set()
    placed: set[str] = set()
    for step in history:
        verb = verb_of(step.action)
        if step.reward > 0 and not step.invalid and (verb not in TAKING or takes_are_kept):
            (placed if verb in PLACING else held).add(action_object(step.action))
    return {a for a in actions if (verb_of(a) in PLACING and action_object(a) in held)
            or (verb_of(a) in TAKING and action_object(a) in placed)}  # fmt: skip


def pick_untried(options: Sequence[str], history: Sequence[StepRecord], rewarded: frozenset[str]) -> str | None:
    """An action not taken yet: one that earned reward in similar tasks first, then an informative one."""
    tried = {s.action for s in history}
    fresh = [a for a in options if a not in tried]
    preferred = [a for a in fresh if a in rewarded]
    informative = [a for a in fresh if a.lower() not in NON_INFORMATIVE]
    candidates = preferred or informative or fresh
    return candidates[0] if candidates else None


class Actor:
    """Chooses actions with a chat model (local llama.cpp, an OpenAI-compatible endpoint, or a test double)."""

    def __init__(self, chat: BaseChatModel, config: ActorConfig | None = None) -> None:
        self.chat = chat
        self.config = config or ActorConfig()
        self.prompts = load_prompts("actor")
        self.sampling: dict[str, Any] = {}
        """Call options of a sampling actor (see :meth:`sampled`); empty: the model's own settings."""

    def sampled(self, temperature: float, seed: int) -> Actor:
        """This actor choosing at ``temperature`` with ``seed``: one of several samples of a task."""
        other = copy.copy(self)
        other.sampling = {"temperature": temperature, "seed": seed}
        return other

    def messages(self, state: ActorState) -> list[BaseMessage]:
        """The prompt for ``state``: a stable system message, then the changing user message."""
        p, c = self.prompts, self.config
        free_answer = not state.valid_actions
        stable = [p["system_answer"] if free_answer else p["system"]]
        block = memory_block(state.context, c.memory_budget)
        if block:
            stable.append(block)
        stable.append(p["task"].format(task=state.task))
        stable.append(p["start"].format(observation=pack([state.first_observation], c.observation_budget)[0]))
        changing: list[str] = []
        if free_answer:
            changing.append(p["answer"])
            return [SystemMessage("\n\n".join(stable)), HumanMessage("\n".join(changing))]
        def line(step: StepRecord) -> str:
            observation = pack([step.observation], 80)[0] if step.observation else ""
            return str(p["history_step"].format(action=step.action, observation=observation))

        recent = state.history[-c.history_window :] if c.history_window else []
        older = [state.history[i] for i in state.found if i < len(state.history) - len(recent)] if c.pin_found else []
        if older:  # what the episode found out must not fall out of the prompt with the window
            changing.append(p["found_header"] + "\n" + "\n".join(pack([line(s) for s in older[-3:]],
                                                                      c.history_budget // 2)))  # fmt: skip
        if recent:
            kept = pack(reversed([line(s) for s in recent]), c.history_budget)[::-1]
            changing.append(p["history_header"] + "\n" + "\n".join(kept))
        changing.append(p["now"].format(observation=pack([state.observation], c.observation_budget)[0]))
        changing.append(p["actions_header"] + "\n" + self._action_list(state))
        changing.append(p["choose"])
        return [SystemMessage("\n\n".join(stable)), HumanMessage("\n\n".join(changing))]

    def options(self, state: ActorState) -> list[str]:
        """The actions offered to the model: the shortlist, without penalised, spent, undoing and idle-verb ones
        (see ``hide_penalised``, ``hide_spent``, ``keep_earned`` and ``hide_idle_verbs``)."""
        shown = list(state.shown_actions or state.valid_actions)[: self.config.max_actions_shown]
        if self.config.hide_penalised:  # and what waits for instructions (agent.howto)
            context = state.context
            shown = [a for a in shown if a not in context.penalised_actions and (
                a in context.rewarded_actions or not fits(a, context.waiting_templates))] or shown  # fmt: skip
        hidden = spent_actions(state.history) if self.config.hide_spent else set()
        if self.config.keep_earned:
            kept = state.context.kept_objects  # what earlier wins held to the end (the knife slicing needs)
            letting_go = {a for a in shown if verb_of(a) in PLACING and action_object(a) in kept}
            undoing = undoing_actions(state.history, shown, takes_are_kept=state.context.takes_are_kept)
            hidden |= (undoing | letting_go) - state.context.rewarded_actions
        if self.config.hide_idle_verbs and state.idle_verbs:
            hidden |= {a for a in shown if verb_of(a) in state.idle_verbs and a not in state.context.rewarded_actions}
        fresh = [a for a in shown if a not in hidden]
        return fresh or shown

    def _action_list(self, state: ActorState) -> str:
        shown = self.options(state)
        outcome: dict[str, float] = {}
        for step in state.history:
            outcome[step.action] = min(outcome.get(step.action, step.reward), step.reward)
        rewarded, penalised = state.context.rewarded_actions, state.context.penalised_actions
        alike = set(self._alike(state, shown)) - penalised
        untried = [a for a in shown if a not in outcome]
        # memory ranks the list: what earned reward in similar tasks first, what lost points last
        turn: dict[str, int] = {}
        if self.config.mix_verbs:
            per_verb: Counter[str] = Counter()
            for action in untried:
                verb = verb_of(action)
                turn[action] = per_verb[verb]
                per_verb[verb] += 1
        untried.sort(key=lambda a: (0 if a in rewarded or a in alike else 2 if a in penalised else 1, turn.get(a, 0)))
        done = [a for a in shown if a in outcome]
        lines = []
        for action in untried + done:
            tags = []
            if action in rewarded:
                tags.append("worked in similar tasks")
            elif action in alike:
                tags.append("a like object went there in similar tasks")
            elif action in penalised:
                tags.append("failed in similar tasks")
            if action in outcome:
                reward = outcome[action]
                tags.append("tried: lost points" if reward < 0 else "tried: earned points" if reward > 0
                            else "tried: no effect")  # fmt: skip
            lines.append(f"- {action}" + (f" ({', '.join(tags)})" if tags else ""))
        return "\n".join(lines)

    def schema(self, state: ActorState, *, constrained: bool = True) -> dict[str, Any]:
        """The JSON schema of the reply: an ``enum`` of the actions shown, or a free answer.

        ``constrained=False`` gives the loose schema replies are validated against, so that an
        unconstrained backend's near-miss is mapped to the nearest valid action, not retried.
        """
        key = "action" if state.valid_actions else "answer"
        value: dict[str, Any] = {"type": "string"}
        if state.valid_actions and constrained:
            value["enum"] = self.options(state)
        # A bounded thought keeps a small model from rambling past max_tokens and truncating the JSON.
        thought: dict[str, Any] = {"type": "string", "maxLength": self.config.thought_chars}
        return {
            "type": "object",
            "properties": {"thought": thought, key: value},
            "required": ["thought", key],
        }

    def act(self, state: ActorState) -> Decision:
        """Choose the next action (or answer). Model mistakes come back as a ``fallback`` decision."""
        known = self.from_memory(state)
        if known is not None:
            return known
        messages = self.messages(state)
        key = "action" if state.valid_actions else "answer"
        try:
            reply = complete_json(
                self.chat, messages, self.schema(state, constrained=False), retries=self.config.retries,
                name="step", constrain=self.schema(state), options=self.sampling,
            )  # fmt: skip
        except ModelOutputError as exc:
            return self._fallback(state, f"unparseable reply: {exc.raw[:200]!r}", key)
        value = str(reply.data.get(key, ""))
        decision = Decision(
            action=value, thought=str(reply.data.get("thought", "")), input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens, calls=reply.attempts,
        )  # fmt: skip
        if state.valid_actions and value not in state.valid_actions:
            matched = nearest_action(value, state.valid_actions)
            decision.error = f"model chose {value!r}, not a valid action"
            decision.action = matched or value
            decision.source = "matched"
        return decision

    def from_memory(self, state: ActorState) -> Decision | None:
        """The first offered untried action memory says earned points in similar tasks (``follow_memory``), else
        the first placing of an object like one memory placed there (``place_by_analogy``), else a step towards
        placing a held object where memory put the most alike ones (``place_by_likeness``); None: ask the model."""
        if not self.config.follow_memory:
            return None
        tried = {step.action for step in state.history}
        options = self.options(state)
        untried = [a for a in options if a not in tried]
        known = next((a for a in untried if a in state.context.rewarded_actions), None)
        if known is not None:
            return Decision(action=known, thought="Memory: this earned points in similar tasks.", source="memory",
                            grounds=(known,))  # fmt: skip
        alike = next(iter(self._alike(state, untried)), None)
        if alike is not None:
            return Decision(action=alike, thought="Memory: a like object earned points there.", source="analogy",
                            grounds=tuple(analogy_grounds(alike, state.context.rewarded_actions)))  # fmt: skip
        likeness = state.context.likeness
        if not (self.config.place_by_likeness and likeness):
            return None
        last = state.history[-1] if state.history else None
        if last is not None and last.source == "likeness" and last.reward < 0:  # a wrong guess: take it back
            back = take_back(last.action, options)
            if back is not None:
                return Decision(action=back, thought="Memory: not there; take it again.", source="likeness")
        guessed = guess(likeness, untried)
        if guessed is not None:
            return Decision(action=guessed, thought="Memory: the most alike objects went there.", source="likeness",
                            grounds=tuple(likeness.grounds(guessed)))  # fmt: skip
        return None

    def _alike(self, state: ActorState, shown: Sequence[str]) -> list[str]:
        """The actions of ``shown`` :func:`agent.analogy.analogous` to what memory says earned points."""
        rewarded = state.context.rewarded_actions
        return analogous(shown, rewarded) if self.config.place_by_analogy and rewarded else []

    def _fallback(self, state: ActorState, error: str, key: str) -> Decision:
        log.warning("actor fallback: %s", error)
        if key == "answer":
            return Decision(action="", source="fallback", error=error, calls=self.config.retries + 1)
        options = self.options(state)
        action = pick_untried(options, state.history, state.context.rewarded_actions) or options[0]
        return Decision(action=action, source="fallback", error=error, calls=self.config.retries + 1)
