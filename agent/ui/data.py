"""What the dashboard shows, as JSON-ready dicts: pure reads of a memory bank and a runs directory.

Nothing here changes the bank: search retrieves with ``record=False`` (browsing must not strengthen
memories), and the retention figures are computed from the ledger's counters with the bank's own
forgetting curve. Edits live in :mod:`agent.ui.server`, behind the ``allow_edits`` flag.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memory import MemoryBank, MemoryKind, MemoryRecord, MemoryStatus
from memory.errors import MemoryUsageError
from memory.scoring import DAY

MAX_DEPTH = 8
"""How far an evidence chain is followed (derived_from links are acyclic in practice; this bounds it)."""


class NotFound(LookupError):
    """A request named something that does not exist; the message says what."""


def _date(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def retention_now(bank: MemoryBank, record: MemoryRecord, now: float) -> float:
    """Ebbinghaus retention exp(-t/S) of a memory at ``now`` (t: days since last recall or creation)."""
    last = max(record.created_at, record.last_recalled_at or record.created_at)
    return math.exp(-max(0.0, now - last) / DAY / max(record.strength, 1e-9))


def row(bank: MemoryBank, record: MemoryRecord, now: float, score: float | None = None) -> dict[str, Any]:
    """A memory as a list row: id, kind, namespace, text, dates, status, retention, utility (and score)."""
    out = {
        "id": record.id, "kind": record.kind.value, "namespace": record.namespace, "text": record.text,
        "created": _date(record.created_at), "status": record.status.value, "pinned": record.pinned,
        "retention": round(retention_now(bank, record, now), 4), "utility": round(record.utility, 4),
        "recalls": record.recall_count, "origin": record.meta.get("origin"), "flagged": record.meta.get("flagged"),
    }  # fmt: skip
    if score is not None:
        out["score"] = round(score, 4)
    return out


def overview(bank: MemoryBank, *, allow_edits: bool, now: float) -> dict[str, Any]:
    """Header data: the bank's path and counts, its namespaces and kinds, and whether edits are allowed."""
    return {
        "stats": bank.stats(), "namespaces": bank.view.namespaces(), "kinds": [k.value for k in MemoryKind],
        "statuses": [s.value for s in MemoryStatus], "allow_edits": allow_edits, "now": _date(now),
        "forget_below_retention": bank.config.forget_below_retention,
    }  # fmt: skip


def search(
    bank: MemoryBank,
    *,
    now: float,
    query: str = "",
    kind: str = "",
    namespace: str = "",
    status: str = "active",
    limit: int = 50,
) -> dict[str, Any]:
    """Memories matching a query (ranked by the bank's retrieval, not recorded) and/or filters.

    With a query, active memories are ranked by the bank's hybrid retrieval; memories whose text
    contains the query (any status that the filter allows, e.g. archived ones, which are not in the
    vector index) follow. Without a query: the newest memories that pass the filters.

    Raises:
        NotFound: an unknown kind, namespace form or status (the message names it).
    """
    try:
        kinds = [kind] if kind else None
        ns = namespace or None
        st = MemoryStatus(status) if status else None
        limit = max(1, min(int(limit), 500))
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        text = query.strip()
        if text:
            if st in (None, MemoryStatus.ACTIVE):
                for hit in bank.retrieve(text, k=limit, kinds=kinds, namespace=ns, record=False, now=now):
                    rows.append(row(bank, hit.record, now, hit.score))
                    seen.add(hit.id)
            ids = bank.view.ids_containing(text, kind=kind, namespace=namespace, status=st.value if st else "",
                                           limit=limit)  # fmt: skip
            rows.extend(row(bank, r, now) for r in bank.get_many([i for i in ids if i not in seen]))
        else:
            rows = [row(bank, r, now) for r in bank.memories(kinds, ns, st, limit=limit)]
    except (MemoryUsageError, ValueError) as exc:
        raise NotFound(str(exc)) from None
    return {"query": text, "count": len(rows[:limit]), "results": rows[:limit]}


