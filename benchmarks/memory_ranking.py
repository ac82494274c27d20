"""How well memory alone picks the next action, without any model: the TextWorld rule code against the general
valuation (:mod:`agent.core.valuation`, recalled without a family plug-in), on the gold paths of held-out development
games.

A memory bank is built from the gold paths of training seeds (what STaR correction writes), or given with
``--memory-dir``. Each held-out game's gold path is replayed; before every gold step both mechanisms name the
untried action they would take without the model: the TextWorld rules (the first untried offered action of
``MemoryContext.rewarded_actions``, as ``FollowMemory`` takes it) and the general valuation (the best untried
action whose certain value is at least ``--theta``, as ``FollowValue`` takes it; large action spaces are valued on
the environment's shortlist). A pick is *good* when it is one of the game's remaining gold actions,
*bad* otherwise; a bad pick is counted once per game (played, it would cost one step and be spent). Only development
seeds are used (:mod:`agent.bench.seeds`).

    python benchmarks/memory_ranking.py twx-cookingworld --train 30 --test 10
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

import envs  # noqa: E402
from agent.bench.seeds import held_out, training_seeds  # noqa: E402
from agent.core.episode import replay_actions  # noqa: E402
from agent.core.family import GENERAL, Family  # noqa: E402
from agent.core.state import ActorConfig  # noqa: E402
from agent.families.textworld.plugin import TextWorld  # noqa: E402
from agent.learning.experience import experience_inputs, namespace_for  # noqa: E402
from agent.learning.recall import retrieve_context  # noqa: E402
from memory import MemoryBank, MemoryConfig, MemoryKind  # noqa: E402

SHOWN = ActorConfig().max_actions_shown
"""Large action spaces are valued on the environment's shortlist, as the agent offers them."""


def build_bank(env: envs.Env, env_id: str, seeds: list[int], path: Path, *, family: Family) -> MemoryBank:
    """A bank of the gold paths of ``seeds`` (what the loop's STaR correction writes, with or without the TextWorld
    plug-in's how-to and kept facts), in ``path``."""
    bank = MemoryBank(MemoryConfig(path=path))
    for seed in seeds:
        episode = replay_actions(env, seed, episode_id=f"gold-{env_id}-{seed}")
        if episode.success:
            bank.insert_many(experience_inputs(episode, namespace_for(env_id), corrected=True, family=family))
    return bank


def rank(env: envs.Env, env_id: str, bank: MemoryBank, plain: MemoryBank, seeds: list[int],
         theta: float) -> dict[str, object]:  # fmt: skip
    """Replay the gold paths of ``seeds`` and count each mechanism's good and bad picks: the rules reading
    ``bank`` (written with the TextWorld plug-in), the general valuation reading ``plain`` (written without)."""
    namespace = namespace_for(env_id)
    counts = {"gold_steps": 0, "rules_good": 0, "rules_bad": 0, "general_good": 0, "general_bad": 0}
    seconds = 0.0
    for seed in seeds:
        wrong: dict[str, set[str]] = {"rules": set(), "general": set()}  # a wrong pick costs one step per game
        obs = env.reset(seed=seed)
        gold = env.gold_actions() or []
        valid, observation, seen, tried = list(obs.valid_actions), obs.text, f"{obs.task}\n{obs.text}", set()
        for index, action in enumerate(gold):
            remaining = set(gold[index:])
            context = retrieve_context(bank, task=obs.task, observation=observation, namespace=namespace,
                                       kinds=[MemoryKind.FACT], record=False, seen=seen,
                                       family=TextWorld())  # fmt: skip
            start = time.perf_counter()
            general = retrieve_context(plain, task=obs.task, observation=observation, namespace=namespace,
                                       kinds=[MemoryKind.FACT], record=False, seen=seen)  # fmt: skip
            offered = valid if len(valid) <= SHOWN or not hasattr(env, "shortlist") else list(env.shortlist(SHOWN))
            untried = [a for a in offered if a not in tried]
            values = general.valuer.values(untried, seen) if general.valuer else {}
            seconds += time.perf_counter() - start
            counts["gold_steps"] += 1
            rule = next((a for a in valid if a in context.rewarded_actions and a not in tried), None)
            if rule is not None:
                if rule in remaining:
                    counts["rules_good"] += 1
                elif rule not in wrong["rules"]:
                    counts["rules_bad"] += 1
                    wrong["rules"].add(rule)
            certain = {a: v for a, v in values.items() if v.certain}  # what FollowValue acts on
            best = max(certain, key=lambda a: certain[a].score, default=None)
            if best is not None and certain[best].score >= theta:
                if best in remaining:
                    counts["general_good"] += 1
                elif best not in wrong["general"]:
                    counts["general_bad"] += 1
                    wrong["general"].add(best)
            tried.add(action)
            result = env.step(action)
            valid, observation, seen = list(result.valid_actions), result.observation, f"{seen}\n{result.observation}"
    return {**counts, "general_seconds_per_step": round(seconds / max(counts["gold_steps"], 1), 4)}


def main(argv: list[str] | None = None) -> int:
    """Build or open the bank, rank, print and save the counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("env_id")
    parser.add_argument("--preset", default="easy")
    parser.add_argument("--train", type=int, default=30, help="training seeds whose gold paths make the bank")
    parser.add_argument("--test", type=int, default=10, help="development seeds to replay")
    parser.add_argument("--theta", type=float, default=0.5, help="least value the general valuation acts on")
    parser.add_argument("--memory-dir", type=Path, help="use this bank instead of building one")
    parser.add_argument("--keep-banks", type=Path, help="build the two banks in DIR/rules and DIR/general and keep "
                        "them (for `evolve bench --train 0 --memory-dir DIR/general --families none`)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/memory_ranking.json")
    args = parser.parse_args(argv)
    with envs.make(args.env_id, split="train", preset=args.preset) as env, tempfile.TemporaryDirectory() as tmp:
        tmp = str(args.keep_banks or tmp)
        fold = list(env.seeds())
        train = training_seeds(fold, args.train)
        bank = (MemoryBank(MemoryConfig(path=args.memory_dir)) if args.memory_dir
                else build_bank(env, args.env_id, train, Path(tmp) / "rules", family=TextWorld()))  # fmt: skip
        plain = (bank if args.memory_dir
                 else build_bank(env, args.env_id, train, Path(tmp) / "general", family=GENERAL))  # fmt: skip
        try:
            seeds = held_out(fold, "in", "dev", args.test)
            counts = rank(env, args.env_id, bank, plain, seeds, args.theta)
        finally:
            bank.close()
            if plain is not bank:
                plain.close()
    row = {"env_id": args.env_id, "preset": args.preset, "train": args.train, "seeds": [seeds[0], seeds[-1]],
           "theta": args.theta, **counts}  # fmt: skip
    print(json.dumps(row))
    saved = json.loads(args.out.read_text()) if args.out.is_file() else []
    saved = [r for r in saved if (r["env_id"], r["preset"], r["train"]) != (args.env_id, args.preset, args.train)]
    args.out.write_text(json.dumps([*saved, row], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
