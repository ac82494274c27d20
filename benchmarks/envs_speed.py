"""Steps per second of each adapter next to its raw environment, and a random-agent baseline per preset.

For every adapter preset this script

1. times random valid actions on the raw third-party environment and on the adapter, in the same run and
   on the same JVM (the adapter's own simulator is driven directly for the raw figure), with the same
   test seeds and RNG, in alternating blocks after an untimed warm-up, and reports the overhead ratio
   (raw steps/s divided by adapter steps/s; 1.0 means no overhead). Only ``step`` calls are timed. The
   raw valid actions are sorted like the adapter's so both walk the same trajectory;
2. runs a random agent (uniform over the valid actions, at most 30 steps) on ``--episodes`` test-split
   episodes and reports its success rate and mean final score.

reasoning-gym has no action list: raw = build the item and score an answer, adapter = reset + step, and
its "random agent" answers a random integer 0-100. ScienceWorld speed is measured on the first task of
each preset (all tasks run the same simulator) with ``--steps / 5`` steps. Run:

    python benchmarks/envs_speed.py --steps 400 --episodes 20 --out benchmarks/results/envs_speed.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

import envs  # noqa: E402
from envs.reasoning import PRESETS as RG_PRESETS  # noqa: E402
from envs.scienceworld import PRESETS as SW_PRESETS  # noqa: E402
from envs.scienceworld import SHORT_TASKS  # noqa: E402
from envs.textworld import FOLDS, GAMES  # noqa: E402

RANDOM_STEPS = 30
"""Step limit of the random agent's episodes."""

Reset = Callable[[int], list[str]]
Step = Callable[[str], tuple[list[str], bool]]


def _timed_loop(n_steps: int, reset: Reset, step: Step, seeds: list[int], rng_seed: int) -> float:
    """Take ``n_steps`` random valid actions (next seed when done); return the seconds spent in step."""
    rng = random.Random(rng_seed)
    seed_iter = iter(seeds * (n_steps + 1))
    valid = reset(next(seed_iter))
    elapsed = 0.0
    for _ in range(n_steps):
        action = rng.choice(valid) if valid else "look around"
        t0 = time.perf_counter()
        valid, done = step(action)
        elapsed += time.perf_counter() - t0
        if done or not valid:
            valid = reset(next(seed_iter))
    return elapsed


