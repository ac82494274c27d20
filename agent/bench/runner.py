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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from agent.bench.chroma_server import ChromaServer
from agent.bench.clock import BenchClock
from agent.bench.config import BenchConfig, Setting, make_env
from agent.bench.provenance import code_identity
from agent.bench.reports import collect
from agent.bench.resume import as_it_ran, check_bench, check_code, differences, kept_as_before, saved_bench
from agent.bench.seeds import held_out, named_seeds, training_seeds
from agent.bench.workers import Job, WorkerPool, check_workers, worker_specs
from agent.core.runlog import RunLog
from agent.errors import UsageError
from agent.families.registry import build_actor
from agent.learning.evolve import Evolver, Progress
from agent.llm.config import LLMConfig
from agent.llm.factory import make_chat_model
from envs.base import Env
from memory import MemoryBank, MemoryConfig

log = logging.getLogger(__name__)

EVAL_BLOCK = 10
"""Held-out seeds are played in blocks of this many (every ablation on a block before the next)."""


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
    allow_code_change: bool = False,
) -> dict[str, Any]:
    """Train once, test every ablation per setting, write the results; returns the results dict.

    Args:
        llm: how to build the chat model.
        config: what the bench runs.
        out_dir: where episodes, results and (by default) the memory bank go; the same directory resumes.
        memory_dir: an existing memory bank to use instead of ``OUT/memory``.
        on_progress: called after each training task and each test episode.
        chat: a chat model to use instead of the one built from ``llm`` (tests inject the scripted double).
        workers: processes running episodes in parallel (see :mod:`agent.bench.workers`). With more than one,
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
        allow_code_change: resume a bench whose episodes other agent code played (the results then say so).

    The bank's clock follows the wall clock while training and is frozen at the bank's last activity for
    held-out play (:mod:`agent.bench.clock`); the held-out seeds are the config's (:mod:`agent.bench.seeds`).

    Raises:
        UsageError: bad configuration, e.g. ``workers > 1`` with an in-process local model.
    """
    check_bench(config)
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
    changed = differences(saved_bench(saved), record["bench"]) if saved.is_file() else []
    if changed:
        raise UsageError(f"{out_dir} holds a bench with another configuration: {'; '.join(changed)}. "
                         f"Use a new --out directory, or the options it ran with to resume it")  # fmt: skip
    record.update(check_code(saved, code_identity(), allow_change=allow_code_change))
    saved.write_text(json.dumps(record, indent=2, default=str))
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if workers > 1 and chroma_url is None:
            server = stack.enter_context(ChromaServer(out_dir / "chroma-server"))
            memory = memory.model_copy(update={"server_url": server.url})
        clock = BenchClock()
        bank = MemoryBank(memory, clock=clock)  # opening pushes what a new or other store lacks
        stack.callback(bank.close)
        log_path = out_dir / "episodes.jsonl"
        run_log = RunLog.open(log_path)
        run_log.code = record["code"]["code"]
        train_env = make_env(config, "train")
        stack.callback(train_env.close)
        train_seeds = training_seeds(train_env.seeds(), config.train)
        held: dict[Setting, tuple[Env, list[int]]] = {}
        for setting in config.settings:
            env = train_env if setting == "in" else stack.enter_context(contextlib.closing(make_env(config, "test")))
            fold = list(env.seeds())
            seeds = (named_seeds(config.held_out.seeds, fold, train_seeds, setting) if config.held_out.seeds
                     else held_out(fold, setting, config.held_out.purpose, config.test))  # fmt: skip
            held[setting] = (env, seeds)
        if workers > 1:
            specs = worker_specs(llm, config, memory, out_dir, workers, model_factory, code=run_log.code)
            pool = stack.enter_context(WorkerPool(specs, on_progress))
            done = {e.seed for e in run_log.episodes if e.tag == "train"}
            pool.run([Job("train", [s for s in train_seeds if s not in done], done=len(done & set(train_seeds)),
                          total=len(train_seeds))])  # fmt: skip
            record["clock_frozen_at"] = freeze(clock, bank)
            jobs = []
            for setting, (_, seeds) in held.items():
                for ablation in config.ablations:
                    tag = f"{setting}/{ablation}"
                    done = {e.seed for e in run_log.episodes if e.tag == tag}
                    jobs.append(Job(tag, [s for s in seeds if s not in done], setting, ablation,
                                    len(done & set(seeds)), len(seeds), now=clock.frozen_at))  # fmt: skip
            pool.run(jobs)
            run_log = RunLog.open(log_path)
        else:
            actor = build_actor(chat or make_chat_model(llm), config.actor)
            evolver = Evolver(train_env, actor, bank, config.evolution, run_log, on_progress=on_progress)
            evolver.train(train_seeds)
            record["clock_frozen_at"] = freeze(clock, bank)
            # every ablation on a block of seeds before the next block, results rewritten after each: an
            # interrupted bench still has figures for all ablations on the same tasks
            for start in range(0, config.test, EVAL_BLOCK):
                for setting, (env, seeds) in held.items():
                    for ablation in config.ablations:
                        evolver.evaluate(seeds[start : start + EVAL_BLOCK], env, ablation, tag=f"{setting}/{ablation}",
                                         offset=start, total=len(seeds))  # fmt: skip
                if start + EVAL_BLOCK < config.test:
                    collect(config, record, train_seeds, held, run_log, bank, workers, started, out_dir,
                             tested=start + EVAL_BLOCK)  # fmt: skip
        return collect(config, record, train_seeds, held, run_log, bank, workers, started, out_dir,
                        tested=config.test)  # fmt: skip


def freeze(clock: BenchClock, bank: MemoryBank) -> float:
    """Freeze the bank's clock at its last activity (now, for an empty bank) and return that time."""
    at = bank.view.latest_activity() or time.time()
    clock.freeze(at)
    return at
