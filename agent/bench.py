"""The benchmark runner: one training pass, then every ablation (and a random agent) on the same tasks.

All ablations share the memory built by the training pass; each restricts at test time which
memory kinds it may retrieve, so a bench costs one training pass plus one test pass per ablation.
Two held-out settings, as CLIN reports adaptation and generalisation:

* ``in`` (in distribution): unseen games of the training fold — train on the first 30% of the fold's
  seeds, test on its second half (TextWorldExpress: train 0–299, test 500–999);
* ``out`` (out of distribution): the benchmark's test fold.

Everything is written under the output directory: ``episodes.jsonl`` (append-only, so a crashed or
interrupted bench resumes where it stopped; with ``workers > 1`` one ``episodes-wN.jsonl`` per worker),
``memory/``, ``results.json``, ``results.md`` and ``learning_curve.png``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import BaseModel, Field

import envs
from agent.actor import Actor, ActorConfig
from agent.errors import UsageError
from agent.evolve import EvolutionConfig, Evolver, Progress, RunLog, reflect_summary
from agent.experience import ABLATIONS, namespace_for
from agent.llm.config import LLMConfig
from agent.llm.factory import make_chat_model
from agent.report import Summary, learning_curve, markdown_table, summarise
from agent.trajectory import Episode, StepRecord
from agent.utility import credit, credit_table, paired_table, paired_with_none
from agent.workers import ChromaServer, Job, WorkerPool, check_workers, mirror_ledger_into_store, worker_specs
from envs.base import Env
from memory import MemoryBank, MemoryConfig

log = logging.getLogger(__name__)

Setting = Literal["in", "out"]
EVAL_BLOCK = 10
"""Held-out seeds are played in blocks of this many (every ablation on a block before the next)."""
SETTING_NAMES = {"in": "in distribution (unseen games of the training fold)", "out": "out of distribution (test fold)"}


class BenchConfig(BaseModel):
    """What a bench runs."""

    env_id: str
    preset: str | None = "easy"
    train: int = Field(default=30, ge=0)
    """Training tasks (each attempted up to ``evolution.trials`` times)."""
    test: int = Field(default=30, ge=1)
    """Held-out tasks per setting; every ablation runs on the same ones."""
    settings: tuple[Setting, ...] = ("in", "out")
    ablations: tuple[str, ...] = ("none", "reflexion", "trajectories", "insights", "full")
    random_baseline: bool = True
    evolution: EvolutionConfig = Field(default_factory=EvolutionConfig)
    actor: ActorConfig = Field(default_factory=ActorConfig)


def make_env(config: BenchConfig, split: str, seeds: Sequence[int] | None = None) -> Env:
    """The bench's environment for one split (its preset and step limit)."""
    params: dict[str, Any] = {}
    if config.preset is not None:
        params["preset"] = config.preset
    if seeds is not None:
        params["seeds"] = list(seeds)
    params["max_steps"] = config.evolution.max_steps
    return envs.make(config.env_id, split=split, **params)


def split_seeds(fold: Sequence[int], train: int, test: int) -> tuple[list[int], list[int]]:
    """Training seeds from the first 30% of a fold and in-distribution test seeds from its second half."""
    fold = list(fold)
    cut, half = max(1, int(len(fold) * 0.3)), len(fold) // 2
    if train > cut or test > len(fold) - half:
        raise UsageError(f"the training fold has {len(fold)} tasks: at most {cut} for --train and "
                         f"{len(fold) - half} for --test in distribution (got {train} and {test})")  # fmt: skip
    return fold[:train], fold[half : half + test]


def random_episode(env: Env, seed: int, rng: random.Random) -> Episode:
    """A random agent (uniform over the valid actions): a real baseline."""
    start = time.perf_counter()
    obs = env.reset(seed=seed)
    episode = Episode(env_id=env.env_id, split=str(obs.info.get("split", "")), seed=seed,
                      task_type=str(obs.info.get("task_type", "")), task=obs.task, first_observation=obs.text,
                      episode_id=uuid.uuid4().hex[:12])  # fmt: skip
    valid = tuple(obs.valid_actions)
    for _ in range(env.max_steps or 30):
        action = rng.choice(valid) if valid else ""
        result = env.step(action)
        episode.steps.append(StepRecord(action=action, observation=result.observation, reward=result.reward,
                                        score=result.score, source="random"))  # fmt: skip
        episode.score, episode.success, valid = result.score, result.success, tuple(result.valid_actions)
        if result.done:
            break
    episode.seconds = round(time.perf_counter() - start, 3)
    return episode


