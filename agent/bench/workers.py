"""Parallel episodes: worker processes that share one memory (a Chroma server and the SQLite ledger).

``run_bench(..., workers=K)`` splits the training seeds and every ablation's test seeds round-robin
across K processes started with the ``spawn`` context. Each worker builds its own environment, chat
model (from the :class:`LLMConfig`, or from a picklable ``model_factory`` path) and
:class:`~memory.MemoryBank` on the same ledger file and the same Chroma server, and appends its
episodes to its own ``episodes-wN.jsonl``. The parent only hands out seeds, relays progress and
re-raises a worker's error.

Sharing rules: the ledger is SQLite in WAL mode, safe for several processes on one machine; the
vector store must be a server (an embedded Chroma directory is not meant for concurrent writers), so
:class:`ChromaServer` starts ``chroma run`` on a free loopback port when no URL is given. Only worker 0
runs the periodic ``reflect``/``forget`` (every ``ceil(N / K)`` of its own tasks, about the sequential
rate), so two reflections never race over the same experiences.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import multiprocessing as mp
import os
import pickle
import queue
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from agent.bench.clock import BenchClock
from agent.bench.config import BenchConfig, make_env
from agent.core.runlog import RunLog
from agent.core.trajectory import Episode
from agent.errors import ComponentError, EvolveError, UsageError
from agent.families.registry import build_actor
from agent.learning.evolve import Evolver, Progress
from agent.llm.config import LLMConfig
from agent.llm.factory import make_chat_model
from agent.llm.models import LOCAL_MODELS
from envs.errors import EnvRuntimeError, EnvUsageError
from memory import MemoryBank, MemoryConfig
from memory.errors import MemoryBankError

log = logging.getLogger(__name__)

ModelFactory = Callable[[LLMConfig], BaseChatModel]


def check_workers(llm: LLMConfig, workers: int, *, allow_local: bool, model_factory: str | None,
                  chat: BaseChatModel | None) -> None:  # fmt: skip
    """Refuse worker setups that cannot work or would swamp the machine (a :class:`UsageError`)."""
    if workers < 1:
        raise UsageError(f"--workers {workers}: give 1 or more")
    if workers == 1:
        return
    if model_factory is not None:
        load_model_factory(model_factory)  # fail here, not in every worker
    if chat is not None:
        raise UsageError("a chat model object cannot be sent to worker processes; give model_factory="
                         "'package.module:function' (called with the LLMConfig in each worker) instead")  # fmt: skip
    if model_factory is None and llm.backend in LOCAL_MODELS and not allow_local:
        raise UsageError(
            f"--workers {workers} with --llm {llm.backend}: each worker would load its own copy of the model "
            f"in process, and on a small machine (this one has {mp.cpu_count()} cores) they only slow each "
            "other down. Serve one model and share it: `evolve serve-model --llm "
            f"{llm.backend} --port 8080`, then add `--llm openai --base-url http://127.0.0.1:8080/v1 "
            f"--model {llm.backend}` (or pass --allow-local-workers to load a copy per worker anyway)"
        )


def load_model_factory(path: str) -> ModelFactory:
    """Import ``package.module:function`` (or ``package.module.function``): a function LLMConfig -> chat model."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise UsageError(f"model factory {path!r} cannot be imported ({exc}); give 'package.module:function'") from exc
    if not callable(factory):
        raise UsageError(f"model factory {path!r} is not callable")
    return factory


def split_round_robin(seeds: Sequence[int], workers: int) -> list[list[int]]:
    """``seeds`` dealt to ``workers`` in turn (so each worker gets a mix of the task types in order)."""
    return [list(seeds[i::workers]) for i in range(workers)]


