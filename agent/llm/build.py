"""The llama.cpp build: which x86-64 instruction sets it targets, and whether this CPU has them.

llama-cpp-python ships as source, and pip compiles llama.cpp with ``-march=native`` unless told
otherwise: the library then uses whatever the build machine had (AVX-512, AMX), and pip caches that
wheel for the next install on any CPU. On a CPU without those instructions it dies with SIGILL, and
llama.cpp's AMX kernels segfault on some AMX machines. So the project builds one named target,
``portable`` (x86-64-v3: AVX2, FMA, F16C, BMI2; no AVX-512, no AMX), keeps the wheel in its own cache
directory keyed by that target (never pip's cache, which is keyed by the source alone), and checks
the library it loads against the CPU it runs on.

Standard library only: ``make install`` runs it as a script before the project's dependencies exist
(``python agent/llm/build.py install --target portable``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

LLAMA_CPP_VERSION = "0.3.36"
"""The llama-cpp-python release the project pins (pyproject.toml, requirements.txt)."""

PORTABLE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON "
    "-DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF "
    "-DLLAVA_BUILD=OFF"
)
"""CMake arguments of the ``portable`` target: x86-64-v3, which every x86-64 CPU since 2013-2015 has (and no
multimodal library: the project sends no images, and it shortens the compile)."""

TARGETS = {"portable": PORTABLE_ARGS, "native": "-DGGML_NATIVE=ON"}
"""Named build targets. ``native`` is fastest on the build machine and safe only there."""

# llama.cpp's names for the instruction sets it reports (llama_print_system_info) -> /proc/cpuinfo flags.
CPU_FLAG = {
    "SSE3": "pni", "SSSE3": "ssse3", "AVX": "avx", "AVX2": "avx2", "F16C": "f16c", "FMA": "fma",
    "BMI2": "bmi2", "AVX_VNNI": "avx_vnni", "AVX512": "avx512f", "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16", "AMX_INT8": "amx_int8",
}  # fmt: skip

RISKY = {"AMX_INT8": "llama.cpp's AMX kernels segfault on some AMX machines"}
"""Instruction sets that are present on the CPU yet known to crash the library."""


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def compiled_features(system_info: str) -> frozenset[str]:
    """The instruction sets a llama.cpp library was compiled for, from its system-info line."""
    return frozenset(name for name, value in re.findall(r"([A-Z0-9_]+) = (\d+)", system_info) if value == "1")


@dataclass(frozen=True)
class Verdict:
    """Whether a compiled library suits a CPU."""

    ok: bool
    """True when every instruction set the library uses is on the CPU and none is known to crash."""
    detail: str
    """One line: what the library targets and what the CPU lacks or risks."""
    fix: str
    """What to run when ``ok`` is False."""


CRASH_CAUSES = {
    "SIGILL": "llama.cpp ran an instruction this CPU lacks: the library was built for another CPU "
    "(a wheel compiled with -march=native elsewhere, or reused from pip's cache)",
    "SIGSEGV": "llama.cpp crashed loading or decoding the model (known on some CPUs with AMX when the "
    "library was compiled for the build machine)",
    "SIGBUS": "llama.cpp could not read the memory-mapped model file (truncated, or on a full disk)",
    "SIGABRT": "llama.cpp aborted (an assertion failed loading or decoding the model)",
}
"""What a child process's death by each signal means for a llama.cpp library."""


def signal_name(returncode: int) -> str:
    """The name of the signal a child died of, from its negative return code (``SIGSEGV``)."""
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def exit_cause(returncode: int) -> str:
    """A failed child's exit in words: the signal and what it means, or the exit status."""
    if returncode >= 0:
        return f"exit {returncode}"
    name = signal_name(returncode)
    return f"died of {name}: {CRASH_CAUSES.get(name, 'llama.cpp crashed')}"


REBUILD = "rebuild llama.cpp for any x86-64 CPU: make reinstall-llama   (the `portable` target, 3-10 min)"


def judge(features: frozenset[str], flags: frozenset[str]) -> Verdict:
    """Compare a library's compiled instruction sets with a CPU's flags."""
    used = sorted(name for name in features if name in CPU_FLAG)
    if not flags:
        return Verdict(True, f"compiled for {' '.join(used) or 'baseline'}; CPU flags unknown here", "")
    missing = [name for name in used if CPU_FLAG[name] not in flags]
    if missing:
        return Verdict(False, f"compiled for {' '.join(missing)}, which this CPU lacks (SIGILL: illegal "
                       "instruction): the wheel was built on another CPU", REBUILD)  # fmt: skip
    risky = [f"{name}: {why}" for name, why in RISKY.items() if name in features]
    if risky:
        return Verdict(False, f"compiled with {'; '.join(risky)}", REBUILD)
    return Verdict(True, f"compiled for {' '.join(used)}; this CPU has them all", "")