_AS_BEFORE: dict[str, dict[str, Any]] = {
    "evolution": {"recalls": 0, "howtos": False, "kept": False, "check_rules": False},
    "actor": {"pin_found": False, "mix_verbs": False, "hide_idle_verbs": False, "keep_earned": False,
              "follow_memory": False, "place_by_analogy": False,
              "place_by_likeness": False},
}
"""Options added since benches were first saved whose default changes how a bench plays, with the value that
reproduces how a bench saved without them played (before them, memory was retrieved once per episode, only
the recent steps were shown, untried actions were listed in the environment's order, no verb was idle, no
how-to fact was applied, no kept fact was written or applied, no rule was checked against its evidence's
actions, nothing earned was kept from being undone and the model chose every action, none by analogy or likeness)."""


def _missing_since(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The options of :data:`_AS_BEFORE` a saved bench configuration predates, with the values it ran with."""
    missing = {section: {k: v for k, v in values.items() if k not in data.get(section, {})}
               for section, values in _AS_BEFORE.items()}  # fmt: skip
    return {section: values for section, values in missing.items() if values}


def kept_as_before(path: Path) -> dict[str, dict[str, Any]]:
    """The options a bench saved in ``path`` keeps as it first ran: those its configuration predates, and those
    an earlier resume kept (recorded under ``as_before``, since that resume saved them explicitly)."""
    if not path.is_file():
        return {}
    record = json.loads(path.read_text())
    kept = _missing_since(record["bench"])
    for section, values in record.get("as_before", {}).items():
        kept[section] = {**values, **kept.get(section, {})}
    return kept


def as_it_ran(config: BenchConfig, path: Path, kept: dict[str, dict[str, Any]] | None = None) -> BenchConfig:
    """``config`` with the options the bench saved in ``path`` predates set as it played, so that an old bench
    resumes with the same command (every time) and plays its remaining episodes as it played the first ones.
    ``kept``: :func:`kept_as_before` of ``path``, when the caller has it already."""
    kept = kept_as_before(path) if kept is None else kept
    if not kept:
        return config
    log.warning("resuming a bench that ran before these options existed: keeping %s as it ran",
                ", ".join(f"{s}.{k}={v}" for s, values in kept.items() for k, v in values.items()))  # fmt: skip
    return config.model_copy(update={s: getattr(config, s).model_copy(update=v) for s, v in kept.items()})


def _saved_bench(path: Path) -> dict[str, Any]:
    """The bench configuration saved in ``path``; an option added since is filled with the value the bench
    ran with (:data:`_AS_BEFORE`, else the default)."""
    data = json.loads(path.read_text())["bench"]
    for section, values in _missing_since(data).items():
        data.setdefault(section, {}).update(values)
    return BenchConfig.model_validate(data).model_dump(mode="json")


def _differences(saved: dict[str, Any], now: dict[str, Any], prefix: str = "") -> list[str]:
    """Where two saved configurations differ, as ``section.option (saved X, now Y)``."""
    found: list[str] = []
    for key in sorted(set(saved) | set(now)):
        old, new = saved.get(key), now.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            found += _differences(old, new, f"{prefix}{key}.")
        elif old != new:
            found.append(f"{prefix}{key} (saved {old!r}, now {new!r})")
    return found


def _check(config: BenchConfig) -> None:
    unknown = [a for a in config.ablations if a not in ABLATIONS]
    if unknown:
        raise UsageError(f"unknown ablation(s) {unknown}; choose from {', '.join(ABLATIONS)}")
    envs.spec(config.env_id)  # unknown id: "did you mean"


def run_bench(
    llm: LLMConfig,
    config: BenchConfig,
    out_dir: Path,
    *,
    memory_dir: Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    chat: BaseChatModel | None = None,
    workers: int = 1,
    chroma_url: str | None = None,
    allow_local_workers: bool = False,
    model_factory: str | None = None,
) -> dict[str, Any]:
    """Train once, test every ablation per setting, write the results; returns the results dict.

    Args:
        llm: how to build the chat model.
        config: what the bench runs.
        out_dir: where episodes, results and (by default) the memory bank go; the same directory resumes.
        memory_dir: an existing memory bank to use instead of ``OUT/memory``.
        on_progress: called after each training task and each test episode.
        chat: a chat model to use instead of the one built from ``llm`` (tests inject the scripted double).
        workers: processes running episodes in parallel (see :mod:`agent.workers`). With more than one,
            the training seeds and each ablation's test seeds are dealt round-robin to the workers, which
            share one memory: the Chroma server at ``chroma_url`` and the same ledger. Training is then
            no longer strictly sequential: a worker's task sees the memories the other workers had
            written by the time it started, not those of every earlier seed, and only worker 0 runs
            reflect/forget. Evaluation stays read-only on memory.
        chroma_url: a Chroma server for the vector store; None: embedded Chroma under the bank, or, with
            ``workers > 1``, a ``chroma run`` started on a free loopback port for the duration of the bench
            (data under ``OUT/chroma-server``, kept for a resume).
        allow_local_workers: let every worker load its own in-process local model (normally refused).
        model_factory: ``package.module:function`` returning a chat model for an LLMConfig, called in each
            worker (a chat model object cannot be sent to another process).

    Raises:
        UsageError: bad configuration, e.g. ``workers > 1`` with an in-process local model.
    """
    _check(config)
    check_workers(llm, workers, allow_local=allow_local_workers, model_factory=model_factory, chat=chat)
    try:
        memory = MemoryConfig(path=memory_dir or out_dir / "memory", server_url=chroma_url)
    except ValueError as exc:
        raise UsageError(f"--chroma-url {chroma_url!r} is not an http(s) URL; give e.g. http://127.0.0.1:8000") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = out_dir / "config.json"
    kept = kept_as_before(saved)
    config = as_it_ran(config, saved, kept)
    record: dict[str, Any] = {"bench": config.model_dump(mode="json"),
                              "llm": llm.model_dump(mode="json", exclude={"api_key"})}  # fmt: skip
    if kept:
        record["as_before"] = kept
    if memory_dir is not None or chroma_url is not None:  # memory brought in, e.g. built by another model
        record["memory_from"] = chroma_url or str(memory_dir)
    differences = _differences(_saved_bench(saved), record["bench"]) if saved.is_file() else []
    if differences:
        raise UsageError(f"{out_dir} holds a bench with another configuration: {'; '.join(differences)}. "
                         f"Use a new --out directory, or the options it ran with to resume it")  # fmt: skip
    saved.write_text(json.dumps(record, indent=2, default=str))
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if workers > 1 and chroma_url is None:
            server = stack.enter_context(ChromaServer(out_dir / "chroma-server"))
            memory = memory.model_copy(update={"server_url": server.url})
        bank = MemoryBank(memory)
        stack.callback(bank.close)
        mirror_ledger_into_store(bank)
        log_path = out_dir / "episodes.jsonl"
        run_log = RunLog.open(log_path)
        train_env = make_env(config, "train")
        stack.callback(train_env.close)
        train_seeds, in_seeds = split_seeds(train_env.seeds(), config.train, config.test)
        held_out: dict[Setting, tuple[Env, list[int]]] = {}
        for setting in config.settings:
            if setting == "in":
                held_out[setting] = (train_env, in_seeds)
            else:
                env = make_env(config, "test")
                stack.callback(env.close)
                held_out[setting] = (env, list(env.seeds())[: config.test])
        if workers > 1:
            specs = worker_specs(llm, config, memory, out_dir, workers, model_factory)
            pool = stack.enter_context(WorkerPool(specs, on_progress))
            done = {e.seed for e in run_log.episodes if e.tag == "train"}
            pool.run([Job("train", [s for s in train_seeds if s not in done], done=len(done & set(train_seeds)),
                          total=len(train_seeds))])  # fmt: skip
            jobs = []
            for setting, (_, seeds) in held_out.items():
                for ablation in config.ablations:
                    tag = f"{setting}/{ablation}"
                    done = {e.seed for e in run_log.episodes if e.tag == tag}
                    jobs.append(Job(tag, [s for s in seeds if s not in done], setting, ablation,
                                    len(done & set(seeds)), len(seeds)))  # fmt: skip
            pool.run(jobs)
            run_log = RunLog.open(log_path)
        else:
            actor = Actor(chat or make_chat_model(llm), config.actor)
            evolver = Evolver(train_env, actor, bank, config.evolution, run_log, on_progress=on_progress)
            evolver.train(train_seeds)
            # every ablation on a block of seeds before the next block, results rewritten after each: an
            # interrupted bench still has figures for all ablations on the same tasks
            for start in range(0, config.test, EVAL_BLOCK):
                for setting, (env, seeds) in held_out.items():
                    for ablation in config.ablations:
                        evolver.evaluate(seeds[start : start + EVAL_BLOCK], env, ablation, tag=f"{setting}/{ablation}",
                                         offset=start, total=len(seeds))  # fmt: skip
                if start + EVAL_BLOCK < config.test:
                    _collect(config, record, train_seeds, held_out, run_log, bank, workers, started, out_dir,
                             tested=start + EVAL_BLOCK)  # fmt: skip
        return _collect(config, record, train_seeds, held_out, run_log, bank, workers, started, out_dir,
                        tested=config.test)  # fmt: skip


def _collect(
    config: BenchConfig,
    record: dict[str, Any],
    train_seeds: list[int],
    held_out: dict[Setting, tuple[Env, list[int]]],
    run_log: RunLog,
    bank: MemoryBank,
    workers: int,
    started: float,
    out_dir: Path,
    *,
    tested: int,
) -> dict[str, Any]:
    """Summarise the episodes logged so far on the first ``tested`` held-out seeds and write the results."""
    train_episodes = [e for e in run_log.episodes if e.tag == "train"]
    results: dict[str, Any] = {"env_id": config.env_id, "preset": config.preset, "train_seeds": train_seeds,
                               "settings": {}, "llm": record["llm"], "bench": record["bench"],
                               "complete": tested >= config.test}  # fmt: skip
    if "memory_from" in record:
        results["memory_from"] = record["memory_from"]
    results["train"] = summarise("train (all trials)", train_episodes).to_dict()
    for setting, (env, all_seeds) in held_out.items():
        seeds = all_seeds[:tested]
        summaries: list[Summary] = []
        played: dict[str, list[Episode]] = {}
        for ablation in config.ablations:
            tag = f"{setting}/{ablation}"
            played[ablation] = [e for e in run_log.episodes if e.tag == tag and e.seed in seeds]
            summaries.append(summarise(ablation, played[ablation]))
        if config.random_baseline:
            # one generator per seed: the random agent's game does not depend on which seeds ran before it
            summaries.append(summarise("random", [random_episode(env, s, random.Random(s)) for s in seeds]))
        paired = [p.to_dict() for p in paired_with_none(played)]
        results["settings"][setting] = {"seeds": seeds, "split": env.split, "paired_with_none": paired,
                                        "summaries": [s.to_dict() for s in summaries]}  # fmt: skip
    results["memory"] = bank.stats()
    results["memory_credit"] = credit(bank, namespace_for(config.env_id))
    results["reflect"] = reflect_summary(out_dir)
    results["workers"] = workers
    results["wall_seconds"] = round(time.perf_counter() - started, 1)  # this invocation only (a resume restarts it)
    results["episode_seconds"] = round(sum(e.seconds for e in run_log.episodes), 1)  # every run of this bench
    write_results(out_dir, results, train_episodes)
    return results


def reflect_lines(summary: dict[str, Any], shown: int = 5) -> str:
    """What training's reflects wrote and refused, for results.md ("" when none ran)."""
    if not summary.get("runs"):
        return ""
    refused = summary["rejected"]
    text = (f"Training reflected {summary['runs']} times: {summary['insights_added']} rules added, "
            f"{summary['insights_edited']} edited, +{summary['upvotes']}/-{summary['downvotes']} votes, "
            f"{summary['failures']} unusable replies; {len(refused)} proposals refused")  # fmt: skip
    more = ["…"] if len(refused) > shown else []
    return text + "".join(f"\n- {reason}" for reason in [*refused[:shown], *more]) + "\n"


def write_results(out_dir: Path, results: dict[str, Any], train: Sequence[Episode]) -> None:
    """results.json, results.md (tables with 95% CIs) and learning_curve.png."""
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    parts = [f"# {results['env_id']} ({results['preset']}): {len(results['train_seeds'])} training tasks\n"]
    if results.get("memory_from"):
        parts.append(f"Memory: brought in from {results['memory_from']} (`--memory-dir` or `--chroma-url`); "
                     f"this bench's training, if any, added to it.\n")  # fmt: skip
    if "episode_seconds" in results:
        parts.append(f"Model time over all episodes (every resume of this bench): "
                     f"{results['episode_seconds'] / 3600:.1f} h.\n")  # fmt: skip
    held_out: dict[str, list[Summary]] = {}
    for setting, block in results["settings"].items():
        summaries = [Summary(**{**s, "success_ci": tuple(s["success_ci"]), "score_ci": tuple(s["score_ci"])})
                     for s in block["summaries"]]  # fmt: skip
        name = SETTING_NAMES[setting]
        parts.append(markdown_table(summaries, title=f"{name}: {len(block['seeds'])} tasks"))
        if block.get("paired_with_none"):
            parts.append(paired_table(block["paired_with_none"], "the same tasks, with memory vs without (none)"))
        held_out[name] = summaries
    parts.append(reflect_lines(results.get("reflect") or {}))
    kinds = results.get("memory_credit", {}).get("kinds", {})
    if kinds:
        parts.append(credit_table(kinds))
    (out_dir / "results.md").write_text("\n".join(parts))
    title = f"{results['env_id']} ({results['preset']}): {len(results['train_seeds'])} training tasks, held-out success"
    try:
        learning_curve(out_dir / "learning_curve.png", train, held_out, title=title)
    except Exception:  # the figure must not end a bench of hours: its figures are already written above
        log.exception("learning_curve.png could not be drawn; results.json and results.md are written")
