"""Prompt and generation speed of llama.cpp builds side by side: what the portable build costs.

Each variant is a llama-cpp-python install (a directory put first on PYTHONPATH, or ``venv`` for the
project's own) with llama.cpp's extra buffer types (weight repacking, AMX) on or off. Every
measurement runs in its own child process; variants take turns within each round so drift of the
machine hits them alike. Speeds come from llama.cpp's own counters (``llama_perf_context``).

    .venv/bin/python benchmarks/llama_build_speed.py --variant native=/tmp/llama-native \
        --variant native-no-extra=/tmp/llama-native:no-extra --variant portable=venv --rounds 3

Prints a table with ratios to the first variant and writes benchmarks/results/llama_build_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.llm.build import compiled_features, cpu_flags  # noqa: E402
from agent.llm.config import default_cache_dir  # noqa: E402
from agent.llm.models import LOCAL_MODELS, ensure_model  # noqa: E402

PROMPT = (
    "You are an agent in a text game. Task: put every object where it belongs. "
    "Observation: You are in the kitchen. In one part of the room you see a fridge that is closed. "
    "There is also a dishwasher that is closed. You also see a counter, on which is a red apple, a "
    "dirty plate and a knife. In another part of the room you see a kitchen cupboard that is open "
    "and empty. To the north you see the living room. "
) * 4 + "Write a long, detailed plan of every step you will take, one numbered line per step."

CHILD = r"""
import json, sys, time
import llama_cpp
from llama_cpp import llama_cpp as C
model, threads, extra, prompt, gen = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], int(sys.argv[5])
if not extra:
    default = C.llama_model_default_params
    def patched():
        params = default()
        params.use_extra_bufts = False
        return params
    C.llama_model_default_params = patched
t0 = time.perf_counter()
llm = llama_cpp.Llama(model_path=model, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=512,
                      verbose=False)
load = time.perf_counter() - t0
runs = []
for i in range(3):
    llm.reset()
    C.llama_perf_context_reset(llm.ctx)
    llm.create_completion(prompt, max_tokens=gen, temperature=0.0, seed=0)
    p = C.llama_perf_context(llm.ctx)
    if i:  # the first is a warm-up
        runs.append({"prompt_tokens": p.n_p_eval, "prompt_ms": p.t_p_eval_ms, "gen_tokens": p.n_eval,
                     "gen_ms": p.t_eval_ms})
print(json.dumps({"load_s": load, "runs": runs, "system_info": llama_cpp.llama_print_system_info().decode()}))
"""


def measure(path: str, extra: bool, model: Path, threads: int, gen: int) -> dict:
    """One child process: load, warm up, two measured completions."""
    env = dict(os.environ)
    if path != "venv":
        env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", CHILD, str(model), str(threads), "1" if extra else "0", PROMPT,
                           str(gen)], capture_output=True, text=True, env=env)  # fmt: skip
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def git_commit() -> str:
    """The checkout's commit (with -dirty when it has changes)."""
    out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip()


def main() -> None:
    """Run the rounds, print the table, save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", required=True,
                        help="NAME=PATH[:no-extra]; PATH is a llama-cpp-python install dir or 'venv'")
    parser.add_argument("--model", default="local", choices=sorted(LOCAL_MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gen", type=int, default=128, help="tokens to generate per completion")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/llama_build_speed.json")
    ns = parser.parse_args()
    variants = []
    for spec in ns.variant:
        name, _, rest = spec.partition("=")
        path, _, flag = rest.partition(":")
        variants.append((name, path, flag != "no-extra"))
    model = ensure_model(LOCAL_MODELS[ns.model], default_cache_dir())
    samples: dict[str, list[dict]] = {name: [] for name, _, _ in variants}
    infos: dict[str, str] = {}
    start = time.perf_counter()
    for round_ in range(ns.rounds):
        for name, path, extra in variants:
            result = measure(path, extra, model, ns.threads, ns.gen)
            if "error" in result:
                print(f"round {round_ + 1} {name}: {result['error']}", flush=True)
                samples[name].append(result)
                continue
            infos[name] = result["system_info"]
            for run in result["runs"]:
                samples[name].append({"prompt_tps": run["prompt_tokens"] / run["prompt_ms"] * 1000,
                                      "gen_tps": run["gen_tokens"] / run["gen_ms"] * 1000, **run})  # fmt: skip
            last = samples[name][-1]
            print(f"round {round_ + 1} {name:24} prompt {last['prompt_tps']:6.1f} tok/s  "
                  f"generation {last['gen_tps']:5.1f} tok/s", flush=True)  # fmt: skip
    rows = []
    for name, path, extra in variants:
        ok = [s for s in samples[name] if "prompt_tps" in s]
        row = {"variant": name, "path": path, "extra_buffers": extra, "crashed": len(ok) < len(samples[name]),
               "compiled": sorted(compiled_features(infos.get(name, ""))), "runs": len(ok)}  # fmt: skip
        if ok:
            row["prompt_tps"] = round(statistics.median(s["prompt_tps"] for s in ok), 1)
            row["gen_tps"] = round(statistics.median(s["gen_tps"] for s in ok), 1)
        rows.append(row)
    base = rows[0]
    print(f"\n{ns.model} model, {ns.threads} threads, {ns.rounds} rounds x 2 runs, medians; ratio to {base['variant']}")
    print(f"{'variant':24} {'prompt tok/s':>12} {'ratio':>6} {'gen tok/s':>10} {'ratio':>6}  compiled for")
    for row in rows:
        if "prompt_tps" not in row:
            print(f"{row['variant']:24} {'crashed':>12}")
            continue
        pr = row["prompt_tps"] / base["prompt_tps"] if "prompt_tps" in base else float("nan")
        gr = row["gen_tps"] / base["gen_tps"] if "gen_tps" in base else float("nan")
        print(f"{row['variant']:24} {row['prompt_tps']:12.1f} {pr:6.2f} {row['gen_tps']:10.1f} {gr:6.2f}  "
              f"{' '.join(f for f in row['compiled'] if f not in ('LLAMAFILE', 'OPENMP', 'REPACK'))}"
              f"{' +repack' if 'REPACK' in row['compiled'] and row['extra_buffers'] else ''}")  # fmt: skip
    cpu_name = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), platform.processor())  # fmt: skip
    flags = sorted(f for f in cpu_flags() if f.startswith(("avx", "amx", "fma", "f16c", "bmi")))
    report = {"commit": git_commit(), "model": ns.model, "threads": ns.threads, "gen_tokens": ns.gen,
              "rounds": ns.rounds, "cpu": cpu_name, "cpu_flags": flags, "seconds": round(time.perf_counter() - start),
              "rows": rows}  # fmt: skip
    ns.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {ns.out}")


if __name__ == "__main__":
    main()