def evidence_chain(bank: MemoryBank, record: MemoryRecord, depth: int = 0,
                   seen: frozenset[str] = frozenset()) -> dict[str, Any]:  # fmt: skip
    """Where a memory came from: its ``derived_from`` memories, followed recursively, with each node's
    ``source_ids`` (episodes, dialogue turns) and thread position. Missing or cyclic links are marked."""
    node: dict[str, Any] = {
        "id": record.id, "kind": record.kind.value, "text": record.text, "created": _date(record.created_at),
        "status": record.status.value, "source_ids": list(record.source_ids), "episode_id": record.episode_id,
        "thread": record.thread, "seq": record.seq, "children": [], "missing": [],
    }  # fmt: skip
    if depth >= MAX_DEPTH:
        node["truncated"] = True
        return node
    found = {r.id: r for r in bank.get_many(list(record.derived_from))}
    for parent in record.derived_from:
        if parent in seen:
            node["missing"].append(f"{parent} (cycle)")
        elif parent not in found:
            node["missing"].append(parent)
        else:
            node["children"].append(evidence_chain(bank, found[parent], depth + 1, seen | {record.id}))
    return node


def derived(bank: MemoryBank, memory_id: str, now: float) -> list[dict[str, Any]]:
    """Memories made from this one (the reverse of ``derived_from``)."""
    return [row(bank, r, now) for r in bank.get_many(bank.view.ids_citing(memory_id)) if memory_id in r.derived_from]


def retention_curve(bank: MemoryBank, record: MemoryRecord, now: float, horizon_days: int = 60,
                    points: int = 61) -> list[list[float]]:  # fmt: skip
    """[[unix time, retention], ...] from the last recall (or creation) to ``now + horizon_days``, with
    the memory's current strength: the forgetting curve it is on now."""
    start = max(record.created_at, record.last_recalled_at or record.created_at)
    end = max(now, start) + horizon_days * DAY
    step = (end - start) / max(points - 1, 1)
    s = max(record.strength, 1e-9)
    return [[start + i * step, math.exp(-(i * step) / DAY / s)] for i in range(points)]


def utility_curve(record: MemoryRecord, history: list[Any]) -> list[list[float]]:
    """[[log time, smoothed utility], ...]: the prior 0.5 when it was inserted, then after each outcome (feedback, or a
    rule's paired trial).

    Times are the history log's (wall clock), which differs from the bank's clock in a simulation."""
    start = next((h.ts for h in history if h.op in ("insert", "import")), history[0].ts if history else 0.0)
    out = [[start, 0.5]]
    for h in history:
        after = h.after or {}
        if h.op in ("feedback", "trial") and "utility_sum" in after:
            out.append([h.ts, (float(after["utility_sum"]) + 1.0) / (float(after["utility_count"]) + 2.0)])
    return out


def detail(bank: MemoryBank, memory_id: str, now: float) -> dict[str, Any]:
    """Everything about one memory: record, evidence chain, what was made from it, history, curves.

    Raises:
        NotFound: no memory has this id.
    """
    try:
        record = bank.get(memory_id)
    except MemoryUsageError:
        raise NotFound(f"no memory with id {memory_id!r} in {bank.config.path}") from None
    history = bank.history(memory_id)
    archived = bank.view.archive_info(memory_id)
    info = {**record.to_dict(), "created": _date(record.created_at), "updated": _date(record.updated_at),
            "last_recalled": _date(record.last_recalled_at), "retention": retention_now(bank, record, now),
            "utility": record.utility, "archived": _date(archived[0]) if archived else None,
            "archive_reason": archived[1] if archived else None, "origin": record.meta.get("origin"),
            "flagged": record.meta.get("flagged")}  # fmt: skip
    return {
        "memory": info,
        "evidence": evidence_chain(bank, record),
        "derived": derived(bank, memory_id, now),
        "history": [{"seq": h.seq, "time": _date(h.ts), "op": h.op, "actor": h.actor, "reason": h.reason,
                     "before": h.before, "after": h.after} for h in history],  # fmt: skip
        "curves": {"retention": retention_curve(bank, record, now), "utility": utility_curve(record, history),
                   "now": now, "threshold": bank.config.forget_below_retention,
                   "decays": record.kind in bank.config.decaying_kinds and not record.pinned},  # fmt: skip
    }


