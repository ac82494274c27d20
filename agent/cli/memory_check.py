"""``evolve memory check`` and ``repair``: the vector index compared with the ledger, and rebuilt from it.

Both open the bank without the reconcile an ordinary open runs, so check reports the bank as it was found (exit 1
when something does not match) and repair can fix an index that refuses the ledger's memories. What repair cannot
place goes to the ledger's quarantine table, whole; ``stats`` counts it.
"""

from __future__ import annotations

import typer

from agent.cli.memory_common import DEFAULT_DIR, ChromaOpt, DirOpt, open_bank
from agent.cli.options import JsonOpt
from agent.cli.output import plain, plural, print_json, stdout
from memory.integrity import IntegrityReport


def check_command(memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, as_json: JsonOpt = False) -> None:
    """Compare the vector index with the ledger (missing, stale, unknown and unfit vectors, unreadable rows);
    exit 1 when they differ. Changes nothing."""
    with open_bank(memory_dir, chroma_url, reconcile=False) as bank:
        report = bank.check()
    if as_json:
        print_json(report.to_dict())
    else:
        _print(report)
        if not report.ok:
            stdout().print(f"run `evolve memory repair --memory-dir {memory_dir}` to rebuild the index from the "
                           "ledger (nothing is lost: what cannot be placed is quarantined)", markup=False)  # fmt: skip
    if not report.ok:
        raise typer.Exit(code=1)


def repair_command(memory_dir: DirOpt = DEFAULT_DIR, chroma_url: ChromaOpt = None, as_json: JsonOpt = False) -> None:
    """Rebuild the vector index from the ledger's vectors (unfit ones embedded again); rows and index items that
    cannot be placed are moved whole to quarantine, never deleted."""
    with open_bank(memory_dir, chroma_url, reconcile=False) as bank:
        report = bank.repair()
    if as_json:
        print_json(report.to_dict())
    else:
        out = stdout()
        for line in report.before.problems() or ["nothing to repair: the index matches the ledger"]:
            out.print(plain(f"found: {line}"))
        done = [plural(report.reembedded, "vector") + " embedded again", plural(report.adopted, "index item") +
                " adopted", plural(report.quarantined, "row") + " quarantined", plural(report.removed_from_index,
                "stale index item") + " removed", plural(report.pushed, "change") + " pushed to the index"]  # fmt: skip
        if report.dropped_collections:
            done.append("rebuilt " + ", ".join(report.dropped_collections))
        out.print(plain(f"repaired in {report.seconds:.1f} s: " + "; ".join(done)))
        _print(report.after)
    if not report.after.ok:
        raise typer.Exit(code=1)


def _print(report: IntegrityReport) -> None:
    out = stdout()
    items = sum(c.index_items for c in report.collections)
    head = (f"{report.path}: {plural(report.rows, 'ledger row')}, {plural(items, 'index item')} in "
            f"{plural(len(report.collections), 'collection')}, vectors of {report.dimension or '?'} numbers")
    out.print(plain(head))
    if report.quarantined:
        out.print(plain(f"{plural(report.quarantined, 'row')} in quarantine (kept whole in the ledger)"))
    for line in report.problems() or ["ok: the index matches the ledger"]:
        out.print(plain(f"  {line}"))
