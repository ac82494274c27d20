"""Build a memory bank from the gold paths of training games only, for ``evolve bench --memory-dir``.

A diagnostic, not the self-evolution loop: it writes what the loop's STaR correction writes when every trial
at a training task failed (the gold path replayed in the real environment, stored as a corrected trajectory
and its facts), for every training seed, without any model. Benching against it separates "does the agent
use good memory well?" from "does training produce good memory?".

    python benchmarks/gold_memory.py twx-cookingworld --seeds 0-29 --out runs/gold-memory-cw
    evolve bench twx-cookingworld --train 0 --test 10 --settings in --ablations none,full \\
        --memory-dir runs/gold-memory-cw --out runs/probe-gold
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import envs
from agent.core.episode import replay_actions
from agent.families.textworld.plugin import TextWorld
from agent.learning.experience import experience_inputs, namespace_for
from memory import MemoryBank, MemoryConfig


def seed_range(text: str) -> range:
    """ "0-29" → range(0, 30); "7" → range(7, 8)."""
    first, _, last = text.partition("-")
    try:
        return range(int(first), int(last or first) + 1)
    except ValueError:
        message = f"--seeds {text!r} is not a seed range; write it as FIRST-LAST, e.g. 0-29"
        raise argparse.ArgumentTypeError(message) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("env_id", help="environment id with gold paths on its train split, e.g. twx-cookingworld")
    parser.add_argument("--preset", default="easy")
    parser.add_argument("--seeds", type=seed_range, default=range(30), help="training seeds, FIRST-LAST (0-29)")
    parser.add_argument("--out", type=Path, required=True, help="memory bank directory (must not hold a bank)")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out} is not empty; give a new directory (an existing bank is never overwritten)")
    namespace = namespace_for(args.env_id)
    written = unsolved = 0
    with envs.make(args.env_id, split="train", preset=args.preset) as env, \
            MemoryBank(MemoryConfig(path=args.out)) as bank:  # fmt: skip
        for seed in args.seeds:
            episode = replay_actions(env, seed, episode_id=f"gold-{args.env_id}-{seed}")
            if not episode.success:  # a gold path longer than the environment's step limit: nothing to learn
                unsolved += 1
                continue
            written += len(bank.insert_many(experience_inputs(episode, namespace, corrected=True, family=TextWorld())))
        counts = {kind: n.get("active", 0) for kind, n in bank.stats()["by_kind"].items()}
    print(f"{args.out}: {written} memories written from {len(args.seeds) - unsolved} gold paths "
          f"({unsolved} did not solve their game); active by kind: {counts}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
