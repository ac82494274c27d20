"""The actor: one ReAct step (a thought, then an action) from task, memories, recent steps and actions.

The prompt's stable part (instructions, retrieved memories, task, first observation) comes first so that
llama.cpp reuses its KV cache across the steps of an episode; the changing part (a short window of recent steps,
the current observation, the valid actions) comes last. The action is constrained to the valid actions by a
JSON-schema ``enum`` where the backend supports it; otherwise the reply is mapped to the nearest valid action and
the mismatch is counted. Memory policies given to the actor may decide a step before the model is asked.
"""

from __future__ import annotations

import copy
import difflib
import logging
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent.core.family import GENERAL, Family
from agent.core.options import pick_untried
from agent.core.policy import ActionPolicy
from agent.core.prompting import load_prompts, memory_block, pack
from agent.core.state import ActorConfig, ActorState, Decision
from agent.core.trajectory import StepRecord
from agent.errors import ModelOutputError
from agent.llm.structured import complete_json
from envs.shortlist import verb_of

log = logging.getLogger(__name__)


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


class Actor:
    """Chooses actions with a chat model (local llama.cpp, an OpenAI-compatible endpoint, or a test double), unless
    one of its memory policies decides the step first."""

    def __init__(self, chat: BaseChatModel, config: ActorConfig | None = None,
                 policies: Sequence[ActionPolicy] = (), family: Family = GENERAL) -> None:  # fmt: skip
        self.chat = chat
        self.config = config or ActorConfig()
        self.policies = tuple(policies)
        """Memory policies asked, in order, before the model (:mod:`agent.policies`); none: the model decides."""
        self.family = family
        """The family plug-in's hooks (:mod:`agent.core.family`); :data:`GENERAL`: none."""
        self.prompts = load_prompts("actor")
        self.rng: random.Random | None = None
        """Set by :meth:`without_model`: random choices replace the model."""
        self.sampling: dict[str, Any] = {}
        """Call options of a sampling actor (see :meth:`sampled`); empty: the model's own settings."""

    def fresh_context(self) -> None:
        """Let the model begin an episode as if freshly loaded (a model that reuses its prompt cache drops it), so
        the episode plays the same whatever the model read before: in a bench, after training, or in a replay."""
        reset = getattr(self.chat, "reset_context", None)
        if callable(reset):
            reset()

    def without_rules(self) -> Actor:
        """This actor with no memory policies: the model makes every decision (memories still in its prompt)."""
        other = copy.copy(self)
        other.policies = ()
        return other

    def without_model(self, seed: int) -> Actor:
        """This actor with its memory policies but no model: what they do not decide is a uniform random choice
        among the actions offered (seeded, so an episode replays)."""
        other = copy.copy(self)
        other.rng = random.Random(seed)
        return other

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
        changing.append(p["actions_header"] + "\n" + self.action_list(state))
        changing.append(p["choose"])
        return [SystemMessage("\n\n".join(stable)), HumanMessage("\n\n".join(changing))]

    def options(self, state: ActorState) -> list[str]:
        """The actions offered to the model: the shortlist, without penalised, spent, undoing and idle-verb ones
        (see ``hide_penalised``, ``hide_spent``, ``keep_earned`` and ``hide_idle_verbs``). When that leaves nothing,
        idle verbs come back first, then spent actions, and what would undo an earned step last."""
        shown = list(state.shown_actions or state.valid_actions)[: self.config.max_actions_shown]
        context = state.context
        if self.config.hide_penalised:  # and what the family plug-in holds back
            held = self.family.held_back(state, shown)
            shown = [a for a in shown if a not in context.penalised_actions and a not in held] or shown
        spent = self.family.spent(state) if self.config.hide_spent else set()
        undoing: set[str] = set()
        if self.config.keep_earned:  # except what memory values as good (in twc the right place undoes a take)
            good = {a for a, v in state.values.items() if v.score >= self.config.value_threshold}
            undoing = self.family.undoing(state, shown) - context.rewarded_actions - good
        idle: set[str] = set()
        if self.config.hide_idle_verbs and state.idle_verbs:
            idle = {a for a in shown if verb_of(a) in state.idle_verbs and a not in context.rewarded_actions}
        for hidden in (spent | undoing | idle, spent | undoing, undoing):
            fresh = [a for a in shown if a not in hidden]
            if fresh:
                return fresh
        return shown

    def action_list(self, state: ActorState) -> str:
        shown = self.options(state)
        outcome: dict[str, float] = {}
        for step in state.history:
            outcome[step.action] = min(outcome.get(step.action, step.reward), step.reward)
        rewarded, penalised = state.context.rewarded_actions, state.context.penalised_actions
        favoured: dict[str, str] = {}
        for policy in self.policies:
            favoured.update(policy.favoured(state, shown, self.config))
        favoured = {action: tag for action, tag in favoured.items() if action not in penalised}
        untried = [a for a in shown if a not in outcome]
        # memory ranks the list: what earned reward in similar tasks first, what lost points last
        turn: dict[str, int] = {}
        if self.config.mix_verbs:
            per_verb: Counter[str] = Counter()
            for action in untried:
                verb = verb_of(action)
                turn[action] = per_verb[verb]
                per_verb[verb] += 1
        first = rewarded | favoured.keys()
        untried.sort(key=lambda a: (0 if a in first else 2 if a in penalised else 1, turn.get(a, 0)))
        done = [a for a in shown if a in outcome]
        lines = []
        for action in untried + done:
            tags = []
            if action in rewarded:
                tags.append("worked in similar tasks")
            elif action in favoured:
                tags.append(favoured[action])
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
        if self.rng is not None:
            options = self.options(state)
            if not options:  # a free-answer task: there is nothing to pick from
                return Decision(action="", thought="No model.", source="random")
            return Decision(action=self.rng.choice(options), thought="No model: a random action.", source="random")
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
        """The first decision one of the actor's policies makes from memory (``follow_memory``); None: ask the model."""
        if not self.config.follow_memory:
            return None
        tried = {step.action for step in state.history}
        options = self.options(state)
        untried = [a for a in options if a not in tried]
        for policy in self.policies:
            decision = policy.choose(state, options, untried, self.config)
            if decision is not None:
                return decision
        return None

    def _fallback(self, state: ActorState, error: str, key: str) -> Decision:
        log.warning("actor fallback: %s", error)
        if key == "answer":
            return Decision(action="", source="fallback", error=error, calls=self.config.retries + 1)
        options = self.options(state)
        action = pick_untried(options, state.history, state.context.rewarded_actions) or options[0]
        return Decision(action=action, source="fallback", error=error, calls=self.config.retries + 1)
