"""LoCoMo retrieval benchmark: recall@k of evidence turns, memory bank vs plain baselines, same run.

Every turn of each conversation becomes one memory (its provenance is exactly its ``dia_id``); for each
question, recall@k is the share of its evidence turns among the top-k memories. Categories 1-4 are
averaged ("overall"); category 5 (adversarial) is reported apart. The dataset's summaries, observations
and event annotations are never read (the loader in ``envs.conversation`` skips them).

Baselines over the raw turns ("Speaker: text" plus a shared photo's caption, the memory text):
dense cosine, BM25, their reciprocal-rank fusion, and BM25 over each turn with its preceding turn and
the session date. The bank runs in its DEFAULT configuration. Ablations (``--ablations``) switch off
one part of the bank at a time.

Usage: .venv/bin/python benchmarks/locomo_retrieval.py --data ../shared/data/locomo-dev
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.evals.locomo import to_dialogue  # noqa: E402
from envs.conversation import load_locomo  # noqa: E402
from memory import MemoryBank, MemoryConfig  # noqa: E402
from memory.dialogue import (  # noqa: E402
    CATEGORY_NAMES,
    RetrievalReport,
    bank_rankings,
    baseline_rankings,
    ingest_dialogue,
    score_rankings,
    turn_text,
)
from memory.embeddings import Embedder  # noqa: E402

BASELINES = ("dense", "bm25", "dense+bm25", "bm25-context")
ABLATIONS: dict[str, dict[str, Any]] = {
    "bank: dense only (no BM25)": {"hybrid": False},
    "bank: no neighbour boost": {"neighbor_boost": 0.0},
    "bank: relevance only (no recency/retention/...)": {
        "weights": {"relevance": 1.0, "recency": 0.0, "importance": 0.0, "retention": 0.0, "utility": 0.0}
    },
}


def merge(reports: list[RetrievalReport], weights: list[dict[int, int]]) -> RetrievalReport:
    """Question-weighted average of per-conversation reports."""
    out = RetrievalReport(reports[0].method, reports[0].ks)
    cats = sorted({c for r in reports for c in r.by_category})
    for c in cats:
        n = sum(w.get(c, 0) for w in weights)
        out.questions[c] = n
        out.by_category[c] = {
            k: sum(r.by_category.get(c, {}).get(k, 0.0) * w.get(c, 0) for r, w in zip(reports, weights, strict=True))
            / max(n, 1)
            for k in out.ks
        }
    main = [c for c in cats if c in (1, 2, 3, 4)]
    total = sum(out.questions[c] for c in main)
    for k in out.ks:
        out.recall[k] = sum(out.by_category[c][k] * out.questions[c] for c in main) / max(total, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "locomo-dev"))
    parser.add_argument("--ks", default="5,10,20")
    parser.add_argument("--ablations", action="store_true", help="also run the bank with parts switched off")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "locomo_retrieval.json"))
    args = parser.parse_args()
    ks = tuple(int(k) for k in args.ks.split(","))
    convs = load_locomo(args.data)
    embedder = Embedder.shared()
    per_method: dict[str, list[RetrievalReport]] = {}
    weights: list[dict[int, int]] = []
    timings: dict[str, float] = {}
    for conv in convs:
        turns, questions = to_dialogue(conv)
        t0 = time.perf_counter()
        turn_vecs = embedder.embed([turn_text(t) for t in turns])
        q_vecs = embedder.embed([q.question for q in questions])
        timings["embed_s"] = timings.get("embed_s", 0.0) + time.perf_counter() - t0
        for method in BASELINES:
            rankings = baseline_rankings(method, turns, questions, turn_vectors=turn_vecs, question_vectors=q_vecs)
            per_method.setdefault(f"baseline: {method}", []).append(score_rankings(method, rankings, questions, ks))
        now = max(t.timestamp for t in turns) + 86_400.0
        namespace = f"user:locomo-{conv.conv_id}"
        with tempfile.TemporaryDirectory() as tmp:
            variants: dict[str, dict[str, Any]] = {"memory bank (default config)": {}}
            if args.ablations:
                variants.update(ABLATIONS)
            t0 = time.perf_counter()
            with MemoryBank(MemoryConfig(path=Path(tmp))) as bank:
                ingest_dialogue(bank, turns, namespace, embeddings=turn_vecs)
            timings["ingest_s"] = timings.get("ingest_s", 0.0) + time.perf_counter() - t0
            for name, overrides in variants.items():
                with MemoryBank(MemoryConfig(path=Path(tmp), **overrides)) as bank:
                    t0 = time.perf_counter()
                    rankings = bank_rankings(bank, questions, namespace, max(ks), now=now)
                    if not overrides:
                        timings["bank_query_ms"] = 1000 * (time.perf_counter() - t0) / max(1, len(questions))
                per_method.setdefault(name, []).append(score_rankings(name, rankings, questions, ks))
        weights.append(per_method["baseline: dense"][-1].questions)
    results = {name: merge(reps, weights) for name, reps in per_method.items()}
    header = (
        f"{'method':50s} "
        + " ".join(f"R@{k:<5d}" for k in ks)
        + "  "
        + " ".join(f"c{c}@{ks[1] if len(ks) > 1 else ks[0]:<4d}" for c in (1, 2, 3, 4, 5))
    )
    print(f"LoCoMo retrieval on {args.data} ({len(convs)} conversations); overall = categories 1-4")
    print(header)
    print("-" * len(header))
    kmid = ks[1] if len(ks) > 1 else ks[0]
    for name, rep in results.items():
        cats = " ".join(f"{rep.by_category.get(c, {}).get(kmid, float('nan')):<7.3f}" for c in (1, 2, 3, 4, 5))
        print(f"{name:50s} " + " ".join(f"{rep.recall[k]:<7.3f}" for k in ks) + "  " + cats)
    n = results["baseline: dense"].questions
    print("questions per category: " + ", ".join(f"{c} {CATEGORY_NAMES[c]}: {n.get(c, 0)}" for c in sorted(n)))
    print(f"timings: {json.dumps({k: round(v, 2) for k, v in timings.items()})}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "data": args.data,
        "conversations": [c.conv_id for c in convs],
        "ks": list(ks),
        "methods": {name: rep.to_dict() for name, rep in results.items()},
        "timings": timings,
        "embedder": "all-MiniLM-L6-v2",
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    out.write_text(json.dumps(payload, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
