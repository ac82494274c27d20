"""Memory bank speed: insert throughput, retrieve latency and forget sweep, against raw Chroma, same run.

For each size N (default 1k, 10k, 100k) the script builds N memories from a pool of ~2k distinct
synthetic sentences embedded once (each memory: a pool sentence plus a number, its vector the pool
vector plus a small perturbation), inserts them with precomputed vectors into a fresh bank and into a
raw Chroma collection, then times ~200 queries on both. Both query timings include embedding the query
text; the bank's also include BM25, scoring, token packing and the recall-statistics write. The figure
of merit is the overhead ratio bank p50 / raw Chroma p50. Finally a forget sweep runs over the bank
(creation dates spread over 90 days, so part of it decays) and is timed; it calls no model. A sweep
that archives more than ``forget_inline_deletes`` (2,000) memories leaves the Chroma deletions to
``bank.sync()``: the sweep's time is what a caller waits for; retrieval right after it (archived vectors
still in the index) is timed and checked to return no archived memory; then ``sync()`` is timed apart. Last,
the bank is reopened (the open compares counts per collection with the ledger) and checked in full
(:meth:`MemoryBank.check` reads every row and every index id), both timed.

Usage: .venv/bin/python benchmarks/memory_speed.py [--sizes 1000,10000,100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memory import MemoryBank, MemoryConfig, MemoryInput, MemoryKind  # noqa: E402
from memory.embeddings import Embedder  # noqa: E402
from memory.scoring import DAY  # noqa: E402

OBJECTS = ["blender", "apple", "milk", "key", "lamp", "book", "knife", "plate", "towel", "shoe", "coin", "mug",
           "red potion", "map", "rope", "candle", "hammer", "sock", "carrot", "clock"]  # fmt: skip
PLACES = ["counter", "fridge", "drawer", "shelf", "table", "sofa", "cupboard", "sink", "bed", "box"]
ROOMS = ["kitchen", "bedroom", "pantry", "garage", "hallway", "attic", "bathroom", "garden", "cellar", "study"]
VERBS = ["put", "found", "took", "dropped", "cleaned"]
NAMESPACE = "env:bench"


def pool_texts(n: int) -> list[str]:
    """``n`` distinct synthetic experience sentences."""
    combos = itertools.product(VERBS, OBJECTS, PLACES, ROOMS)
    out = []
    for verb, obj, place, room in combos:
        out.append(f"In the {room}, I {verb} the {obj} on the {place}.")
        if len(out) == n:
            break
    return out


def query_texts(n: int, rng: np.random.Generator) -> list[str]:
    """Questions an agent might ask its memory."""
    forms = ["where is the {o}?", "what happened to the {o} in the {r}?", "which {p} holds the {o}?"]
    return [
        rng.choice(forms).format(o=rng.choice(OBJECTS), r=rng.choice(ROOMS), p=rng.choice(PLACES)) for _ in range(n)
    ]


def build(size: int, texts: list[str], vectors: np.ndarray, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """``size`` memory texts and perturbed unit vectors built from the pool."""
    idx = np.arange(size) % len(texts)
    out_texts = [f"{texts[i]} (note {n})" for n, i in enumerate(idx)]
    vecs = vectors[idx] + 0.05 * rng.normal(size=(size, vectors.shape[1])).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return out_texts, vecs.astype(np.float32)


def percentile(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p)) * 1000.0


def run_size(size: int, texts: list[str], vectors: np.ndarray, queries: list[str], embedder: Embedder,
             seed: int) -> dict[str, Any]:  # fmt: skip
    import chromadb
    from chromadb.config import Settings

    rng = np.random.default_rng(seed)
    mem_texts, mem_vecs = build(size, texts, vectors, rng)
    now = time.time()
    created = now - rng.uniform(0, 90, size=size) * DAY
    result: dict[str, Any] = {"size": size}
    with tempfile.TemporaryDirectory() as tmp:
        # -- insert -------------------------------------------------------------------------------------
        bank = MemoryBank(MemoryConfig(path=Path(tmp) / "bank"))
        t0 = time.perf_counter()
        for start in range(0, size, 1000):
            items = [MemoryInput(text=mem_texts[i], namespace=NAMESPACE, created_at=float(created[i]))
                     for i in range(start, min(size, start + 1000))]  # fmt: skip
            bank.insert_many(items, embeddings=mem_vecs[start : start + len(items)])
        result["bank_insert_per_s"] = size / (time.perf_counter() - t0)
        client = chromadb.PersistentClient(path=str(Path(tmp) / "raw"), settings=Settings(anonymized_telemetry=False))
        col = client.get_or_create_collection("raw-bench", configuration={"hnsw": {"space": "cosine"}},
                                              embedding_function=None)  # fmt: skip
        t0 = time.perf_counter()
        for start in range(0, size, 1000):
            stop = min(size, start + 1000)
            col.add(ids=[f"m{i}" for i in range(start, stop)], embeddings=mem_vecs[start:stop],
                    documents=mem_texts[start:stop],
                    metadatas=[{"kind": "experience", "namespace": NAMESPACE, "created_at": float(created[i])}
                               for i in range(start, stop)])  # fmt: skip
        result["raw_insert_per_s"] = size / (time.perf_counter() - t0)
        # -- retrieve (interleaved so both see the same machine load) ---------------------------------------
        t0 = time.perf_counter()
        bank.retrieve(queries[0], k=10, kinds=[MemoryKind.EXPERIENCE], namespace=NAMESPACE)  # builds BM25 lazily
        result["first_query_with_index_build_ms"] = 1000 * (time.perf_counter() - t0)
        bank_t, raw_t = [], []
        for q in queries:
            t0 = time.perf_counter()
            hits = bank.retrieve(q, k=10, kinds=[MemoryKind.EXPERIENCE], namespace=NAMESPACE)
            bank_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            qv = embedder.embed([q])
            raw = col.query(query_embeddings=qv, n_results=10, include=["documents", "metadatas", "distances"])
            raw_t.append(time.perf_counter() - t0)
            assert len(hits) == 10 and len(raw["ids"][0]) == 10
        result.update(
            bank_p50_ms=percentile(bank_t, 50), bank_p99_ms=percentile(bank_t, 99),
            raw_p50_ms=percentile(raw_t, 50), raw_p99_ms=percentile(raw_t, 99),
        )  # fmt: skip
        result["overhead_p50"] = result["bank_p50_ms"] / result["raw_p50_ms"]
        # -- forget sweep ----------------------------------------------------------------------------------
        report = bank.forget(now=now)
        result["forget_s"] = report.seconds
        result["forget_index_delete_s"] = report.index_seconds
        result["forget_ledger_s"] = report.seconds - report.index_seconds
        result["forget_archived"] = report.archived
        result["forget_index_pending"] = report.index_pending
        result["active_after_forget"] = bank.stats()["active"]
        archived = set(report.decayed) | set(report.low_utility) | set(report.over_capacity)
        after_t, leaked = [], 0
        for q in queries[:50]:
            t0 = time.perf_counter()
            hits = bank.retrieve(q, k=10, kinds=[MemoryKind.EXPERIENCE], namespace=NAMESPACE)
            after_t.append(time.perf_counter() - t0)
            leaked += sum(h.id in archived for h in hits)
        result["retrieve_p50_ms_pending_deletes"] = percentile(after_t, 50)
        result["archived_hits_after_forget"] = leaked
        t0 = time.perf_counter()
        bank.sync()
        result["sync_index_deletes_s"] = time.perf_counter() - t0
        bank.close()
        client.close()
        # -- open (counts per collection compared) beside a full check (every row and index id read) ------------
        opens = []
        for _ in range(3):
            t0 = time.perf_counter()
            bank = MemoryBank(MemoryConfig(path=Path(tmp) / "bank"))
            opens.append(time.perf_counter() - t0)
            bank.close()
        result["open_p50_ms"] = percentile(opens, 50)
        with MemoryBank(MemoryConfig(path=Path(tmp) / "bank")) as bank:
            t0 = time.perf_counter()
            report = bank.check()
            result["check_s"] = time.perf_counter() - t0
            result["check_ok"] = report.ok
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "memory_speed.json"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    embedder = Embedder.shared()
    texts = pool_texts(args.pool)
    t0 = time.perf_counter()
    vectors = embedder.embed(texts)
    print(f"embedded a pool of {len(texts)} texts in {time.perf_counter() - t0:.1f} s")
    queries = query_texts(args.queries, rng)
    embedder.embed(queries[:2])  # warm the query path
    rows = []
    for size in sizes:
        print(f"size {size} ...", flush=True)
        rows.append(run_size(size, texts, vectors, queries, embedder, seed=size))
    header = (
        f"{'N':>7} | {'bank ins/s':>10} | {'raw ins/s':>9} | {'bank p50':>8} | {'bank p99':>8} | "
        f"{'raw p50':>7} | {'raw p99':>7} | {'ratio p50':>9} | {'forget s':>8} | {'(index)':>8} | {'archived':>8} | "
        f"{'p50 after':>9} | {'sync s':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['size']:>7} | {r['bank_insert_per_s']:>10.0f} | {r['raw_insert_per_s']:>9.0f} | "
              f"{r['bank_p50_ms']:>6.1f}ms | {r['bank_p99_ms']:>6.1f}ms | {r['raw_p50_ms']:>5.1f}ms | "
              f"{r['raw_p99_ms']:>5.1f}ms | {r['overhead_p50']:>9.2f} | {r['forget_s']:>8.2f} | "
              f"{r['forget_index_delete_s']:>8.2f} | {r['forget_archived']:>8} | "
              f"{r['retrieve_p50_ms_pending_deletes']:>7.1f}ms | {r['sync_index_deletes_s']:>6.1f}")  # fmt: skip
        if r["archived_hits_after_forget"]:
            print(f"ERROR: {r['archived_hits_after_forget']} archived memories were retrieved after the sweep")
    print("latencies include embedding the query; bank = hybrid dense+BM25, scoring, packing, recall write;")
    print("forget s = whole sweep, (index) = the part of it spent deleting archived vectors from Chroma (inline up to")
    print("2,000 archived, else deferred); p50 after = retrieve right after the sweep; sync s = deferred index deletes")
    for r in rows:
        print(f"size {r['size']}: open {r['open_p50_ms']:.0f} ms (p50 of 3), full check {r['check_s']:.2f} s "
              f"({'clean' if r['check_ok'] else 'NOT CLEAN'})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "queries": args.queries, "pool": len(texts),
                               "created": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=2))  # fmt: skip
    print(f"saved {out}")


if __name__ == "__main__":
    main()
