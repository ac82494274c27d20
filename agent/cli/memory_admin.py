"""The commands of ``evolve memory`` that change a bank: forget, reflect, restore, pin, unpin, snapshot, rollback,
export, import. Each refuses bad input with one line and leaves the bank as it was."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from agent.cli import options
from agent.cli.memory_common import (
    DEFAULT_DIR,
    ChromaOpt,
    DataDirOpt,
    DirOpt,
    IdArg,
    data_root,
    inside_data_dir,
    open_bank,
    unique_snapshot_name,
    when,
)
from agent.cli.options import BaseUrlOpt, JsonOpt, LlmOpt, ModelOpt, ThreadsOpt, llm_config
from agent.cli.output import fail, print_json, stdout
from agent.errors import UsageError
from agent.llm.config import BackendChoice
from agent.text import clip
from memory import MemoryStatus


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
        raise fail("give either a memory id or --sweep (not both, not neither)")
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
                print_json(result)
            elif record.status is MemoryStatus.ARCHIVED:
                stdout().print(f"{memory_id} was already archived")
            else:
                verb = "would archive" if dry_run else "archived"
                stdout().print(f"{verb} {memory_id}: {clip(record.text)} (undo: evolve memory restore {memory_id})",
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
        print_json(result)
        return
    out = stdout()
    verb = "would archive" if dry_run else "archived"
    out.print(f"forgetting sweep: examined {report.examined} active memories, {verb} {report.archived} "
              f"({len(report.decayed)} decayed, {len(report.low_utility)} low utility, {len(report.over_capacity)} "
              f"over capacity); {report.pinned_kept} pinned kept")  # fmt: skip
    for group, ids in groups.items():
        for i in ids:
            out.print(f"  {group}: {i} {clip(texts.get(i, ''))}", markup=False)


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
    from agent.learning.grounding import check_rule
    from agent.llm.structured import json_llm
    from memory.reflect import STEPS, reflect

    chosen = [s.strip() for s in steps.split(",") if s.strip()]
    if not chosen or any(s not in STEPS for s in chosen):
        raise fail(f"--steps {steps!r}: choose among {', '.join(STEPS)}, comma-separated")
    with open_bank(memory_dir, chroma_url) as bank:
        chat = options.make_model(llm_config(llm, base_url, model, threads))
        report = reflect(bank, json_llm(chat), namespace=namespace, batch_size=batch_size, max_batches=batches,
                         steps=chosen, again=again, check=check_rule)  # fmt: skip
        added = {r.id: r.text for r in bank.get_many(report.insights_added + report.reflections + report.facts)}
        failures = bank.ledger.failures()[-1:] if report.failures else []
    result = asdict(report)
    if report.batches and not report.experiences_reflected and report.failures:  # the model never answered usably
        model_name = f"{llm.value} model" + (f" at {base_url}" if base_url else "")
        raise fail(f"every reflect step failed ({report.failures} model failures, the last: "
                   f"{clip(failures[0]['error'] if failures else '?', 120)}); check that the {model_name} answers "
                   "(`evolve doctor`) — the experiences stay unreflected")  # fmt: skip
    if as_json:
        print_json(result)
        return
    out = stdout()
    out.print(f"reflected on {report.experiences_reflected} experiences in {report.batches} batches of {namespace}: "
              f"{len(report.reflections)} reflections, {len(report.facts)} facts, {len(report.insights_added)} rules "
              f"added, {len(report.insights_edited)} edited, {report.upvotes} upvotes, {report.downvotes} downvotes, "
              f"{len(report.summaries)} summaries; {len(report.rejected)} proposals rejected, {report.failures} "
              f"model failures")  # fmt: skip
    for mid, text in added.items():
        out.print(f"  + {mid} {clip(text)}", markup=False)
    for why in report.rejected:
        out.print(f"  rejected: {clip(why)}", markup=False)
    if not report.batches:
        out.print(f"nothing to reflect on: no unreflected experience in {namespace} (--again takes all of them)")


def restore_command(memory_id: IdArg, memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None,
                    as_json: JsonOpt = False) -> None:  # fmt: skip
    """Bring an archived memory back into retrieval."""
    with open_bank(memory_dir, chroma_url) as bank:
        before = bank.get(memory_id).status
        record = bank.restore(memory_id, actor="user", reason="restored by the user")
    if as_json:
        print_json({"id": memory_id, "was": before.value, "status": record.status.value})
    elif before is not MemoryStatus.ARCHIVED:
        stdout().print(f"{memory_id} is {before.value}, not archived: nothing to restore")
    else:
        stdout().print(f"restored {memory_id}: {clip(record.text)}", markup=False)


def set_pinned(memory_id: str, memory_dir: Path, chroma_url: str | None, as_json: bool, pinned: bool) -> None:
    with open_bank(memory_dir, chroma_url) as bank:
        before = bank.get(memory_id).pinned
        if before != pinned:
            (bank.pin if pinned else bank.unpin)(memory_id, actor="user", reason="by the user")
    if as_json:
        print_json({"id": memory_id, "pinned": pinned, "changed": before != pinned})
    else:
        state = "pinned (never forgotten)" if pinned else "unpinned (forgettable again)"
        stdout().print(f"{memory_id} {'is now' if before != pinned else 'was already'} {state}")


def pin_command(memory_id: IdArg, memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None,
                as_json: JsonOpt = False) -> None:  # fmt: skip
    """Protect a memory from every kind of forgetting."""
    set_pinned(memory_id, memory_dir, chroma_url, as_json, True)


def unpin_command(memory_id: IdArg, memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None,
                  as_json: JsonOpt = False) -> None:  # fmt: skip
    """Make a pinned memory forgettable again."""
    set_pinned(memory_id, memory_dir, chroma_url, as_json, False)


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
            print_json({"snapshots": snaps})
        else:
            for s in snaps:
                stdout().print(f"{s['name']}  {when(s['created_at'])}  {s['memories']} memories")
            if not snaps:
                stdout().print("no snapshots (take one with `evolve memory snapshot NAME`)")
        return
    if as_json:
        print_json(asdict(info))
    else:
        stdout().print(f"saved snapshot {info.name!r} ({info.memories} memories); undo changes with "
                     f"`evolve memory rollback {info.name}`")  # fmt: skip


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
        print_json({"snapshot": name, "memories": info.memories, "active": active, "backup": saved})
    else:
        undo = f"; the state before it is saved as {saved!r}" if saved else ""
        stdout().print(f"rolled back to {name!r}: {info.memories} memories, {active} active{undo}")


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
        target = inside_data_dir(path, data_root(memory_dir, data_dir), "export file")
        if target.is_dir():
            raise UsageError(f"export file {str(path)!r} is a directory; give a file name inside it")
        if target.exists() and not force:
            raise UsageError(f"export file {str(path)!r} exists; pass --force to overwrite it or choose another name")
    except UsageError as exc:
        raise fail(str(exc)) from None
    with open_bank(memory_dir, chroma_url) as bank:
        n = bank.export_jsonl(target, include_archived=archived, include_embeddings=embeddings)
    if as_json:
        print_json({"path": str(target), "memories": n})
    else:
        stdout().print(f"exported {n} memories to {target}")


def import_command(
    path: Annotated[Path, typer.Argument(help="JSONL file written by `evolve memory export` (inside the data dir).")],
    create: Annotated[bool, typer.Option("--create", help="Create the bank if the memory dir has none.")] = False,
    memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Add the memories of an export whose ids and texts are new (existing ones are skipped); all or nothing."""
    try:
        source = inside_data_dir(path, data_root(memory_dir, data_dir), "import file")
        if source.is_dir():
            raise UsageError(f"import file {str(path)!r} is a directory; give the .jsonl file `evolve memory export` "
                             "wrote")  # fmt: skip
        if not source.is_file():
            raise UsageError(f"import file {str(path)!r} does not exist (resolved: {source})")
        lines = check_export(source, path)
    except UsageError as exc:
        raise fail(str(exc)) from None
    with open_bank(memory_dir, chroma_url, create=create) as bank:
        n = bank.import_jsonl(source, actor="user")
    if as_json:
        print_json({"path": str(source), "records": lines, "imported": n, "skipped": lines - n})
    else:
        stdout().print(f"imported {n} of {lines} memories from {source} ({lines - n} already in the bank)")


def check_export(source: Path, given: Path) -> int:
    """Read the export once before opening the bank: undecodable text is refused; returns its record count."""
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"import file {str(given)!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                         "expected a JSONL file written by `evolve memory export`") from None  # fmt: skip
    return max(0, sum(1 for line in text.splitlines() if line.strip()) - 1)
