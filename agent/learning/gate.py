"""The stability-plasticity gate: a rule reflection wrote is trusted only after a paired trial.

For each rule due (:meth:`memory.trials.Trials.due`: new or changed candidates, then active rules least recently
tried) the gate plays a few training tasks twice with the model at temperature 0: the same seeds, once with the
rule in the prompt and once without it, everything else as memory gives it. The bank compares the arms seed by
seed and admits, refuses, keeps or demotes the rule (:mod:`memory.trials`), which is also the rule's credit.

An arm that does not depend on the rule (a candidate's "without" arm: candidates are never retrieved) is played
once per pass and shared. The cost is bounded by ``rules`` x ``seeds`` x 2 episodes a pass and reported: model
calls and seconds, in total and per admitted rule. The gate knows no environment: ``play`` runs an episode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from agent.core.context import MemoryContext
from agent.core.trajectory import Episode
from memory import MemoryBank
from memory.base import MemoryRecord, MemoryStatus
from memory.trials import ADMITTED, Outcome

log = logging.getLogger(__name__)

Edit = Callable[[MemoryContext], MemoryContext]
"""What one arm changes in every context an episode retrieves."""
Play = Callable[[int, Edit], Episode]
"""Play the task at a seed with the model at temperature 0, each retrieved context passed through the edit."""


def showing(rule: MemoryRecord) -> Edit:
    """The arm with ``rule`` among the context's rules (added when retrieval did not bring it)."""

    def edit(context: MemoryContext) -> MemoryContext:
        if rule.text in context.rules:
            return context
        return replace(context, rules=(*context.rules, rule.text), memory_ids=(*context.memory_ids, rule.id))

    return edit


def hiding(rule: MemoryRecord) -> Edit:
    """The arm without ``rule`` (removed when retrieval brought it)."""

    def edit(context: MemoryContext) -> MemoryContext:
        return replace(context, rules=tuple(r for r in context.rules if r != rule.text),
                       memory_ids=tuple(m for m in context.memory_ids if m != rule.id))  # fmt: skip

    return edit


def unchanged(context: MemoryContext) -> MemoryContext:
    """The arm as memory gives it."""
    return context


@dataclass
class GateReport:
    """What one pass of the gate did and what it cost."""

    trials: list[dict[str, Any]] = field(default_factory=list)
    """One line per rule tried: id, decision, verdict, seeds, each arm's (success, score, steps)."""
    episodes: int = 0
    """Episodes played (shared arms counted once)."""
    model_calls: int = 0
    seconds: float = 0.0

    @property
    def admitted(self) -> int:
        """Rules admitted in this pass."""
        return sum(1 for t in self.trials if t["decision"] == ADMITTED)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the cost per admitted rule (None when none was admitted)."""
        per = self.admitted or None
        return {"trials": self.trials, "episodes": self.episodes, "model_calls": self.model_calls,
                "seconds": round(self.seconds, 1), "admitted": self.admitted,
                "model_calls_per_admitted": None if per is None else round(self.model_calls / per, 1),
                "seconds_per_admitted": None if per is None else round(self.seconds / per, 1)}  # fmt: skip


class Gate:
    """One pass of paired trials over the rules due in a namespace."""

    def __init__(self, bank: MemoryBank, namespace: str, play: Play, *, seeds: int = 2, rules: int = 3) -> None:
        self.bank = bank
        self.namespace = namespace
        self.play = play
        self.seeds = seeds
        """Tasks per trial."""
        self.rules = rules
        """Most rules tried in one pass."""

    def run(self, seeds_for: Callable[[MemoryRecord], Sequence[int]]) -> GateReport:
        """Try the rules due, each on the first ``seeds`` of ``seeds_for(rule)`` (training tasks, most telling
        first); a rule with no task to try it on waits."""
        report = GateReport()
        shared: dict[int, Episode] = {}
        for due in self.bank.trials.due(self.namespace, self.rules):
            rule = self.bank.get(due.id)  # an admitted revision earlier in the pass may have superseded it
            seeds = list(dict.fromkeys(seeds_for(rule)))[: self.seeds]
            if not seeds or rule.status not in (MemoryStatus.CANDIDATE, MemoryStatus.ACTIVE):
                continue
            played: list[Episode] = []

            def arm(seed: int, edit: Edit, share: bool, played: list[Episode] = played) -> Episode:
                if share and seed in shared:
                    return shared[seed]
                episode = self.play(seed, edit)
                played.append(episode)
                if share:
                    shared[seed] = episode
                return episode

            candidate = rule.status is MemoryStatus.CANDIDATE
            with_rule = [arm(s, showing(rule), False) for s in seeds]
            without_rule = [arm(s, unchanged if candidate else hiding(rule), candidate) for s in seeds]
            calls = sum(e.counters.llm_calls for e in played)
            seconds = sum(e.seconds for e in played)
            trial = self.bank.trials.record(rule.id, seeds, [outcome(e) for e in with_rule],
                                            [outcome(e) for e in without_rule], model_calls=calls, seconds=seconds,
                                            actor="gate")  # fmt: skip
            report.episodes += len(played)
            report.model_calls += calls
            report.seconds += seconds
            report.trials.append({"id": rule.id, "text": rule.text[:160], "was": rule.status.value,
                                  "decision": trial.decision, "verdict": trial.verdict, "seeds": seeds,
                                  "with_rule": [_brief(e) for e in with_rule],
                                  "without_rule": [_brief(e) for e in without_rule]})  # fmt: skip
            log.info("gate: %s %s (%s on seeds %s; %d episodes, %.0f s)", rule.id, trial.decision, trial.verdict,
                     seeds, len(played), seconds)  # fmt: skip
        return report


def outcome(episode: Episode) -> Outcome:
    """What a trial compares of an episode."""
    return Outcome(bool(episode.success), min(1.0, max(0.0, float(episode.score))), episode.n_steps)


def _brief(episode: Episode) -> list[Any]:
    return [episode.success, round(episode.score, 3), episode.n_steps]