@dataclass(frozen=True)
class Job:
    """Seeds for one phase: training (``setting`` None) or one ablation in one setting."""

    key: str
    """The run-log tag: ``train`` or ``SETTING/ABLATION``."""
    seeds: list[int]
    setting: str | None = None
    ablation: str | None = None
    done: int = 0
    """Tasks of this phase finished before (for the progress bar)."""
    total: int = 0
    """Tasks of this phase in all (for the progress bar)."""
    now: float | None = None
    """Where held-out play freezes the bank's clock (:mod:`agent.bench.clock`); None: the wall clock."""

    @property
    def phase(self) -> str:
        """Name shown by the progress bar."""
        return "train" if self.setting is None else f"eval {self.key}"


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs to build its own agent (picklable)."""

    index: int
    llm: LLMConfig
    bench: BenchConfig
    memory: MemoryConfig
    log_path: Path
    model_factory: str | None = None
    log_level: int = logging.WARNING
    code: str = ""
    """The agent code's hash, stamped on the worker's episodes."""


def worker_specs(llm: LLMConfig, bench: BenchConfig, memory: MemoryConfig, out_dir: Path, workers: int,
                 model_factory: str | None, *, code: str = "") -> list[WorkerSpec]:  # fmt: skip
    """One spec per worker; each opens the bank as one of several writers (``MemoryConfig.shared_writers``),
    and worker 0 alone runs reflect/forget, every ceil(N / K) of its own tasks."""
    shared = memory.model_copy(update={"shared_writers": True})
    specs = []
    for index in range(workers):
        evo = bench.evolution
        every = {"reflect_every": evo.reflect_every, "forget_every": evo.forget_every}
        maintenance = {k: (math.ceil(v / workers) if index == 0 else 0) for k, v in every.items()}
        config = bench.model_copy(update={"evolution": evo.model_copy(update=maintenance)})
        specs.append(WorkerSpec(index, llm, config, shared, out_dir / f"episodes-w{index}.jsonl", model_factory,
                                logging.getLogger().getEffectiveLevel(), code))  # fmt: skip
    return specs


def error_payload(exc: BaseException) -> tuple[str, Any, Any]:
    """The worker's error in a form that survives the trip to the parent."""
    if isinstance(exc, ComponentError):  # its __init__ takes (what, fix): rebuilt in the parent
        return ("component", exc.what, exc.fix)
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # whatever makes it unpicklable, it is sent as text instead
        return ("text", f"{type(exc).__name__}: {exc}", None)
    return ("exception", exc, None)


def worker_main(spec: WorkerSpec, jobs: Any, events: Any) -> None:
    """Entry point of a worker process: build the agent, run the jobs it is sent, report every episode."""
    logging.basicConfig(level=spec.log_level, format=f"%(levelname)s w{spec.index} %(name)s: %(message)s")
    try:
        _serve(spec, jobs, events)
    except KeyboardInterrupt:  # Ctrl-C reaches every process; the parent stops the run
        return
    except BaseException as exc:
        if not isinstance(exc, EvolveError | MemoryBankError | EnvUsageError | EnvRuntimeError):
            log.exception("worker %d failed", spec.index)  # unexpected: its traceback helps
        events.put(("error", spec.index, "", error_payload(exc)))


def _serve(spec: WorkerSpec, jobs: Any, events: Any) -> None:
    current = [""]

    def report(progress: Progress) -> None:
        episode = progress.last.to_dict() if progress.last is not None else None
        events.put(("progress", spec.index, current[0], episode))

    chat = load_model_factory(spec.model_factory)(spec.llm) if spec.model_factory else make_chat_model(spec.llm)
    with contextlib.ExitStack() as stack:
        clock = BenchClock()
        bank = MemoryBank(spec.memory, clock=clock)
        stack.callback(bank.close)
        train_env = make_env(spec.bench, "train")
        stack.callback(train_env.close)
        envs = {"in": train_env}
        actor = build_actor(chat, spec.bench.actor)
        evolver = Evolver(train_env, actor, bank, spec.bench.evolution, RunLog(spec.log_path, code=spec.code),
                          on_progress=report)  # fmt: skip
        parent = mp.parent_process()
        while True:
            try:
                job: Job | None = jobs.get(timeout=5)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    return  # the parent died without stopping us
                continue
            if job is None:
                return
            current[0] = job.key
            if job.setting is None:
                clock.thaw()
                evolver.train(job.seeds)
            else:
                if job.setting not in envs:
                    envs[job.setting] = make_env(spec.bench, "test")
                    stack.callback(envs[job.setting].close)
                if job.now is not None:
                    clock.freeze(job.now)
                evolver.evaluate(job.seeds, envs[job.setting], job.ablation or "none", tag=job.key)
            events.put(("done", spec.index, job.key, None))