def retention_overview(bank: MemoryBank, now: float, horizon_days: int = 90, step_days: int = 5) -> dict[str, Any]:
    """Bank-wide retention and utility over time.

    * ``forecast``: per kind, how many active memories stay above the forgetting threshold at
      ``now + d`` days if nothing is recalled (decaying kinds fade; pinned and non-decaying stay);
    * ``histogram``: per kind, active memories by retention now, in tenths;
    * ``utility``: per day, the mean outcome reported for memories and how many reports.
    """
    rows = bank.view.retention_inputs()
    threshold = bank.config.forget_below_retention
    decaying = {k.value for k in bank.config.decaying_kinds}
    days = list(range(0, horizon_days + 1, step_days))
    forecast: dict[str, list[int]] = {}
    histogram: dict[str, list[int]] = {}
    for kind, created, last, strength, pinned in rows:
        last = max(float(last), float(created))
        series = forecast.setdefault(kind, [0] * len(days))
        bins = histogram.setdefault(kind, [0] * 10)
        s = max(float(strength), 1e-9)
        r_now = math.exp(-max(0.0, now - last) / DAY / s)
        bins[min(9, int(r_now * 10))] += 1
        for i, d in enumerate(days):
            r = math.exp(-max(0.0, now + d * DAY - last) / DAY / s)
            if pinned or kind not in decaying or r >= threshold:
                series[i] += 1
    per_day: dict[str, list[float]] = {}
    for h in bank.history():
        if h.op == "feedback" and h.after and "outcome" in h.after:
            per_day.setdefault(str(_date(h.ts))[:10], []).append(float(h.after["outcome"]))
    utility = [{"day": d, "mean_outcome": sum(v) / len(v), "reports": len(v)} for d, v in sorted(per_day.items())]
    return {"days": days, "forecast": forecast, "histogram": histogram, "utility": utility, "threshold": threshold}


# -- benchmark runs -----------------------------------------------------------------------------------------
def _safe_child(base: Path, *parts: str) -> Path:
    target = base.joinpath(*parts).resolve()
    if base.resolve() not in target.parents:
        raise NotFound(f"{'/'.join(parts)!r} is not inside {base}")
    return target


def runs(runs_dir: Path) -> dict[str, Any]:
    """The runs under ``runs_dir`` that hold a ``results.json`` or PNG figures, newest first."""
    out: list[dict[str, Any]] = []
    if runs_dir.is_dir():
        for directory in sorted(runs_dir.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
            if not directory.is_dir():
                continue
            pngs = sorted(p.name for p in directory.glob("*.png"))
            results = directory / "results.json"
            if not pngs and not results.is_file():
                continue
            out.append({"name": directory.name, "results": results.is_file(), "pngs": pngs,
                        "summary": _results_summary(results) if results.is_file() else None})  # fmt: skip
    return {"runs_dir": str(runs_dir), "runs": out}


def _results_summary(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"error": f"unreadable results.json: {exc}"}
    if not isinstance(data, dict):
        return {"error": "results.json is not an object"}
    raw = data.get("settings")
    settings: dict[str, Any] = raw if isinstance(raw, dict) else {}
    tables = {
        name: [{k: s.get(k) for k in ("name", "episodes", "success", "success_ci", "score", "score_ci", "steps")}
               for s in block.get("summaries", []) if isinstance(s, dict)]
        for name, block in settings.items() if isinstance(block, dict)
    }  # fmt: skip
    keys = ("env_id", "preset", "wall_seconds")
    return {**{k: data.get(k) for k in keys}, "train": data.get("train"), "tables": tables,
            "train_tasks": len(data.get("train_seeds") or [])}  # fmt: skip


def run_results(runs_dir: Path, name: str) -> dict[str, Any]:
    """The whole ``results.json`` of one run.

    Raises:
        NotFound: no such run or it has no results.json.
    """
    path = _safe_child(runs_dir, name, "results.json")
    if not path.is_file():
        raise NotFound(f"run {name!r} has no results.json under {runs_dir}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise NotFound(f"{path} is not valid JSON: {exc}") from None
    return {"name": name, "results": data}


def run_png(runs_dir: Path, name: str, file: str) -> Path:
    """The path of a PNG figure of a run.

    Raises:
        NotFound: not a PNG of that run.
    """
    path = _safe_child(runs_dir, name, file)
    if path.suffix.lower() != ".png" or not path.is_file():
        raise NotFound(f"run {name!r} has no figure {file!r}")
    return path
