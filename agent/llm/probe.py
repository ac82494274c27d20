"""Decode with a local GGUF in a child process, so a crash of the native library is a reported failure.

A segfault or an illegal instruction inside llama.cpp kills the whole Python process: a test run, a
bench or ``evolve doctor`` dies with it and says nothing useful. The probe loads the model and
answers one question in a child process; the parent reads the answer, or the signal the child died
of, and turns it into a failure naming the cause and the fix. A probe that passed is remembered per
(library build, CPU, model file), so loading the model in process pays for it once per machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import ComponentError
from agent.llm.build import CRASH_CAUSES, REBUILD, compiled_features, cpu_flags, judge, signal_name, system_info

QUESTION = "What is 2 + 2? Answer with the number only."
EXPECT = "4"

@dataclass(frozen=True)
class ProbeResult:
    """What the child process did with one question."""

    ok: bool
    """True when the child answered and the answer holds the expected text."""
    answer: str
    """The model's reply ('' when the child died)."""
    detail: str
    """One line: the answer, or how the child failed and why."""
    fix: str
    """What to do when ``ok`` is False."""
    signal: str | None = None
    """The signal the child died of (``SIGSEGV``, ``SIGILL``…), None when it exited."""
    seconds: float = 0.0
    """Wall time of the child, model load included."""


def child_main(argv: list[str]) -> None:
    """In the child: load the model with llama.cpp alone, answer the question, print JSON."""
    from llama_cpp import Llama

    model_path, n_threads, question = argv[0], int(argv[1]), argv[2]
    llama = Llama(model_path=model_path, n_ctx=512, n_threads=n_threads, n_threads_batch=n_threads, verbose=False)
    reply: Any = llama.create_chat_completion(messages=[{"role": "user", "content": question}], max_tokens=8,
                                              temperature=0.0)  # fmt: skip
    print(json.dumps({"answer": reply["choices"][0]["message"].get("content") or ""}))


def _crash_cause(name: str) -> str:
    """The cause of a crash, sharpened by what the installed library was compiled for."""
    cause = CRASH_CAUSES.get(name, "llama.cpp crashed")
    info, _, _ = system_info(sys.executable)
    if info is not None:
        verdict = judge(compiled_features(info), cpu_flags())
        if not verdict.ok:
            cause += f"; the installed library is {verdict.detail}"
    return cause


def probe(model_path: Path, *, n_threads: int = 2, question: str = QUESTION, expect: str = EXPECT,
          timeout: float = 600.0) -> ProbeResult:  # fmt: skip
    """Ask the model one question in a child process; never raises for what the child does."""
    command = [sys.executable, "-c", "import sys; from agent.llm.probe import child_main; child_main(sys.argv[1:])",
               str(model_path), str(n_threads), question]  # fmt: skip
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return ProbeResult(False, "", f"no answer within {timeout:.0f} s", "run `evolve doctor`; close other "
                           "jobs competing for the CPU", None, timeout)  # fmt: skip
    seconds = round(time.perf_counter() - start, 2)
    if done.returncode < 0:
        name = signal_name(done.returncode)
        return ProbeResult(False, "", f"the model process died of {name}: {_crash_cause(name)}", REBUILD, name, seconds)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return ProbeResult(False, "", f"the model process failed (exit {done.returncode}): {last}",
                           "run `make install`, then `evolve doctor`", None, seconds)  # fmt: skip
    answer = json.loads(done.stdout.strip().splitlines()[-1])["answer"].strip()
    ok = expect in answer
    fix = "" if ok else "the model answers but wrongly: run `evolve doctor --full`"
    return ProbeResult(ok, answer, f"answered {answer!r} to {question!r}", fix, None, seconds)


def library_key() -> str:
    """A fingerprint of the installed llama.cpp libraries (paths, sizes, times) and of this CPU."""
    spec = importlib.util.find_spec("llama_cpp")
    parts = [" ".join(sorted(cpu_flags()))]
    if spec is not None and spec.submodule_search_locations:
        lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
        for path in sorted(lib.glob("*.so*")):
            stat = path.stat()
            parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def ensure_decodes(model_path: Path, *, n_threads: int = 2) -> None:
    """Raise :class:`ComponentError` unless this build decodes this model on this CPU (probed once)."""
    marker = model_path.with_name(model_path.name + ".decodes")
    key = library_key()
    if marker.is_file() and marker.read_text().strip() == key:
        return
    result = probe(model_path, n_threads=n_threads)
    if not result.ok:
        raise ComponentError(f"the local model cannot run here: {result.detail}", result.fix)
    with contextlib.suppress(OSError):  # a read-only cache only costs the probe again next time
        marker.write_text(key)