@dataclass
class WorkerPool:
    """K worker processes (spawn context) fed with jobs; a context manager that stops them on exit.

    Processes start on the first :meth:`run` that has work, so resuming a finished bench spawns nothing.
    """

    specs: list[WorkerSpec]
    on_progress: Callable[[Progress], None] | None = None
    processes: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._context = mp.get_context("spawn")
        self._events: Any = self._context.Queue()
        self._jobs: list[Any] = [self._context.Queue() for _ in self.specs]

    def _start(self) -> None:
        for spec, jobs in zip(self.specs, self._jobs, strict=True):
            process = self._context.Process(target=worker_main, args=(spec, jobs, self._events),
                                            name=f"evolve-worker-{spec.index}", daemon=True)  # fmt: skip
            process.start()
            self.processes.append(process)

    def run(self, jobs: Sequence[Job]) -> None:
        """Deal each job's seeds round-robin to the workers and wait until every worker has finished them."""
        pending: dict[int, int] = {}
        by_key = {job.key: job for job in jobs}
        done = {job.key: job.done for job in jobs}
        for job in jobs:
            for index, chunk in enumerate(split_round_robin(job.seeds, len(self.specs))):
                if chunk:
                    if not self.processes:
                        self._start()
                    self._jobs[index].put(Job(job.key, chunk, job.setting, job.ablation))
                    pending[index] = pending.get(index, 0) + 1
        while pending:
            try:
                kind, index, key, payload = self._events.get(timeout=1.0)
            except queue.Empty:
                for index in pending:
                    process = self.processes[index]
                    if not process.is_alive():
                        raise ComponentError(
                            f"worker {index} exited with code {process.exitcode} without finishing its seeds",
                            "see its log above; run the same command again to resume (finished episodes are kept)",
                        ) from None
                continue
            if kind == "progress":
                done[key] += 1
                if self.on_progress is not None:
                    last = Episode.from_dict(payload) if payload is not None else None
                    self.on_progress(Progress(by_key[key].phase, done[key], by_key[key].total, last))
            elif kind == "done":
                pending[index] -= 1
                if not pending[index]:
                    del pending[index]
            else:
                raise_worker_error(index, payload)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the workers to finish and wait; terminate the ones that do not."""
        for jobs in self._jobs:
            with contextlib.suppress(ValueError, OSError):
                jobs.put(None)
        self._join(timeout)

    def terminate(self) -> None:
        """Interrupt the workers after an error or Ctrl-C, as Ctrl-C would (each closes its memory and
        environment; the episode in progress is lost), and kill those still running after 15 s."""
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGINT)
        self._join(15.0)

    def _join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5.0)
        for q in [*self._jobs, self._events]:
            q.cancel_join_thread()  # never block on a queue whose reader is gone
            q.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        if exc_type is None:
            self.stop()
        else:
            self.terminate()


def raise_worker_error(index: int, payload: tuple[str, Any, Any]) -> None:
    kind, first, second = payload
    if kind == "component":
        raise ComponentError(f"worker {index}: {first}", second)
    if kind == "exception":
        first.add_note(f"(raised in worker {index})")
        raise first
    raise ComponentError(f"worker {index} failed: {first}",
                         "its traceback is above; run with --workers 1 to debug it in one process")  # fmt: skip
