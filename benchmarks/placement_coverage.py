"""How many placements of held-out games memory knows: exactly, by analogy, or by likeness (right or wrong).

Reads what a bench's training earned — from its memory bank, by the rule the agent retrieves with
(:func:`agent.families.textworld.facts.earned_anywhere`: earned points and never lost any; this includes placings STaR
correction wrote from gold paths), or from its ``episodes.jsonl`` (training episodes only) when the bank is not
at hand — replays the gold path of each held-out game and, at every gold placing, asks the agent's own code
what memory would do with the actions offered there: a placing of that very object that earned points
(exact), :func:`agent.families.textworld.analogy.analogous` (an alike object), else
:func:`agent.families.textworld.likeness.guess` (the place where the most alike objects went, ranked with the
real embedding model). A guess is right when it is the gold
placing itself; opening or placing anywhere else first is wrong (a later guess may still find it). No model is
called. Gold paths exist on the training fold only, so this checks the in-distribution setting (held-out seeds
500–999).

    tar xzf benchmarks/results/bench-twx-twc-100/memory.tar.gz -C /tmp
    python benchmarks/placement_coverage.py /tmp/memory --seeds 500-559
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

import envs  # noqa: E402
from agent.families.textworld.analogy import analogous  # noqa: E402
from agent.families.textworld.facts import earned_anywhere  # noqa: E402
from agent.families.textworld.grammar import placing  # noqa: E402
from agent.families.textworld.likeness import Likeness, guess  # noqa: E402
from agent.jsonl import json_lines  # noqa: E402
from agent.learning.experience import namespace_for  # noqa: E402
from benchmarks.gold_memory import seed_range  # noqa: E402
from envs.shortlist import after_verb  # noqa: E402
from memory import MemoryBank, MemoryConfig, MemoryKind  # noqa: E402
from memory.embeddings import Embedder  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "placement_coverage.json"
KINDS = ("exact", "alike", "likeness right", "likeness wrong", "unknown")


def earned_placings(episodes: Path) -> set[str]:
    """The placing actions training episodes of ``episodes`` earned points with (never lost with)."""
    earned: set[str] = set()
    lost: set[str] = set()
    for _, row in json_lines(episodes):
        if row.get("tag") != "train":
            continue
        for step in row.get("steps", []):
            if placing(step["action"]) is not None and step.get("reward", 0) != 0:
                (earned if step["reward"] > 0 else lost).add(step["action"])
    return earned - lost


def bank_placings(memory_dir: Path, env_id: str) -> set[str]:
    """The placing actions the bank in ``memory_dir`` says earned points in ``env_id`` (and never lost any)."""
    with MemoryBank(MemoryConfig(path=memory_dir)) as bank:
        facts = bank.memories(kinds=[MemoryKind.FACT], namespace=namespace_for(env_id))
    return {a for a in earned_anywhere(facts) if placing(a) is not None}


def classify(action: str, offered: list[str], earned: set[str], likeness: Likeness) -> tuple[str, str | None]:
    """What memory does with the gold placing ``action`` when ``offered`` are the valid actions before it, and
    the step a likeness guess takes (None for the other kinds)."""
    if action in earned:
        return "exact", None
    if action in analogous(offered, earned):
        return "alike", None
    guessed = guess(likeness, offered)
    if guessed is None:
        return "unknown", None
    return ("likeness right" if guessed == action else "likeness wrong"), guessed


def guess_cosine(action: str, guessed: str, likeness: Likeness) -> float:
    """The cosine that ranked the place of ``guessed`` (a placing, or opening its place) for the object of the
    gold placing ``action``."""
    p, g = placing(action), placing(guessed)
    assert p is not None
    place = g.place if g is not None else after_verb(guessed)
    return dict(likeness.places(p.obj))[place]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a bench's memory directory (what the agent retrieves), or its "
                        "episodes.jsonl (its training episodes are read)")  # fmt: skip
    parser.add_argument("--env", default="twx-twc")
    parser.add_argument("--seeds", type=seed_range, default=range(500, 560), help="held-out seeds, FIRST-LAST")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.source.is_dir():
        earned = bank_placings(args.source, args.env)
    elif args.source.is_file():
        earned = earned_placings(args.source)
    else:
        parser.error(f"{args.source} is neither a directory nor a file; give a bench's memory directory or its "
                     f"episodes.jsonl (runs/bench-ENV/memory, runs/bench-ENV/episodes.jsonl)")  # fmt: skip
    likeness = Likeness(earned, Embedder.shared().embed)
    counts: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    with envs.make(args.env, split="train", preset="easy") as env:  # gold paths exist on the training fold only
        for seed in args.seeds:
            offered = list(env.reset(seed=seed).valid_actions)
            for action in env.gold_actions() or []:
                if placing(action) is not None:
                    kind, guessed = classify(action, offered, earned, likeness)
                    counts[kind] += 1
                    row: dict[str, Any] = {"seed": seed, "gold": action, "memory": kind}
                    if guessed is not None:
                        row.update(guess=guessed, cosine=round(guess_cosine(action, guessed, likeness), 3))
                    rows.append(row)
                result = env.step(action)
                offered = list(result.valid_actions)
    total = sum(counts.values())
    print(f"{args.env} seeds {args.seeds.start}-{args.seeds.stop - 1}: {total} gold placements; "
          f"memory from {len(earned)} placings training earned ({args.source})")  # fmt: skip
    for kind in KINDS:
        cosines = [row["cosine"] for row in rows if row["memory"] == kind and "cosine" in row]
        spread = f"   cosine of the guess {min(cosines):.2f}-{max(cosines):.2f}" if cosines else ""
        print(f"  {kind:15} {counts[kind]:3}{spread}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"env": args.env, "seeds": [args.seeds.start, args.seeds.stop - 1],
               "source": str(args.source), "earned_placings": len(earned), "placements": total,
               "counts": {kind: counts[kind] for kind in KINDS}, "rows": rows}  # fmt: skip
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
