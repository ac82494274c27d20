"""The evolution loop, with the survey's four phases as methods and in the logs.

* **acquisition** — pick the next training tasks according to the evolution goal (the weakest task
  type at the last evaluation, unsolved tasks first) and attempt them, with up to ``trials`` Reflexion
  retries per task and optionally ``samples`` episodes per trial;
* **refinement** — filter (keep what the reward says is right; of several solved samples, those whose
  solution agrees with the majority) and
  correct (a Reflexion note after each failed trial; a STaR rationale of the gold path when every
  trial of a training task failed, replayed in the environment so its facts are grounded);
* **update** — insert experiences and facts, credit the memories each episode used (utility), run
  ``reflect`` every few episodes (ExpeL insight votes with evidence) and ``forget``;
* **evaluation** — success and score on held-out tasks; the weakest task type becomes the next goal.

Every finished episode is appended to ``episodes.jsonl`` in the run directory before the next one
starts, and memory writes are idempotent, so a crash or Ctrl-C loses at most the episode in progress.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agent.core.actor import Actor
from agent.core.context import MemoryContext
from agent.core.episode import Recall, replay_actions, run_episode
from agent.core.runlog import RunLog
from agent.core.trajectory import Episode
from agent.errors import ModelOutputError
from agent.learning.config import EvolutionConfig
from agent.learning.experience import experience_inputs, namespace_for, trial_gains, trial_losses
from agent.learning.gate import Edit, Gate, GateReport
from agent.learning.grounding import check_rule
from agent.learning.recall import ABLATIONS, DECIDERS, UNGATED, retrieve_context
from agent.learning.reflection import REFLECT_LOG, write_reflection
from agent.llm.structured import json_llm
from envs.base import Env
from memory import MemoryBank, MemoryInput, MemoryKind
from memory.reflect import reflect

log = logging.getLogger(__name__)


def self_consistent(episodes: Sequence[Episode]) -> list[Episode]:
    """The filter: episodes the reward says are right (solved or scored); when several were solved, only
    the solved ones whose solution (answer, or essential actions) is the most common among them.

    Ties go to the solution found in the fewest steps.
    """
    rewarded = [e for e in episodes if e.success or e.score > 0]
    solved = [e for e in rewarded if e.success]
    if len(solved) < 2:
        return rewarded
    solutions = [e.solution() for e in solved]
    votes = Counter(solutions)
    shortest: dict[tuple[str, ...], int] = {}
    for key, e in zip(solutions, solved, strict=True):
        shortest[key] = min(shortest.get(key, e.n_steps), e.n_steps)
    winner = max(votes, key=lambda key: (votes[key], -shortest[key]))
    agree = {id(e) for key, e in zip(solutions, solved, strict=True) if key == winner}
    return [e for e in rewarded if not e.success or id(e) in agree]


def reflect_batch(tokens: Sequence[int], budget: int) -> int:
    """Experiences per reflect prompt: as many of the typical (mean) size as ``budget`` tokens hold, at least one."""
    mean = sum(tokens) / len(tokens) if tokens else budget
    return max(1, int(budget // max(mean, 1.0)))


def _recall(retrieve: Callable[..., MemoryContext], kinds: Sequence[MemoryKind]) -> Recall | None:
    """A retrieval bound to one task, as :func:`run_episode` calls it mid-episode (None with no memory)."""
    return (lambda observation, seen: retrieve(observation=observation, seen=seen)) if kinds else None


@dataclass
class Progress:
    """What the loop reports to a progress bar after each episode."""

    phase: str
    done: int
    total: int
    last: Episode | None = None


def weakest_task_type(episodes: Iterable[Episode]) -> str | None:
    """The task type with the lowest success rate (the next evolution goal); None without data."""
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for e in episodes:
        stats[e.task_type][0] += int(e.success)
        stats[e.task_type][1] += 1
    if not stats:
        return None
    return min(stats, key=lambda t: (stats[t][0] / stats[t][1], t))


class Evolver:
    """Runs the four phases for one environment with one memory bank."""

    def __init__(
        self,
        env: Env,
        actor: Actor,
        bank: MemoryBank,
        config: EvolutionConfig,
        run_log: RunLog,
        *,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.env = env
        self.actor = actor
        self.bank = bank
        self.config = config
        self.log = run_log
        self.namespace = namespace_for(env.env_id)
        self.on_progress = on_progress or (lambda p: None)
        self.goal: str | None = None
        self.reflect_failures = 0

    def recall_plugins(self) -> dict[str, Any]:
        """The keyword arguments of :func:`retrieve_context` the actor's family plug-in decides: the plug-in itself
        and which of its recall options are on (the TextWorld how-to and kept facts)."""
        return {"family": self.actor.family, "switches": {"howtos": self.config.howtos, "kept": self.config.kept}}

    # -- acquisition -----------------------------------------------------------------------------------
    def acquisition_order(self, seeds: Sequence[int]) -> list[int]:
        """Training seeds still to do; when a goal is set, tasks of that type first."""
        done = {e.seed for e in self.log.episodes if e.tag == "train"}
        todo = [s for s in seeds if s not in done]
        if self.goal is None:
            return todo
        return sorted(todo, key=lambda s: 0 if self._task_type(s) == self.goal else 1)

    def _task_type(self, seed: int) -> str:
        types = getattr(self.env, "task_type_of", None)
        return str(types(seed)) if callable(types) else ""

    def attempt(self, seed: int) -> list[Episode]:
        """Acquire experience on one task: up to ``trials`` attempts (each of ``samples`` episodes) with
        Reflexion notes in between; returns every episode played."""
        c = self.config
        kinds = ABLATIONS[c.train_kinds]
        notes: list[str] = []
        lost: dict[str, str] = {}  # actions earlier trials lost with, and the line saying so
        gained: dict[str, str] = {}  # and those they earned points with
        played: list[Episode] = []
        obs = self.env.reset(seed=seed)
        for trial in range(1, c.trials + 1):
            # Reflexion, grounded: what earlier trials earned and lost with comes first, valued as memory would be
            # (a loss hidden from the list), then the model's own notes, which alone did not stop it repeating a
            # fatal action
            gains = {a: line for a, line in gained.items() if a not in lost}
            seen = [*gains.values(), *lost.values()]
            reflections = ([f"Earlier attempts: {'; '.join(seen)}"] if seen else []) + notes
            retrieve = functools.partial(retrieve_context, self.bank, task=obs.task, namespace=self.namespace,
                                         kinds=kinds, record=True, same_task_reflections=tuple(reflections),
                                         budget=c.memory_budget, avoid=tuple(lost), earned=tuple(gains),
                                         **self.recall_plugins())  # fmt: skip
            context = retrieve(observation=obs.text)
            samples = []
            for sample in range(c.samples):
                sample_seed = seed * 1009 + trial * 31 + sample
                actor = self.actor if sample == 0 else self.actor.sampled(c.sample_temperature, sample_seed)
                episode = run_episode(self.env, actor, seed=seed, context=context, max_steps=c.max_steps, trial=trial,
                                      recall=_recall(retrieve, kinds), recalls=c.recalls)  # fmt: skip
                episode.sample = sample
                log.info("acquisition: seed %d trial %d sample %d -> success=%s score=%.2f steps=%d (%.1fs)", seed,
                         trial, sample, episode.success, episode.score, episode.n_steps, episode.seconds)  # fmt: skip
                samples.append(episode)
            played.extend(samples)
            best = max(samples, key=lambda e: (e.success, e.score, -e.n_steps))
            if best.success:
                break
            if trial < c.trials:
                for episode in samples:
                    lost.update(trial_losses(episode))
                    gained.update(trial_gains(episode))
                note = self._reflexion(best)
                if note:
                    notes.append(note)
        return played

    def _reflexion(self, episode: Episode) -> str:
        note = self._ask(episode, episode)
        episode.reflection = note
        return note

    def _ask(self, about: Episode, charge: Episode, gold: Sequence[str] | None = None) -> str:
        """A reflection (or, with ``gold``, a rationale); model mistakes and errors are counted on ``charge``."""
        try:
            return write_reflection(self.actor.chat, about, gold=gold)
        except ModelOutputError as exc:
            charge.counters.parse_failures += 1
            log.warning("refinement: no usable reflection for seed %d: %s", about.seed, exc)
        except Exception as exc:  # a model timeout or server error must not end the run: count it
            charge.counters.model_errors += 1
            log.warning("refinement: model call failed for seed %d: %s", about.seed, exc)
        return ""

    # -- refinement ------------------------------------------------------------------------------------
    def refine(self, trials: list[Episode]) -> tuple[list[Episode], Episode | None, list[str]]:
        """Filter the trials by reward and correct failures.

        Returns the episodes worth learning from, a corrected episode replayed from the gold path (when
        every trial failed and the split has one), and the reflection notes written.
        """
        kept = self_consistent(trials)
        notes = [e.reflection for e in trials if e.reflection]
        corrected = None
        if not any(e.success for e in trials) and self.config.rationalize and self.env.split == "train":
            corrected = self._replay_gold(trials[-1])
            if corrected is not None:
                rationale = self._ask(corrected, trials[-1], gold=corrected.informative_actions())
                if rationale:
                    notes.append("Why the correct solution works: " + rationale)
        log.info("refinement: kept %d of %d episodes, corrected=%s, notes=%d", len(kept), len(trials),
                 corrected is not None, len(notes))  # fmt: skip
        return kept, corrected, notes

    def _replay_gold(self, failed: Episode) -> Episode | None:
        replay = replay_actions(self.env, failed.seed, episode_id=f"gold-{failed.env_id}-{failed.seed}")
        if not replay.steps:
            return None
        if not replay.success:  # e.g. a gold path longer than the step limit: no correction to learn from
            log.warning("refinement: the gold path of seed %d did not solve it (%d actions played, score %.2f); "
                        "no corrected trajectory", failed.seed, replay.n_steps, replay.score)  # fmt: skip
        return replay if replay.success else None

    # -- update ----------------------------------------------------------------------------------------
    def update(self, trials: list[Episode], corrected: Episode | None, notes: list[str],
               kept: Sequence[Episode] | None = None) -> list[str]:  # fmt: skip
        """Write experiences, facts and reflections; credit the memories each trial used.

        ``kept`` (from :meth:`refine`): the solved episodes whose trajectories are stored; a solved sample
        the filter dropped leaves only its facts (what the environment accepted is true either way).
        Failures are always written: their penalised actions are facts too. None: every episode.
        """
        items: list[MemoryInput] = []
        for episode in trials:
            inputs = experience_inputs(episode, self.namespace, family=self.actor.family)
            if kept is not None and episode.success and not any(episode is k for k in kept):
                inputs = [i for i in inputs if i.kind is not MemoryKind.EXPERIENCE]
            items.extend(inputs)
        if corrected is not None:
            items.extend(experience_inputs(corrected, self.namespace, corrected=True, family=self.actor.family))
        source = trials[-1]
        for note in notes:
            items.append(MemoryInput(text=note, kind=MemoryKind.REFLECTION, namespace=self.namespace,
                                     importance=0.6, source_ids=(source.episode_id,), episode_id=source.episode_id,
                                     meta={"seed": source.seed, "task_type": source.task_type},
                                     origin="reflection"))  # fmt: skip
        ids = self.bank.insert_many(items, actor="evolve", reason="update after a training task") if items else []
        for episode in trials:
            self.credit(episode)
        log.info("update: wrote %d memories, credited %d episodes", len(ids), len(trials))
        return ids

    def credit(self, episode: Episode) -> None:
        """Utility from evidence that a memory made a difference: each step's memories get 1 when the step earned
        points or made a later step possible, else 0 (rules get theirs from the gate's trials); with
        ``credit_shown``, every memory shown is credited with the episode's score instead."""
        if self.config.credit_shown:
            if episode.memory_ids:
                self.bank.feedback(episode.memory_ids, outcome=episode.score, episode_id=episode.episode_id,
                                   actor="evolve", reason="utility: score of an episode that used it")  # fmt: skip
            return
        for step in episode.steps:
            if step.used:
                self.bank.feedback(step.used, outcome=float(step.reward > 0 or bool(step.unlocked)),
                                   episode_id=episode.episode_id, actor="evolve",
                                   reason=f"utility: what the step {step.action!r} that used it earned")  # fmt: skip

    def maintain(self, tasks_done: int) -> None:
        """Periodic reflect (ExpeL insights) and forget."""
        c = self.config
        if c.reflect_every and tasks_done % c.reflect_every == 0:
            report = reflect(self.bank, json_llm(self.actor.chat), namespace=self.namespace, steps=c.reflect_steps,
                             batch_size=reflect_batch(self.bank.view.unreflected_tokens(self.namespace),
                                                      c.reflect_tokens) if c.reflect_all else 8,
                             max_batches=None if c.reflect_all else 1,
                             check=check_rule if c.check_rules else None, gate=c.gate)  # fmt: skip
            self.reflect_failures += report.failures
            log.info("update: reflect -> %s", report)
            gate = self.run_gate().as_dict() if c.gate else None
            line = {"tasks_done": tasks_done, "at": time.time(), **asdict(report), "gate": gate}
            with (self.log.path.parent / REFLECT_LOG).open("a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")
        if c.forget_every and tasks_done % c.forget_every == 0:
            log.info("update: forget -> %s", self.bank.forget())

    def run_gate(self) -> GateReport:
        """A pass of paired trials over the rules due (:mod:`agent.learning.gate`) on this run's training tasks:
        a rule's own evidence first, then the latest tasks; memory retrieved as in training, nothing recorded."""
        c = self.config
        kinds = ABLATIONS[c.train_kinds]

        def play(seed: int, edit: Edit) -> Episode:
            return self.play_read_only(self.env, self.actor.sampled(0.0, seed), seed, kinds, edit=edit)

        train = [e for e in self.log.episodes if e.tag == "train"]
        seed_of = {e.episode_id: e.seed for e in train}
        latest = [e.seed for e in reversed(train)]
        gate = Gate(self.bank, self.namespace, play, seeds=c.gate_seeds, rules=c.gate_rules)
        return gate.run(lambda rule: [*(seed_of[s] for s in rule.source_ids if s in seed_of), *latest])

    def play_read_only(self, env: Env, actor: Actor, seed: int, kinds: Sequence[MemoryKind], *,
                       candidates: bool = False, edit: Edit | None = None) -> Episode:  # fmt: skip
        """One episode at ``seed`` that reads memory of ``kinds`` and changes none (held-out play, gate trials);
        ``candidates``: rules not yet admitted are retrieved too; ``edit``: applied to every context retrieved."""
        obs = env.reset(seed=seed)
        found = functools.partial(retrieve_context, self.bank, task=obs.task, namespace=self.namespace, kinds=kinds,
                                  record=False, budget=self.config.memory_budget, candidates=candidates,
                                  **self.recall_plugins())  # fmt: skip

        def retrieve(**where: Any) -> MemoryContext:
            return found(**where) if edit is None else edit(found(**where))

        started = time.perf_counter()
        context = retrieve(observation=obs.text)
        return run_episode(env, actor, seed=seed, context=context, max_steps=self.config.max_steps,
                           recall=_recall(retrieve, kinds), recalls=self.config.recalls,
                           memory_seconds=time.perf_counter() - started)  # fmt: skip

    # -- the loop ----------------------------------------------------------------------------------------
    def train(self, seeds: Sequence[int]) -> list[Episode]:
        """Acquisition → refinement → update for each training task not yet done (resumable)."""
        todo = self.acquisition_order(seeds)
        done_before = len(seeds) - len(todo)
        new: list[Episode] = []
        for index, seed in enumerate(todo, start=done_before + 1):
            trials = self.attempt(seed)
            kept, corrected, notes = self.refine(trials)
            self.update(trials, corrected, notes, kept)
            for episode in trials:
                self.log.append(episode, tag="train")
            new.extend(trials)
            self.maintain(index)
            self.on_progress(Progress("train", index, len(seeds), trials[-1]))
        return new

    def evaluate(
        self, seeds: Sequence[int], env: Env, ablation: str, tag: str, *, offset: int = 0, total: int | None = None
    ) -> list[Episode]:
        """Held-out episodes with the memory kinds ``ablation`` allows; memory is not changed.

        ``offset`` and ``total`` place ``seeds`` in a longer list for the progress bar (evaluation in blocks).
        """
        kinds = ABLATIONS[ablation]
        episodes = [e for e in self.log.episodes if e.tag == tag and e.seed in set(seeds)]
        done = {e.seed for e in episodes}
        for index, seed in enumerate(seeds, start=offset + 1):
            if seed in done:
                continue
            decider = DECIDERS.get(ablation)
            actor = (self.actor.without_rules() if decider == "model" else self.actor.without_model(seed)
                     if decider == "rules" else self.actor)  # fmt: skip
            episode = self.play_read_only(env, actor, seed, kinds, candidates=ablation in UNGATED)
            self.log.append(episode, tag=tag)
            episodes.append(episode)
            self.on_progress(Progress(f"eval {tag}", index, total or len(seeds), episode))
        self.goal = weakest_task_type(episodes) or self.goal
        log.info("evaluation (%s): %d episodes; next goal: %s", tag, len(episodes), self.goal)
        return episodes