def is_x86() -> bool:
    """True on x86-64, the only architecture the ``portable`` target names instruction sets for."""
    return platform.machine().lower() in {"x86_64", "amd64"}


def cmake_args(target: str, custom: str = "") -> str:
    """The CMake arguments of a target; ``custom`` overrides them (``make install LLAMA_CMAKE_ARGS=...``)."""
    if custom:
        return custom
    if target not in TARGETS:
        raise SystemExit(f"unknown llama.cpp target {target!r}: use one of {', '.join(TARGETS)}")
    if target == "portable" and not is_x86():
        return "-DLLAVA_BUILD=OFF"  # llama.cpp's default for this architecture; the x86 flags would not apply
    return TARGETS[target]


def wheel_dir(target: str, args: str, cache: Path) -> Path:
    """Where a target's wheel is kept: keyed by its arguments, and for ``native`` by the CPU too."""
    key = hashlib.sha256(args.encode()).hexdigest()[:10]
    if target == "native":
        key += "-cpu-" + hashlib.sha256(" ".join(sorted(cpu_flags())).encode()).hexdigest()[:10]
    return cache / "wheels" / f"llama-cpp-python-{LLAMA_CPP_VERSION}-{target}-{key}"


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/evolve`` or ``~/.cache/evolve`` (where the model files live too)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "evolve"


def system_info(python: str) -> tuple[str | None, int, str]:
    """The installed library's system-info line, read in a child process (it may die loading), its exit status,
    and the last line of what it printed on stderr."""
    code = "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, 124, "no answer within 120 s"  # 124: the exit status `timeout` uses
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return (done.stdout.strip() if done.returncode == 0 else None), done.returncode, last


def install(python: str, target: str, custom: str, cache: Path, *, fresh: bool = False) -> int:
    """Build the target's wheel once (pip's cache bypassed) and install it without its dependencies (the
    project's requirements bring them; :func:`check` then reads the library on this CPU)."""
    args = cmake_args(target, custom)
    where = wheel_dir("custom" if custom else target, args, cache)
    if fresh and where.is_dir():
        shutil.rmtree(where)
    wheels = sorted(where.glob("llama_cpp_python-*.whl"))
    if not wheels:
        print(f"building llama-cpp-python {LLAMA_CPP_VERSION} for target {target!r} ({args or 'defaults'}); "
              "this compiles llama.cpp, 3-10 min", flush=True)  # fmt: skip
        env = {**os.environ, "CMAKE_ARGS": args, "FORCE_CMAKE": "1"}
        tmp = where.with_name(where.name + f".tmp-{os.getpid()}")
        command = [python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-cache-dir", "--no-binary",
                   "llama-cpp-python", "-w", str(tmp), f"llama-cpp-python=={LLAMA_CPP_VERSION}"]  # fmt: skip
        if subprocess.run(command, env=env).returncode != 0:
            print(f"llama-cpp-python failed to build; fix the compiler error above and rerun (kept nothing in {where})")
            return 1
        tmp.rename(where)
        wheels = sorted(where.glob("llama_cpp_python-*.whl"))
    command = [python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheels[-1])]
    if subprocess.run(command).returncode != 0:
        return 1
    (where / "build.json").write_text(json.dumps({"target": target, "cmake_args": args}))
    print(f"installed {wheels[-1].name} from {where} (check it with: python agent/llm/build.py check)")
    return 0


def check(python: str) -> int:
    """Print whether the installed library suits this CPU; non-zero when it does not."""
    info, code, error = system_info(python)
    if info is None:
        print(f"llama_cpp failed to load in a child process ({exit_cause(code)}){': ' + error if error else ''}")
        print(f"fix: {REBUILD}" if code < 0 else "fix: run make install (the project's requirements were not all "
              "installed)")  # fmt: skip
        return 1
    verdict = judge(compiled_features(info), cpu_flags())
    print(f"llama.cpp {'ok' if verdict.ok else 'UNSUITED'}: {verdict.detail}")
    if not verdict.ok:
        print(f"fix: {verdict.fix}")
    return 0 if verdict.ok else 1


def main(argv: list[str] | None = None) -> int:
    """``install`` or ``check``, for the Makefile."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["install", "check"])
    parser.add_argument("--target", default="portable", help=f"one of {', '.join(TARGETS)}")
    parser.add_argument("--cmake-args", default="", help="custom CMake arguments (override the target)")
    parser.add_argument("--python", default=sys.executable, help="the virtual environment's python")
    parser.add_argument("--cache", type=Path, default=None, help="wheel cache root (default ~/.cache/evolve)")
    parser.add_argument("--fresh", action="store_true", help="build anew even when the wheel is cached")
    ns = parser.parse_args(argv)
    if ns.command == "check":
        return check(ns.python)
    return install(ns.python, ns.target, ns.cmake_args, ns.cache or default_cache(), fresh=ns.fresh)


if __name__ == "__main__":
    sys.exit(main())
