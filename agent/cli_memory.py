"""``evolve memory``: inspect and manage a memory bank from the terminal (a thin face over :class:`MemoryBank`).

Every command opens the bank in ``--memory-dir`` (default ``.evolve/memory``; with ``--chroma-url`` the
vectors live in a Chroma server and the ledger stays in the directory), does one thing and prints a table,
or one JSON object with ``--json``. Bad input (an unknown id, a corrupt export, a path outside the data
directory, a missing bank) ends with ``error: ...`` on stderr and exit code 2, without a stack trace and
without changing the bank. Reading commands (``list``, ``show``, ``search``, ``stats``, ``history``) never
change recall statistics.

The *data directory* bounds where ``export`` may write and ``import`` may read: the memory directory's
parent, or ``--data-dir``. Paths are resolved (``..`` and symlinks included) before the check.
Mounted by the main CLI as ``app.add_typer(memory_app, name="memory")``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from agent import cli_options
from agent.cli_options import BaseUrlOpt, JsonOpt, LlmOpt, ModelOpt, ThreadsOpt, llm_config
from agent.errors import EvolveError, UsageError
from agent.llm.config import BackendChoice
from memory import MemoryBank, MemoryConfig, MemoryKind, MemoryRecord, MemoryStatus
from memory.errors import MemoryBankError
from memory.scoring import retention

memory_app = typer.Typer(
    help="Inspect and manage the memory bank: list, show, search, stats, history, reflect, forget, restore, pin, "
    "snapshot, rollback, export, import.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_DIR = Path(".evolve/memory")
RETENTION_BINS = (0.0, 0.02, 0.1, 0.25, 0.5, 0.75, 1.0)
"""Edges of the retention histogram of ``stats`` (0.02 is the default forgetting threshold)."""


class StatusChoice(str, Enum):
    """Which memories ``list`` shows."""

    active = "active"
    superseded = "superseded"
    archived = "archived"
    all = "all"


DirOpt = Annotated[Path, typer.Option("--memory-dir", help="Memory bank directory.")]
ChromaOpt = Annotated[str | None, typer.Option("--chroma-url", help="Chroma server holding the vectors, e.g. "
                                                                    "http://127.0.0.1:8000.")]  # fmt: skip
NsOpt = Annotated[str | None, typer.Option("--namespace", help="Only this namespace (agent, user:NAME, env:NAME).")]
KindOpt = Annotated[list[MemoryKind] | None, typer.Option("--kind", help="Only these kinds (repeatable).")]
IdArg = Annotated[str, typer.Argument(help="Memory id (mem-...), as `evolve memory list` shows it.")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Directory that import/export paths must be "
                                                                    "inside (default: the memory dir's parent).")]


@memory_app.callback()
def memory_main() -> None:
    """Inspect and manage the memory bank."""


# -- plumbing -----------------------------------------------------------------------------------------------
def _out() -> Console:
    # Built per call so the output goes to whatever stdout is current (CliRunner swaps it); wide when
    # piped, so ids and scores are not folded into 80 columns.
    console = Console(highlight=False, soft_wrap=True)
    return console if console.is_terminal else Console(highlight=False, soft_wrap=True, width=160)


def _json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


def _error(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def missing_bank_message(memory_dir: Path) -> str:
    """What to say when ``memory_dir`` holds no bank, with the commands that create one."""
    where = "does not exist" if not memory_dir.exists() else "holds no memory bank (no ledger.sqlite3)"
    return (
        f"memory directory {str(memory_dir)!r} {where}. Create a bank there by running the agent with "
        f"`evolve run ENV_ID --memory-dir {memory_dir}`, or import an export into a new bank with "
        f"`evolve memory import FILE --memory-dir {memory_dir} --create`"
    )


@contextmanager
def open_bank(memory_dir: Path, chroma_url: str | None = None, *, create: bool = False) -> Iterator[MemoryBank]:
    """Open the bank in ``memory_dir`` (refusing to create one unless ``create``); project errors exit 2."""
    try:
        if memory_dir.exists() and not memory_dir.is_dir():
            raise UsageError(f"--memory-dir {str(memory_dir)!r} is a file; give a directory")
        if not create and not (memory_dir / "ledger.sqlite3").is_file():
            raise UsageError(missing_bank_message(memory_dir))
        try:
            config = MemoryConfig(path=memory_dir, server_url=chroma_url)
        except ValidationError as exc:  # the validators name the bad value and the fix
            raise UsageError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
        bank = MemoryBank(config)
    except (EvolveError, MemoryBankError) as exc:
        raise _error(str(exc)) from None
    try:
        yield bank
    except (EvolveError, MemoryBankError) as exc:
        raise _error(str(exc)) from None
    finally:
        bank.close()


def inside_data_dir(path: Path, root: Path, what: str) -> Path:
    """``path`` resolved, if it lies inside ``root``; else a :class:`UsageError` naming both.

    Args:
        path: the path given on the command line (relative paths are relative to the current directory).
        root: the data directory.
        what: which file it is, for the message (``export file``, ``import file``).
    """
    resolved = path.expanduser().resolve()
    allowed = root.expanduser().resolve()
    if not resolved.is_relative_to(allowed):
        raise UsageError(
            f"{what} {str(path)!r} resolves to {resolved}, outside the data directory {allowed}; "
            f"give a path inside {allowed}, or pass --data-dir to allow another directory"
        )
    return resolved


def _data_root(memory_dir: Path, data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else memory_dir.expanduser().resolve().parent


def unique_snapshot_name(bank: MemoryBank, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``, ... when a snapshot of that name exists."""
    known = {s.name for s in bank.list_snapshots()}
    name, n = base, 1
    while name in known:
        n += 1
        name = f"{base}-{n}"
    return name