def _side_by_side(
    n_steps: int,
    warmup: int,
    raw: tuple[Reset, Step],
    adapter: tuple[Reset, Step],
    seeds: list[int],
    rng_seed: int,
    blocks: int = 8,
) -> tuple[float, float]:
    """Steps/s of raw and adapter, measured in alternating blocks with the same seeds and RNG."""
    _timed_loop(warmup, *raw, seeds, rng_seed)
    _timed_loop(warmup, *adapter, seeds, rng_seed)
    per = max(n_steps // blocks, 1)
    raw_s = ad_s = 0.0
    for b in range(blocks):
        raw_s += _timed_loop(per, *raw, seeds, rng_seed + b)
        ad_s += _timed_loop(per, *adapter, seeds, rng_seed + b)
    total = per * blocks
    return total / raw_s, total / ad_s


def _adapter_fns(env: envs.Env) -> tuple[Reset, Step]:
    def reset(seed: int) -> list[str]:
        return list(env.reset(seed=seed).valid_actions)

    def step(action: str) -> tuple[list[str], bool]:
        res = env.step(action)
        return list(res.valid_actions), res.done

    return reset, step


def _random_agent(
    env: envs.Env, seeds: list[int], rng_seed: int, answer_space: bool = False
) -> dict[str, float]:
    """Uniform random valid actions (or random integers) for at most RANDOM_STEPS steps per episode."""
    rng = random.Random(rng_seed)
    wins, scores = 0, []
    for seed in seeds:
        obs = env.reset(seed=seed)
        valid = obs.valid_actions
        res = None
        for _ in range(RANDOM_STEPS):
            action = str(rng.randint(0, 100)) if answer_space or not valid else rng.choice(valid)
            res = env.step(action)
            valid = res.valid_actions
            if res.done:
                break
        wins += int(bool(res and res.success))
        scores.append(res.score if res else 0.0)
    return {"episodes": len(seeds), "success_rate": wins / len(seeds), "mean_score": statistics.fmean(scores)}


def bench_twx(args: argparse.Namespace) -> list[dict[str, Any]]:
    """TextWorldExpress: every game and preset."""
    rows = []
    seeds = list(FOLDS["test"])[: max(args.episodes, 5)]
    for game, spec in GAMES.items():
        for preset in spec.presets:
            env = envs.make(f"twx-{game}", split="test", preset=preset, max_steps=10_000)
            raw = env.raw  # type: ignore[attr-defined]

            def raw_reset(seed: int, raw: Any = raw) -> list[str]:
                _obs, infos = raw.reset(seed=seed, gameFold="test", generateGoldPath=False)
                return sorted(infos["validActions"])

            def raw_step(action: str, raw: Any = raw) -> tuple[list[str], bool]:
                _o, _r, _d, infos = raw.step(action)
                return sorted(infos["validActions"]), bool(infos["tasksuccess"] or infos["taskfailure"])

            raw_sps, ad_sps = _side_by_side(
                args.steps, args.warmup, (raw_reset, raw_step), _adapter_fns(env), seeds, args.seed
            )
            env.max_steps = RANDOM_STEPS
            base = _random_agent(env, seeds[: args.episodes], args.seed)
            env.close()
            rows.append(_row(f"twx-{game}", preset, raw_sps, ad_sps, base))
            _print_row(rows[-1])
    return rows


def bench_sciworld(args: argparse.Namespace) -> list[dict[str, Any]]:
    """ScienceWorld: speed on the first task per preset; random agent on every short task and preset."""
    rows = []
    tasks = args.sciworld_tasks or list(SHORT_TASKS)
    for preset, simp in SW_PRESETS.items():
        for n, task in enumerate(tasks):
            env = envs.make(f"sciworld-{task}", split="test", preset=preset, max_steps=10_000)
            seeds = list(env.seeds())[: max(args.sciworld_episodes, 3)]
            raw_sps = ad_sps = float("nan")
            if n == 0:
                raw = env.raw  # type: ignore[attr-defined]

                def raw_reset(seed: int, raw: Any = raw, task: str = task, simp: str = simp) -> list[str]:
                    raw.load(task, seed, simp, generateGoldPath=False)
                    _obs, info = raw.reset()
                    return sorted(info["valid"])

                def raw_step(action: str, raw: Any = raw) -> tuple[list[str], bool]:
                    _o, _r, done, info = raw.step(action)
                    return sorted(info["valid"]), bool(done)

                raw_sps, ad_sps = _side_by_side(
                    max(args.steps // 5, 20), 10, (raw_reset, raw_step), _adapter_fns(env), seeds, args.seed
                )
            env.max_steps = RANDOM_STEPS
            base = _random_agent(env, seeds[: args.sciworld_episodes], args.seed)
            env.close()
            rows.append(_row(f"sciworld-{task}", preset, raw_sps, ad_sps, base))
            _print_row(rows[-1])
    return rows


def bench_rg(args: argparse.Namespace) -> list[dict[str, Any]]:
    """reasoning-gym: one-step episodes; raw = build the item and score an answer."""
    import reasoning_gym

    rows = []
    for name, presets in RG_PRESETS.items():
        for preset, config in presets.items():
            seeds = list(range(2_000_000, 2_000_000 + args.steps))
            env = envs.make(f"rg-{name}", split="test", preset=preset)
            for s in seeds[:20]:  # untimed warm-up of both paths (lazy imports, caches)
                data = reasoning_gym.create_dataset(name, seed=s, size=1, **config)
                data.score_answer("0", data[0])
                env.reset(seed=s)
                env.step("0")
            raw_s = ad_s = 0.0
            for start in range(0, len(seeds), 50):  # alternating blocks of 50 episodes
                block = seeds[start : start + 50]
                t0 = time.perf_counter()
                for s in block:
                    data = reasoning_gym.create_dataset(name, seed=s, size=1, **config)
                    data.score_answer("0", data[0])
                t1 = time.perf_counter()
                for s in block:
                    env.reset(seed=s)
                    env.step("0")
                ad_s += time.perf_counter() - t1
                raw_s += t1 - t0
            base = _random_agent(env, seeds[: args.episodes], args.seed, answer_space=True)
            rows.append(
                _row(
                    f"rg-{name}",
                    preset,
                    len(seeds) / raw_s,
                    len(seeds) / ad_s,
                    base,
                    note="episodes (reset+step) per second",
                )
            )
            _print_row(rows[-1])
    return rows


def _row(
    env_id: str, preset: str, raw_sps: float, ad_sps: float, base: dict[str, float], note: str = ""
) -> dict[str, Any]:
    ratio = raw_sps / ad_sps if ad_sps == ad_sps and ad_sps > 0 else float("nan")
    return {
        "env_id": env_id,
        "preset": preset,
        "raw_steps_per_s": raw_sps,
        "adapter_steps_per_s": ad_sps,
        "overhead_ratio": ratio,
        **{f"random_{k}": v for k, v in base.items()},
        "note": note,
    }


def _fmt(x: float, spec: str = ",.1f") -> str:
    return "-" if x != x else format(x, spec)


def _print_row(r: dict[str, Any]) -> None:
    print(
        f"{r['env_id']:<46} {r['preset']:<7} {_fmt(r['raw_steps_per_s']):>10} "
        f"{_fmt(r['adapter_steps_per_s']):>10} {_fmt(r['overhead_ratio'], '.2f'):>8} "
        f"{r['random_success_rate']:>8.2f} {r['random_mean_score']:>8.2f} {r['random_episodes']:>5}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the selected families, print the table and save JSON."""
    p = argparse.ArgumentParser(
        description="Adapter steps/s vs raw environments, and random-agent baselines."
    )
    p.add_argument("--steps", type=int, default=400, help="timed random steps per preset (ScienceWorld: /5)")
    p.add_argument("--warmup", type=int, default=200, help="untimed warm-up steps (ScienceWorld: 10)")
    p.add_argument("--episodes", type=int, default=20, help="random-agent test episodes per preset")
    p.add_argument(
        "--sciworld-episodes", type=int, default=5, help="random-agent episodes per ScienceWorld task"
    )
    p.add_argument(
        "--sciworld-tasks", nargs="*", default=None, help="ScienceWorld tasks (default: all short ones)"
    )
    p.add_argument(
        "--families", nargs="*", default=["twx", "rg", "sciworld"], choices=["twx", "sciworld", "rg"]
    )
    p.add_argument("--seed", type=int, default=0, help="RNG seed of the random actions")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/envs_speed.json"))
    args = p.parse_args(argv)
    print(
        f"{'env':<46} {'preset':<7} {'raw st/s':>10} {'adapt st/s':>10} {'overhead':>8} "
        f"{'rnd succ':>8} {'rnd scr':>8} {'eps':>5}"
    )
    rows: list[dict[str, Any]] = []
    started = time.time()
    if "twx" in args.families:
        rows += bench_twx(args)
    if "rg" in args.families:
        rows += bench_rg(args)
    if "sciworld" in args.families:
        rows += bench_sciworld(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "seconds": time.time() - started,
        "rows": rows,
    }
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"saved {args.out} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
