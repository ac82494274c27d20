"""The reading commands of ``evolve memory``: list, show, search, stats, history. None of them changes recall
statistics."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from agent.cli.memory_common import (
    DEFAULT_DIR,
    RETENTION_BINS,
    ChromaOpt,
    DirOpt,
    IdArg,
    KindOpt,
    NsOpt,
    SortChoice,
    StatusChoice,
    flags,
    history_rows,
    history_table,
    kinds_or_all,
    open_bank,
    record_retention,
    when,
)
from agent.cli.options import JsonOpt
from agent.cli.output import plain, print_json, stdout
from agent.text import clip
from memory import MemoryBank, MemoryKind, MemoryRecord, MemoryStatus
from memory.evidence import CITES, part_of
from memory.retrieval import MAX_K

MAX_ROWS = 10_000_000
"""The most rows a listing asks for (SQLite's LIMIT takes no more than a 64-bit integer)."""


def list_command(
    memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, namespace: NsOpt = None, kind: KindOpt = None,
    status: Annotated[StatusChoice, typer.Option(help="Which life-cycle state to show.")] = StatusChoice.active,
    limit: Annotated[int, typer.Option(min=1, max=MAX_ROWS, help="Most memories to show (newest first).")] = 50,
    flagged: Annotated[bool, typer.Option("--flagged", help="Only memories whose text reads as an instruction to "
                                                            "the model (never promoted to rules).")] = False,
    sort: Annotated[SortChoice, typer.Option(help="Order: newest first, or the highest utility (what trials and "
                                                  "the steps that used them earned), votes or recalls first.")]
    = SortChoice.newest,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """List memories, newest first (or by ``--sort``), with kind, namespace, status, flags (FLAGGED, pinned,
    origin), retention and utility."""
    with open_bank(memory_dir, chroma_url) as bank:
        chosen = None if status is StatusChoice.all else MemoryStatus(status.value)
        records = bank.view.memories(kinds_or_all(kind), namespace, chosen, limit, flagged=flagged, order=sort.value)
        now = time.time()
        if as_json:
            print_json({"memories": [{**r.to_dict(), "retention": record_retention(r, now), "utility": r.utility}
                                for r in records], "shown": len(records)})  # fmt: skip
            return
        table = Table(title=f"{len(records)} memories in {memory_dir} ({sort.value} first, at most {limit})")
        table.add_column("id", no_wrap=True, min_width=24)
        for col in ("kind", "namespace", "status", "flags", "retention", "utility", "text"):
            table.add_column(col, overflow="fold")
        for r in records:
            table.add_row(r.id, r.kind.value, r.namespace, r.status.value, flags(r),
                          f"{record_retention(r, now):.2f}", f"{r.utility:.2f}", plain(clip(r.text)))  # fmt: skip
        stdout().print(table)


def show_command(memory_id: IdArg, memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None,
                 as_json: JsonOpt = False) -> None:  # fmt: skip
    """Show one memory in full: text, scores, provenance (sources, evidence memories) and its whole history."""
    with open_bank(memory_dir, chroma_url) as bank:
        record = bank.get(memory_id)
        now = time.time()
        evidence = bank.get_many(list(record.derived_from))
        missing = [i for i in record.derived_from if i not in {e.id for e in evidence}]
        history = history_rows(bank.history(memory_id))
        cited = cited_in(record, {e.id: e for e in evidence})
        trials = bank.trials.of(memory_id)
        provenance = {
            "source_ids": list(record.source_ids), "episode_id": record.episode_id, "thread": record.thread,
            "seq": record.seq, "superseded_by": record.superseded_by,
            "derived_from": [{"id": e.id, "kind": e.kind.value, "status": e.status.value, "text": e.text}
                             for e in evidence],
            "derived_from_missing": missing,
            "cites": [{"id": mid, "part": k, "text": part} for mid, k, part in cited],
        }  # fmt: skip
        if as_json:
            print_json({"record": record.to_dict(), "retention": record_retention(record, now),
                        "utility": record.utility, "provenance": provenance,
                        "trials": [t.to_dict() for t in trials],
                        "history": history})  # fmt: skip
            return
        out = stdout()
        out.print(f"[bold]{record.id}[/]  {record.kind.value} in {record.namespace}, {record.status.value}"
                  + (" (pinned)" if record.pinned else ""))  # fmt: skip
        out.print(plain(record.text))
        if record.meta.get("flagged"):
            out.print(plain(f"FLAGGED: reads as an instruction to the model ({record.meta['flagged']}); never "
                            "promoted to a rule or profile"))  # fmt: skip
        if record.meta.get("origin"):
            out.print(plain(f"origin: {record.meta['origin']}"))
        if record.context:
            out.print(plain(f"keyword context: {record.context}"))
        out.print(f"created {when(record.created_at)}, updated {when(record.updated_at)}; importance "
                  f"{record.importance:.2f}, strength {record.strength:.1f} d, retention "
                  f"{record_retention(record, now):.3f}, recalled {record.recall_count}x (last "
                  f"{when(record.last_recalled_at)}), utility {record.utility:.2f} from {record.utility_count} "
                  f"outcomes, votes {record.votes}", markup=False)  # fmt: skip
        out.print(plain("provenance: sources " + (", ".join(record.source_ids) or "-")
                        + f"; episode {record.episode_id or '-'}; thread {record.thread or '-'} seq "
                        f"{record.seq if record.seq is not None else '-'}; superseded by "
                        f"{record.superseded_by or '-'}"))  # fmt: skip
        for e in evidence:
            out.print(f"  derived from {e.id} ({e.kind.value}, {e.status.value}): {clip(e.text)}", markup=False)
        for gone in missing:
            out.print(plain(f"  derived from {gone} (not in this bank)"))
        for mid, k, part in cited:
            out.print(plain(f"  stands on part {k} of {mid}: {clip(part)}"))
        if record.status is MemoryStatus.CANDIDATE:
            out.print(plain("CANDIDATE: not retrieved until a paired trial shows it does not hurt"))
        for t in trials:
            arms = " | ".join(f"{name}: " + ", ".join(f"{'won' if o.success else 'lost'} {o.score:.2f} in {o.steps}"
                                                      for o in arm)
                              for name, arm in (("with", t.with_rule), ("without", t.without_rule)))  # fmt: skip
            out.print(plain(f"  trial {t.seq} {when(t.ts)}: {t.decision} ({t.verdict}) on seeds {list(t.seeds)}; "
                            f"{arms}; {t.model_calls} model calls, {t.seconds:.0f} s"))  # fmt: skip
        out.print(history_table(f"history of {record.id} ({len(history)} entries)", history))


def search_command(
    query: Annotated[str, typer.Argument(help="What to look for (free text).")],
    k: Annotated[int, typer.Option("--k", min=1, max=MAX_K, help="Most memories to return.")] = 5,
    memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, namespace: NsOpt = None, kind: KindOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Retrieve the best memories for QUERY, with every component of their score (recall stats unchanged)."""
    with open_bank(memory_dir, chroma_url) as bank:
        hits = bank.retrieve(query, k=k, kinds=kinds_or_all(kind), namespace=namespace, record=False)
        if as_json:
            print_json({"query": query, "hits": [{"rank": i, "id": h.id, "score": h.score, "parts": asdict(h.parts),
                                             "tokens": h.tokens, "record": h.record.to_dict()}
                                            for i, h in enumerate(hits, start=1)]})  # fmt: skip
            return
        table = Table(title=plain(f"{len(hits)} memories for {query!r} (score = weighted parts; higher is better)"))
        table.add_column("#")
        table.add_column("id", no_wrap=True, min_width=24)
        for col in ("score", "relev", "cos", "bm25", "recency", "import", "retain", "utility", "text"):
            table.add_column(col, overflow="fold")
        for i, h in enumerate(hits, start=1):
            p = h.parts
            table.add_row(str(i), h.id, f"{h.score:.3f}", f"{p.relevance:.2f}", f"{p.similarity:.2f}",
                          f"{p.keyword:.2f}", f"{p.recency:.2f}", f"{p.importance:.2f}", f"{p.retention:.2f}",
                          f"{p.utility:.2f}", plain(clip(h.text, 70)))  # fmt: skip
        stdout().print(table)


def memory_stats(bank: MemoryBank, namespace: str | None, kinds: list[MemoryKind] | None, now: float) -> dict[str, Any]:
    """The bank's counts plus the retention and utility distribution of its active memories in scope."""
    base = bank.stats()
    active = bank.memories(kinds=kinds, namespace=namespace, status=MemoryStatus.ACTIVE)
    ret = np.array([record_retention(r, now) for r in active])
    util = np.array([r.utility for r in active])
    used = np.array([r.utility_count > 0 for r in active], dtype=bool)
    counts, _ = np.histogram(ret, bins=RETENTION_BINS) if len(ret) else (np.zeros(len(RETENTION_BINS) - 1), None)
    edges = RETENTION_BINS
    threshold = bank.config.forget_below_retention
    decaying = np.array([r.kind in bank.config.decaying_kinds and not r.pinned for r in active], dtype=bool)

    def q(values: np.ndarray) -> dict[str, float] | None:
        if not len(values):
            return None
        p = np.percentile(values, [0, 10, 50, 90, 100])
        return {"min": float(p[0]), "p10": float(p[1]), "median": float(p[2]), "p90": float(p[3]), "max": float(p[4])}

    return {
        "path": base["path"], "store": base["store"], "total": base["total"], "active": base["active"],
        "by_kind": base["by_kind"], "active_by_namespace": base["active_by_namespace"],
        "scope": {"namespace": namespace, "kinds": [k.value for k in kinds] if kinds else None,
                  "active": len(active)},
        "retention": {
            "quantiles": q(ret),
            "histogram": {f"{edges[i]:.2f}-{edges[i + 1]:.2f}": int(c) for i, c in enumerate(counts)},
            "below_forget_threshold": int(((ret < threshold) & decaying).sum()) if len(ret) else 0,
            "forget_threshold": threshold,
            "pinned": sum(1 for r in active if r.pinned),
        },
        "utility": {
            "with_outcomes": int(used.sum()), "without_outcomes": int((~used).sum()),
            "mean_with_outcomes": float(util[used].mean()) if used.any() else None,
            "quantiles_with_outcomes": q(util[used]),
            "outcomes_reported": sum(r.utility_count for r in active),
        },
        "recalls": {"total": sum(r.recall_count for r in active),
                    "never_recalled": sum(1 for r in active if r.recall_count == 0)},
        "unsynced": base["unsynced"], "snapshots": base["snapshots"], "history_entries": base["history_entries"],
        "reflect_failures": base["reflect_failures"], "quarantined": base["quarantined"],
    }  # fmt: skip


def stats_command(memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, namespace: NsOpt = None,
                  kind: KindOpt = None, as_json: JsonOpt = False) -> None:  # fmt: skip
    """Counts by kind and status, the retention distribution and utility of the active memories."""
    with open_bank(memory_dir, chroma_url) as bank:
        s = memory_stats(bank, namespace, kinds_or_all(kind), time.time())
    if as_json:
        print_json(s)
        return
    out = stdout()
    out.print(f"{s['path']} ({s['store']}): {s['total']} memories, {s['active']} active; "
              f"{s['history_entries']} history entries; snapshots: {', '.join(s['snapshots']) or 'none'}")  # fmt: skip
    if s["quarantined"]:
        out.print(f"{s['quarantined']} rows in quarantine: kept whole in the ledger's quarantine table by "
                  "`evolve memory repair` (they could not be placed in the bank)")  # fmt: skip
    table = Table(title="memories by kind and status")
    statuses = [st.value for st in MemoryStatus]
    for col in ("kind", *statuses):
        table.add_column(col)
    for k, per in sorted(s["by_kind"].items()):
        table.add_row(k, *(str(per.get(st, 0)) for st in statuses))
    out.print(table)
    r, u = s["retention"], s["utility"]
    scope = s["scope"]
    out.print(f"in scope (namespace {scope['namespace'] or 'all'}, kinds {', '.join(scope['kinds'] or ['all'])}): "
              f"{scope['active']} active")  # fmt: skip
    hist = Table(title="retention exp(-t/S) of active memories")
    hist.add_column("retention")
    hist.add_column("memories")
    for band, n in r["histogram"].items():
        hist.add_row(band, str(n))
    out.print(hist)
    if r["quantiles"]:
        out.print("retention " + ", ".join(f"{k} {v:.3f}" for k, v in r["quantiles"].items()))
    out.print(f"{r['below_forget_threshold']} decaying memories below the forgetting threshold {r['forget_threshold']} "
              f"(`evolve memory forget --sweep` archives them); {r['pinned']} pinned")  # fmt: skip
    mean = "-" if u["mean_with_outcomes"] is None else f"{u['mean_with_outcomes']:.2f}"
    out.print(f"utility: {u['with_outcomes']} memories with outcomes (mean {mean}), {u['without_outcomes']} "
              f"without (0.5 = unknown); recalls {s['recalls']['total']}, never recalled "
              f"{s['recalls']['never_recalled']}")  # fmt: skip


def history_command(memory_id: IdArg, memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None,
                    limit: Annotated[int | None, typer.Option(min=1, max=MAX_ROWS,
                                                              help="Only the newest N entries.")] = None,
                    as_json: JsonOpt = False) -> None:  # fmt: skip
    """The append-only log of one memory (insert, recalls' feedback, pin, archive, restore, ...), oldest first."""
    with open_bank(memory_dir, chroma_url) as bank:
        bank.get(memory_id)  # an unknown id is an error, not an empty history
        rows = history_rows(bank.history(memory_id, limit))
    if as_json:
        print_json({"id": memory_id, "history": rows})
        return
    stdout().print(history_table(f"history of {memory_id} ({len(rows)} entries)", rows))


def cited_in(record: MemoryRecord, evidence: dict[str, MemoryRecord]) -> list[tuple[str, int, str]]:
    """The parts of its evidence a reflected item stands on (:func:`memory.evidence.cited_parts`): id, part, text."""
    out = []
    for cite in str(record.meta.get(CITES) or "").split(","):
        mid, _, k = cite.partition("#")
        if mid in evidence and k.isdigit():
            out.append((mid, int(k), part_of(evidence[mid], int(k))))
    return out