def _when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def record_retention(record: MemoryRecord, now: float) -> float:
    """Ebbinghaus retention exp(-t/S) of a record now (t since last recall or creation), 0..1."""
    last = max(record.last_recalled_at or record.created_at, record.created_at)
    return float(retention(last, record.strength, now))


def _short(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _kinds(kind: list[MemoryKind] | None) -> list[MemoryKind] | None:
    return list(kind) if kind else None


def _flags(r: MemoryRecord) -> str:
    return ",".join(f for f, on in (("pinned", r.pinned), (f"votes={r.votes}", r.votes > 0)) if on) or "-"


def _history_rows(entries: list[Any]) -> list[dict[str, Any]]:
    return [asdict(e) for e in entries]


def _history_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for col in ("seq", "when", "op", "actor", "reason", "change"):
        table.add_column(col, overflow="fold")
    for h in rows:
        change = f"{json.dumps(h['before'])} -> {json.dumps(h['after'])}" if h["before"] else json.dumps(h["after"])
        table.add_row(str(h["seq"]), _when(h["ts"]), h["op"], h["actor"], h["reason"] or "-", _short(change, 120))
    return table


# -- reading ------------------------------------------------------------------------------------------------
@memory_app.command("list")
def list_command(
    memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, namespace: NsOpt = None, kind: KindOpt = None,
    status: Annotated[StatusChoice, typer.Option(help="Which life-cycle state to show.")] = StatusChoice.active,
    limit: Annotated[int, typer.Option(min=1, help="Most memories to show (newest first).")] = 50,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """List memories, newest first, with kind, namespace, status, retention and utility."""
    with open_bank(memory_dir, chroma_url) as bank:
        chosen = None if status is StatusChoice.all else MemoryStatus(status.value)
        records = bank.memories(kinds=_kinds(kind), namespace=namespace, status=chosen, limit=limit)
        now = time.time()
        if as_json:
            _json({"memories": [{**r.to_dict(), "retention": record_retention(r, now), "utility": r.utility}
                                for r in records], "shown": len(records)})  # fmt: skip
            return
        table = Table(title=f"{len(records)} memories in {memory_dir} (newest first, at most {limit})")
        table.add_column("id", no_wrap=True, min_width=24)
        for col in ("kind", "namespace", "status", "flags", "retention", "utility", "text"):
            table.add_column(col, overflow="fold")
        for r in records:
            table.add_row(r.id, r.kind.value, r.namespace, r.status.value, _flags(r),
                          f"{record_retention(r, now):.2f}", f"{r.utility:.2f}", _short(r.text))  # fmt: skip
        _out().print(table)


@memory_app.command("show")
def show_command(memory_id: IdArg, memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None,
                 as_json: JsonOpt = False) -> None:  # fmt: skip
    """Show one memory in full: text, scores, provenance (sources, evidence memories) and its whole history."""
    with open_bank(memory_dir, chroma_url) as bank:
        record = bank.get(memory_id)
        now = time.time()
        evidence = bank.get_many(list(record.derived_from))
        missing = [i for i in record.derived_from if i not in {e.id for e in evidence}]
        history = _history_rows(bank.history(memory_id))
        provenance = {
            "source_ids": list(record.source_ids), "episode_id": record.episode_id, "thread": record.thread,
            "seq": record.seq, "superseded_by": record.superseded_by,
            "derived_from": [{"id": e.id, "kind": e.kind.value, "status": e.status.value, "text": e.text}
                             for e in evidence],
            "derived_from_missing": missing,
        }  # fmt: skip
        if as_json:
            _json({"record": record.to_dict(), "retention": record_retention(record, now), "utility": record.utility,
                   "provenance": provenance, "history": history})  # fmt: skip
            return
        out = _out()
        out.print(f"[bold]{record.id}[/]  {record.kind.value} in {record.namespace}, {record.status.value}"
                  + (" (pinned)" if record.pinned else ""))  # fmt: skip
        out.print(record.text, markup=False)
        if record.context:
            out.print(f"keyword context: {record.context}", markup=False)
        out.print(f"created {_when(record.created_at)}, updated {_when(record.updated_at)}; importance "
                  f"{record.importance:.2f}, strength {record.strength:.1f} d, retention "
                  f"{record_retention(record, now):.3f}, recalled {record.recall_count}x (last "
                  f"{_when(record.last_recalled_at)}), utility {record.utility:.2f} from {record.utility_count} "
                  f"outcomes, votes {record.votes}", markup=False)  # fmt: skip
        out.print("provenance: sources " + (", ".join(record.source_ids) or "-")
                  + f"; episode {record.episode_id or '-'}; thread {record.thread or '-'} seq "
                  f"{record.seq if record.seq is not None else '-'}; superseded by {record.superseded_by or '-'}",
                  markup=False)  # fmt: skip
        for e in evidence:
            out.print(f"  derived from {e.id} ({e.kind.value}, {e.status.value}): {_short(e.text)}", markup=False)
        for gone in missing:
            out.print(f"  derived from {gone} (not in this bank)", markup=False)
        out.print(_history_table(f"history of {record.id} ({len(history)} entries)", history))


@memory_app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="What to look for (free text).")],
    k: Annotated[int, typer.Option("--k", min=1, help="Most memories to return.")] = 5,
    memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, namespace: NsOpt = None, kind: KindOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Retrieve the best memories for QUERY, with every component of their score (recall stats unchanged)."""
    with open_bank(memory_dir, chroma_url) as bank:
        hits = bank.retrieve(query, k=k, kinds=_kinds(kind), namespace=namespace, record=False)
        if as_json:
            _json({"query": query, "hits": [{"rank": i, "id": h.id, "score": h.score, "parts": asdict(h.parts),
                                             "tokens": h.tokens, "record": h.record.to_dict()}
                                            for i, h in enumerate(hits, start=1)]})  # fmt: skip
            return
        table = Table(title=f"{len(hits)} memories for {query!r} (score = weighted parts; higher is better)")
        table.add_column("#")
        table.add_column("id", no_wrap=True, min_width=24)
        for col in ("score", "relev", "cos", "bm25", "recency", "import", "retain", "utility", "text"):
            table.add_column(col, overflow="fold")
        for i, h in enumerate(hits, start=1):
            p = h.parts
            table.add_row(str(i), h.id, f"{h.score:.3f}", f"{p.relevance:.2f}", f"{p.similarity:.2f}",
                          f"{p.keyword:.2f}", f"{p.recency:.2f}", f"{p.importance:.2f}", f"{p.retention:.2f}",
                          f"{p.utility:.2f}", _short(h.text, 70))  # fmt: skip
        _out().print(table)


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
        "reflect_failures": base["reflect_failures"],
    }  # fmt: skip


@memory_app.command("stats")
def stats_command(memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, namespace: NsOpt = None,
                  kind: KindOpt = None, as_json: JsonOpt = False) -> None:  # fmt: skip
    """Counts by kind and status, the retention distribution and utility of the active memories."""
    with open_bank(memory_dir, chroma_url) as bank:
        s = memory_stats(bank, namespace, _kinds(kind), time.time())
    if as_json:
        _json(s)
        return
    out = _out()
    out.print(f"{s['path']} ({s['store']}): {s['total']} memories, {s['active']} active; "
              f"{s['history_entries']} history entries; snapshots: {', '.join(s['snapshots']) or 'none'}")  # fmt: skip
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


@memory_app.command("history")
def history_command(memory_id: IdArg, memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None,
                    limit: Annotated[int | None, typer.Option(min=1, help="Only the newest N entries.")] = None,
                    as_json: JsonOpt = False) -> None:  # fmt: skip
    """The append-only log of one memory (insert, recalls' feedback, pin, archive, restore, ...), oldest first."""
    with open_bank(memory_dir, chroma_url) as bank:
        bank.get(memory_id)  # an unknown id is an error, not an empty history
        rows = _history_rows(bank.history(memory_id, limit))
    if as_json:
        _json({"id": memory_id, "history": rows})
        return
    _out().print(_history_table(f"history of {memory_id} ({len(rows)} entries)", rows))


# -- changing -----------------------------------------------------------------------------------------------
@memory_app.command("forget")
def forget_command(
    memory_id: Annotated[str | None, typer.Argument(help="Memory to archive now (or use --sweep).")] = None,
    sweep: Annotated[bool, typer.Option("--sweep", help="Run the forgetting sweep (decay, low utility, capacity).")]
    = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be archived; change nothing.")] = False,
    reason: Annotated[str, typer.Option(help="Why (kept in the history).")] = "forgotten by the user",
    memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Archive one memory, or run the forgetting sweep; archived memories are kept and restorable."""
    if (memory_id is None) == (not sweep):
        raise _error("give either a memory id or --sweep (not both, not neither)")
    with open_bank(memory_dir, chroma_url) as bank:
        if memory_id is not None:
            record = bank.get(memory_id)
            if record.pinned:
                raise UsageError(f"memory {memory_id} is pinned; unpin it first (evolve memory unpin {memory_id})")
            changed = 0 if dry_run else bank.archive([memory_id], reason=reason, actor="user")
            would = int(record.status is not MemoryStatus.ARCHIVED)
            result = {"id": memory_id, "dry_run": dry_run, "was": record.status.value,
                      "archived": would if dry_run else changed}  # fmt: skip
            if as_json:
                _json(result)
            elif record.status is MemoryStatus.ARCHIVED:
                _out().print(f"{memory_id} was already archived")
            else:
                verb = "would archive" if dry_run else "archived"
                _out().print(f"{verb} {memory_id}: {_short(record.text)} (undo: evolve memory restore {memory_id})",
                             markup=False)  # fmt: skip
            return
        report = bank.forget(dry_run=dry_run)
        if report.index_pending:
            bank.sync()  # a one-shot command leaves the vector index tidy
        groups = {"decayed": report.decayed, "low_utility": report.low_utility, "over_capacity": report.over_capacity}
        texts = {r.id: r.text for r in bank.get_many([i for ids in groups.values() for i in ids])}
    result = {"dry_run": dry_run, "examined": report.examined, "archived": report.archived,
              "pinned_kept": report.pinned_kept, "seconds": report.seconds,
              **{g: [{"id": i, "text": texts.get(i, "")} for i in ids] for g, ids in groups.items()}}  # fmt: skip
    if as_json:
        _json(result)
        return
    out = _out()
    verb = "would archive" if dry_run else "archived"
    out.print(f"forgetting sweep: examined {report.examined} active memories, {verb} {report.archived} "
              f"({len(report.decayed)} decayed, {len(report.low_utility)} low utility, {len(report.over_capacity)} "
              f"over capacity); {report.pinned_kept} pinned kept")  # fmt: skip
    for group, ids in groups.items():
        for i in ids:
            out.print(f"  {group}: {i} {_short(texts.get(i, ''))}", markup=False)


@memory_app.command("reflect")
def reflect_command(
    namespace: Annotated[str, typer.Option("--namespace", help="Whose experiences: agent, user:NAME or env:NAME "
                                                               "(a bench's memory uses env:ENV_ID).")],
    steps: Annotated[str, typer.Option(help="Comma-separated reflect steps: lessons (reflections and facts), "
                                            "insights (rules with votes), summary.")] = "lessons,insights,summary",
    batch_size: Annotated[int, typer.Option(min=1, help="Experiences per prompt.")] = 8,
    batches: Annotated[int | None, typer.Option(min=1, help="Stop after this many batches (default: all).")] = None,
    again: Annotated[bool, typer.Option("--again", help="Also take experiences reflected before, e.g. to derive "
                                                        "rules again with another model.")] = False,
    memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None,
    llm: LlmOpt = BackendChoice.local, base_url: BaseUrlOpt = None, model: ModelOpt = "local",
    threads: ThreadsOpt = 2, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Reflect on experiences with a model: write reflections, facts, voted rules (insights) and summaries."""
    from agent.experience import json_llm
    from agent.grounding import check_rule
    from memory.reflect import STEPS, reflect

    chosen = [s.strip() for s in steps.split(",") if s.strip()]
    if not chosen or any(s not in STEPS for s in chosen):
        raise _error(f"--steps {steps!r}: choose among {', '.join(STEPS)}, comma-separated")
    with open_bank(memory_dir, chroma_url) as bank:
        chat = cli_options.make_model(llm_config(llm, base_url, model, threads))
        report = reflect(bank, json_llm(chat), namespace=namespace, batch_size=batch_size, max_batches=batches,
                         steps=chosen, again=again, check=check_rule)  # fmt: skip
        added = {r.id: r.text for r in bank.get_many(report.insights_added + report.reflections + report.facts)}
    result = asdict(report)
    if as_json:
        _json(result)
        return
    out = _out()
    out.print(f"reflected on {report.experiences_reflected} experiences in {report.batches} batches of {namespace}: "
              f"{len(report.reflections)} reflections, {len(report.facts)} facts, {len(report.insights_added)} rules "
              f"added, {len(report.insights_edited)} edited, {report.upvotes} upvotes, {report.downvotes} downvotes, "
              f"{len(report.summaries)} summaries; {len(report.rejected)} proposals rejected, {report.failures} "
              f"model failures")  # fmt: skip
    for mid, text in added.items():
        out.print(f"  + {mid} {_short(text)}", markup=False)
    for why in report.rejected:
        out.print(f"  rejected: {_short(why)}", markup=False)
    if not report.batches:
        out.print(f"nothing to reflect on: no unreflected experience in {namespace} (--again takes all of them)")


@memory_app.command("restore")
def restore_command(memory_id: IdArg, memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None,
                    as_json: JsonOpt = False) -> None:  # fmt: skip
    """Bring an archived memory back into retrieval."""
    with open_bank(memory_dir, chroma_url) as bank:
        before = bank.get(memory_id).status
        record = bank.restore(memory_id, actor="user", reason="restored by the user")
    if as_json:
        _json({"id": memory_id, "was": before.value, "status": record.status.value})
    elif before is not MemoryStatus.ARCHIVED:
        _out().print(f"{memory_id} is {before.value}, not archived: nothing to restore")
    else:
        _out().print(f"restored {memory_id}: {_short(record.text)}", markup=False)


def _pin(memory_id: str, memory_dir: Path, chroma_url: str | None, as_json: bool, pinned: bool) -> None:
    with open_bank(memory_dir, chroma_url) as bank:
        before = bank.get(memory_id).pinned
        if before != pinned:
            (bank.pin if pinned else bank.unpin)(memory_id, actor="user", reason="by the user")
    if as_json:
        _json({"id": memory_id, "pinned": pinned, "changed": before != pinned})
    else:
        state = "pinned (never forgotten)" if pinned else "unpinned (forgettable again)"
        _out().print(f"{memory_id} {'is now' if before != pinned else 'was already'} {state}")


@memory_app.command("pin")
def pin_command(memory_id: IdArg, memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None,
                as_json: JsonOpt = False) -> None:  # fmt: skip
    """Protect a memory from every kind of forgetting."""
    _pin(memory_id, memory_dir, chroma_url, as_json, True)


@memory_app.command("unpin")
def unpin_command(memory_id: IdArg, memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None,
                  as_json: JsonOpt = False) -> None:  # fmt: skip
    """Make a pinned memory forgettable again."""
    _pin(memory_id, memory_dir, chroma_url, as_json, False)


@memory_app.command("snapshot")
def snapshot_command(
    name: Annotated[str | None, typer.Argument(help="Snapshot name (default snap-YYYYmmdd-HHMMSS).")] = None,
    list_only: Annotated[bool, typer.Option("--list", help="List the snapshots instead of taking one.")] = False,
    memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Save the whole bank under a name (or list the snapshots with --list)."""
    with open_bank(memory_dir, chroma_url) as bank:
        if list_only:
            snaps = [asdict(s) for s in bank.list_snapshots()]
        else:
            info = bank.snapshot(name or unique_snapshot_name(bank, time.strftime("snap-%Y%m%d-%H%M%S")))
    if list_only:
        if as_json:
            _json({"snapshots": snaps})
        else:
            for s in snaps:
                _out().print(f"{s['name']}  {_when(s['created_at'])}  {s['memories']} memories")
            if not snaps:
                _out().print("no snapshots (take one with `evolve memory snapshot NAME`)")
        return
    if as_json:
        _json(asdict(info))
    else:
        _out().print(f"saved snapshot {info.name!r} ({info.memories} memories); undo changes with "
                     f"`evolve memory rollback {info.name}`")  # fmt: skip


@memory_app.command("rollback")
def rollback_command(
    name: Annotated[str, typer.Argument(help="Snapshot to return to (see `evolve memory snapshot --list`).")],
    backup: Annotated[bool, typer.Option(help="First snapshot the current state, so the rollback can be undone.")]
    = True,
    memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Return the bank to a snapshot (the history log keeps everything, including the rollback)."""
    with open_bank(memory_dir, chroma_url) as bank:
        known = [s.name for s in bank.list_snapshots()]
        if name not in known:
            raise UsageError(f"no snapshot named {name!r} in {memory_dir} (known: {', '.join(known) or 'none'})")
        stamp = time.strftime("before-rollback-%Y%m%d-%H%M%S")
        saved = bank.snapshot(unique_snapshot_name(bank, stamp)).name if backup else None
        info = bank.rollback(name)
        active = len(bank.memories())
    if as_json:
        _json({"snapshot": name, "memories": info.memories, "active": active, "backup": saved})
    else:
        undo = f"; the state before it is saved as {saved!r}" if saved else ""
        _out().print(f"rolled back to {name!r}: {info.memories} memories, {active} active{undo}")


@memory_app.command("export")
def export_command(
    path: Annotated[Path, typer.Argument(help="JSONL file to write (inside the data directory).")],
    archived: Annotated[bool, typer.Option("--archived/--no-archived", help="Include archived memories.")] = True,
    embeddings: Annotated[bool, typer.Option("--embeddings/--no-embeddings", help="Include the vectors.")] = True,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Write every memory (record, counters, provenance, embedding) as JSON lines."""
    try:
        target = inside_data_dir(path, _data_root(memory_dir, data_dir), "export file")
        if target.is_dir():
            raise UsageError(f"export file {str(path)!r} is a directory; give a file name inside it")
        if target.exists() and not force:
            raise UsageError(f"export file {str(path)!r} exists; pass --force to overwrite it or choose another name")
    except UsageError as exc:
        raise _error(str(exc)) from None
    with open_bank(memory_dir, chroma_url) as bank:
        n = bank.export_jsonl(target, include_archived=archived, include_embeddings=embeddings)
    if as_json:
        _json({"path": str(target), "memories": n})
    else:
        _out().print(f"exported {n} memories to {target}")


@memory_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="JSONL file written by `evolve memory export` (inside the data dir).")],
    create: Annotated[bool, typer.Option("--create", help="Create the bank if the memory dir has none.")] = False,
    memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Add the memories of an export whose ids and texts are new (existing ones are skipped); all or nothing."""
    try:
        source = inside_data_dir(path, _data_root(memory_dir, data_dir), "import file")
        if not source.is_file():
            raise UsageError(f"import file {str(path)!r} does not exist (resolved: {source})")
        lines = _check_export(source, path)
    except UsageError as exc:
        raise _error(str(exc)) from None
    with open_bank(memory_dir, chroma_url, create=create) as bank:
        n = bank.import_jsonl(source, actor="user")
    if as_json:
        _json({"path": str(source), "records": lines, "imported": n, "skipped": lines - n})
    else:
        _out().print(f"imported {n} of {lines} memories from {source} ({lines - n} already in the bank)")


def _check_export(source: Path, given: Path) -> int:
    """Read the export once before opening the bank: undecodable text is refused; returns its record count."""
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"import file {str(given)!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                         "expected a JSONL file written by `evolve memory export`") from None  # fmt: skip
    return max(0, sum(1 for line in text.splitlines() if line.strip()) - 1)
