"""Bad input never hurts a bank: a fixed catalogue of input kinds, each tried once, each outcome classified.

An input kind is one entry point (an argument of an API call, a field of an import line, an option of an
``evolve memory`` command, a damaged bank file) given one bad value (None, a bool, 1e308, NaN, a lone surrogate, a
100 kB text, a path, terminal escapes, bytes, a list, a nested dict, ...). Each ends in one of:

* **refused**: :class:`MemoryUsageError` or :class:`BankDamaged` (CLI: exit 2 with one ``error:`` line), one line,
  and the bank exactly as it was (every ledger row and vector, the history, the index counts);
* **accepted**: success, and the bank checks clean (:meth:`MemoryBank.check`) with every record in range;
* **failure**: anything else (another exception, a traceback, a message over one line, a refused call that changed
  the bank, an accepted one that left it inconsistent). The goal is none.

Real parts: the all-MiniLM-L6-v2 embedder, embedded Chroma, SQLite. The catalogue is fixed in code; the figures go
to ``benchmarks/results/bad_input.json`` (with every failure) and the README.

Usage: .venv/bin/python benchmarks/bad_input.py [--groups api,import,cli,damage]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from typer.testing import CliRunner  # noqa: E402

from agent.bench.provenance import git_commit  # noqa: E402
from agent.cli.memory_cmd import memory_app  # noqa: E402
from memory import MemoryBank, MemoryConfig, MemoryInput, MemoryKind, MemoryRecord  # noqa: E402
from memory.errors import BankDamaged, MemoryUsageError  # noqa: E402
from tests.probes import fingerprint, one_line  # noqa: E402

BAD: list[tuple[str, Any]] = [
    ("None", None), ("True", True), ("0", 0), ("-1", -1), ("2", 2), ("1e308", 1e308), ("NaN", math.nan),
    ("inf", math.inf), ("2**63", 2**63), ("empty", ""), ("blank", "   "), ("NUL", "\x00"), ("surrogate", "\ud800"),
    ("100kB", "x" * 100_000), ("path", "../../etc/passwd"), ("markup", "[red]x[/red]"), ("escape", "\x1b]0;t\x07"),
    ("bytes", b"bytes"), ("[]", []), ("['a']", ["a"]), ("nested", {"a": {"b": 1}}), ("object", object()),
]  # fmt: skip
"""The bad values every entry point is given."""

WORDS = ["", "0", "-1", "9223372036854775808", "nan", "abc", "env:", "mem-" + "0" * 20, "\x1b[2J", "a" * 5000]
"""The bad values of command-line options (argv holds strings only)."""

INSERT_FIELDS = ["text", "kind", "namespace", "importance", "meta", "source_ids", "derived_from", "episode_id",
                 "thread", "seq", "context", "created_at", "origin", "embedding"]  # fmt: skip
RECORD_FIELDS = list(MemoryRecord(id="mem-" + "0" * 20, kind=MemoryKind.FACT, namespace="agent", text="t",
                                  created_at=0.0, updated_at=0.0).to_dict())  # fmt: skip
Probe = tuple[str, str, str, Callable[[MemoryBank], Any]]


def in_range(bank: MemoryBank) -> bool:
    """Every record's numbers in their ranges and its text non-empty."""
    bad = bank.ledger.query(
        "SELECT COUNT(*) FROM memories WHERE NOT (importance BETWEEN 0 AND 1) OR NOT (strength > 0 AND strength < 1e9) "
        "OR recall_count < 0 OR utility_count < 0 OR utility_sum < 0 OR utility_sum > utility_count OR trim(text) = ''"
    )  # fmt: skip
    return int(bad[0][0]) == 0


def judge(bank: MemoryBank, call: Callable[[MemoryBank], Any]) -> str:
    """Run one probe: ``refused``, ``accepted`` or ``failure: why``."""
    before = fingerprint(bank)
    try:
        call(bank)
    except (MemoryUsageError, BankDamaged) as error:
        if not one_line(error):
            return f"failure: the message is not one line: {str(error)[:120]!r}"
        return "refused" if fingerprint(bank) == before else "failure: refused but the bank changed"
    except Exception as error:  # what the catalogue looks for
        return f"failure: {type(error).__name__}: {str(error)[:160]}"
    report = bank.check()
    if not report.ok:
        return f"failure: accepted but the bank is inconsistent: {report.problems()[:2]}"
    return "accepted" if in_range(bank) else "failure: accepted a value out of range"


def api_probes(work: Path, counter: Iterator[int]) -> Iterator[Probe]:
    """Every argument of the bank's calls, given every bad value (the other arguments valid)."""
    for field in INSERT_FIELDS:
        for name, value in BAD:
            def call(bank: MemoryBank, field: str = field, value: Any = value) -> Any:
                n = next(counter)
                args: dict[str, Any] = {"text": f"probe note {n}", "namespace": "env:probe", field: value}
                vector = args.pop("embedding", None)
                return bank.insert_many([MemoryInput(**args)], embeddings=None if vector is None else [vector])
            yield "api", f"insert {field}", name, call
    calls: dict[str, Callable[[MemoryBank, Any], Any]] = {
        "retrieve query": lambda b, v: b.retrieve(v, k=3),
        "retrieve k": lambda b, v: b.retrieve("coin", k=v),
        "retrieve kinds": lambda b, v: b.retrieve("coin", kinds=v),
        "retrieve namespace": lambda b, v: b.retrieve("coin", namespace=v),
        "retrieve token_budget": lambda b, v: b.retrieve("coin", token_budget=v),
        "retrieve min_similarity": lambda b, v: b.retrieve("coin", min_similarity=v),
        "retrieve mmr_lambda": lambda b, v: b.retrieve("coin", mmr_lambda=v),
        "retrieve now": lambda b, v: b.retrieve("coin", now=v),
        "feedback ids": lambda b, v: b.feedback(v, True),
        "feedback outcome": lambda b, v: b.feedback([_some(b)], v),
        "feedback episode_id": lambda b, v: b.feedback([_some(b)], True, episode_id=v),
        "vote delta": lambda b, v: b.vote(_some(b), v, ["ep-1"]),
        "vote evidence": lambda b, v: b.vote(_some(b), 1, v),
        "set_importance value": lambda b, v: b.set_importance(_some(b), v),
        "archive ids": lambda b, v: b.archive(v, reason="probe"),
        "archive reason": lambda b, v: b.archive([_some(b)], reason=v),
        "restore id": lambda b, v: b.restore(v),
        "get id": lambda b, v: b.get(v),
        "edit text": lambda b, v: b.edit(_some(b), v),
        "supersede new_id": lambda b, v: b.supersede(_some(b), v, "probe"),
        "pin reason": lambda b, v: b.pin(_some(b), reason=v),
        "mark_recalled ids": lambda b, v: b.mark_recalled(v),
        "mark_recalled now": lambda b, v: b.mark_recalled([_some(b)], now=v),
        "forget now": lambda b, v: b.forget(now=v, dry_run=True),
        "snapshot name": lambda b, v: b.snapshot(v),
        "rollback name": lambda b, v: b.rollback(v),
        "export path": lambda b, v: b.export_jsonl(v if not isinstance(v, str) else work / "exports" / v),
        "import path": lambda b, v: b.import_jsonl(v),
    }
    for target, fn in calls.items():
        for name, value in BAD:
            yield "api", target, name, (lambda bank, fn=fn, value=value: fn(bank, value))


def _some(bank: MemoryBank) -> str:
    """An active memory's id (the probes' target)."""
    return bank.memories(namespace="env:probe", limit=1)[0].id


def import_probes(work: Path, counter: Iterator[int]) -> Iterator[Probe]:
    """Every field of an export line, given every bad value, then the embedding, the line and its text."""
    base = {"record": None, "embedding": None, "archived_at": None}

    def file_with(edit: Callable[[dict[str, Any]], Any]) -> Path:
        n = next(counter)
        record = MemoryRecord(id=f"mem-{n:020x}", kind=MemoryKind.FACT, namespace="env:probe",
                              text=f"imported probe {n}", created_at=1.7e9, updated_at=1.7e9)  # fmt: skip
        line: Any = {**base, "record": record.to_dict(), "embedding": [1.0] + [0.0] * 383}
        line = edit(line) or line
        path = work / f"import-{n}.jsonl"
        text = line if isinstance(line, str) else json.dumps(line, default=repr)
        path.write_text('{"format": "evolve-memory-jsonl", "version": 1}\n' + text + "\n")
        return path

    targets: dict[str, Callable[[dict[str, Any], Any], Any]] = {
        **{f"record {f}": (lambda line, v, f=f: line["record"].__setitem__(f, v)) for f in RECORD_FIELDS},
        "embedding": lambda line, v: line.__setitem__("embedding", v),
        "archived_at": lambda line, v: line.__setitem__("archived_at", v),
        "the whole record": lambda line, v: line.__setitem__("record", v),
        "the whole line": lambda line, v: {"value": v} if isinstance(v, bytes | object) and v is not None else v,
    }
    for target, edit in targets.items():
        for name, value in BAD:
            yield "import", target, name, (
                lambda bank, edit=edit, value=value: bank.import_jsonl(file_with(lambda line: edit(line, value))))
    for name, raw in [("not JSON", "{not json"), ("truncated", '{"record": {"id": '), ("empty line", ""),
                      ("a number", "5"), ("a string", '"text"'), ("a list", "[1, 2]")]:  # fmt: skip
        yield "import", "the raw line", name, (lambda bank, raw=raw: bank.import_jsonl(file_with(lambda _: raw)))


def cli_probes() -> Iterator[tuple[str, list[str]]]:
    """Every option and argument of the ``evolve memory`` commands (but reflect, which loads a model, and the
    directory options), given every bad word."""
    import typer

    commands = typer.main.get_command(memory_app).commands  # type: ignore[attr-defined]
    for name, command in sorted(commands.items()):
        if name == "reflect":
            continue
        needed = [p for p in command.params if p.param_type_name == "argument"]
        for param in command.params:
            flag = getattr(param, "is_flag", False)
            if flag or param.opts[0] in ("--memory-dir", "--chroma-url", "--data-dir"):
                continue
            for word in WORDS:
                args = [name]
                for arg in needed:
                    args.append(word if arg is param else "mem-" + "0" * 20)
                if param.param_type_name != "argument":
                    args += [param.opts[0], word]
                yield f"{name} {param.opts[0] if param.param_type_name != 'argument' else param.name}", args


def run_cli(bank_dir: Path, args: list[str]) -> str:
    with MemoryBank(MemoryConfig(path=bank_dir)) as bank:
        before = fingerprint(bank)
    result = CliRunner().invoke(memory_app, [*args, "--memory-dir", str(bank_dir)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"failure: {type(result.exception).__name__}: {str(result.exception)[:160]}"
    if "Traceback" in result.output or result.exit_code not in (0, 1, 2):
        return f"failure: exit {result.exit_code}: {result.output[-160:]!r}"
    with MemoryBank(MemoryConfig(path=bank_dir)) as bank:
        after, report = fingerprint(bank), bank.check()
    if result.exit_code == 2:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        if len(errors) != 1 or not one_line(errors[0]):
            return f"failure: not one error line: {result.stderr[-160:]!r}"
        return "refused" if after == before else "failure: refused but the bank changed"
    return "accepted" if report.ok else f"failure: the bank is inconsistent after: {report.problems()[:2]}"


def damage_probes(work: Path) -> Iterator[tuple[str, Callable[[Path], None]]]:
    """Damaged bank files: each opened afterwards (refused in one line with nothing changed, or repaired)."""
    ledger, index = "ledger.sqlite3", Path("chroma") / "chroma.sqlite3"
    yield "ledger garbage", lambda p: (p / ledger).write_bytes(b"garbage" * 100)
    yield "ledger truncated", lambda p: (p / ledger).write_bytes((p / ledger).read_bytes()[:4096])
    yield "ledger empty", lambda p: (p / ledger).write_bytes(b"")
    yield "ledger deleted", lambda p: (p / ledger).unlink()
    yield "index garbage", lambda p: (p / index).write_bytes(b"garbage" * 100)
    yield "index deleted", lambda p: shutil.rmtree(p / "chroma")
    yield "index emptied", lambda p: (p / index).write_bytes(b"")
    yield "memory dir is a file", lambda p: (shutil.rmtree(p), p.write_text("x"))


def judge_damage(source: Path, work: Path, name: str, damage: Callable[[Path], None]) -> str:
    path = work / name.replace(" ", "-")
    shutil.copytree(source, path)
    damage(path)
    files = {f: f.read_bytes() for f in ([path] if path.is_file() else path.rglob("*")) if f.is_file()}
    try:
        with MemoryBank(MemoryConfig(path=path)) as bank:
            report = bank.check()
            if not report.ok:
                return f"failure: opened but inconsistent: {report.problems()[:2]}"
            count = bank.stats()["total"]
        if name == "ledger deleted":  # a new, empty ledger beside the old index is what this case must not become
            return "failure: a bank without its ledger opened as empty" if count == 0 else "accepted"
        return "accepted"
    except (MemoryUsageError, BankDamaged) as error:
        unchanged = all(f.read_bytes() == data for f, data in files.items())
        return "refused" if one_line(error) and unchanged else f"failure: {str(error)[:160]}"
    except Exception as error:  # what the catalogue looks for
        return f"failure: {type(error).__name__}: {str(error)[:160]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", default="api,import,cli,damage")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bad_input.json"))
    args = parser.parse_args()
    groups = args.groups.split(",")
    started, outcomes = time.perf_counter(), []
    with tempfile.TemporaryDirectory(prefix="evolve-bad-input-") as tmp:
        work = Path(tmp)
        (work / "exports").mkdir()
        bank = MemoryBank(MemoryConfig(path=work / "bank"))
        bank.insert_many([MemoryInput(text=t, namespace="env:probe") for t in
                          ("the coin is in the attic", "milk goes in the fridge", "open the door first")])  # fmt: skip
        counter = iter(range(10**9))
        probes = [p for g in ("api", "import") if g in groups
                  for p in (api_probes(work, counter) if g == "api" else import_probes(work, counter))]  # fmt: skip
        for n, (group, target, value, call) in enumerate(probes, 1):
            outcomes.append({"group": group, "target": target, "value": value, "outcome": judge(bank, call)})
            if n % 100 == 0:
                print(f"{n}/{len(probes)} {group} probes", file=sys.stderr)
        bank.close()
        if "cli" in groups:
            for n, (target, argv) in enumerate(cli_probes(), 1):
                outcomes.append({"group": "cli", "target": target, "value": repr(argv[-1])[:40],
                                 "outcome": run_cli(work / "bank", argv)})  # fmt: skip
                if n % 50 == 0:
                    print(f"{n} cli probes", file=sys.stderr)
        if "damage" in groups:
            for name, damage in damage_probes(work):
                outcomes.append({"group": "damage", "target": name, "value": "-",
                                 "outcome": judge_damage(work / "bank", work, name, damage)})  # fmt: skip
    summary: dict[str, dict[str, int]] = {}
    for o in outcomes:
        row = summary.setdefault(o["group"], {"tried": 0, "refused": 0, "accepted": 0, "failures": 0})
        row["tried"] += 1
        row["failures" if o["outcome"].startswith("failure") else o["outcome"]] += 1
    failures = [o for o in outcomes if o["outcome"].startswith("failure")]
    print(f"{'group':<8} {'tried':>6} {'refused':>8} {'accepted':>9} {'failures':>9}")
    for group, row in summary.items():
        print(f"{group:<8} {row['tried']:>6} {row['refused']:>8} {row['accepted']:>9} {row['failures']:>9}")
    print(f"{'all':<8} {len(outcomes):>6} {'':>8} {'':>9} {len(failures):>9}   ({time.perf_counter() - started:.0f} s)")
    for f in failures[:40]:
        print(f"  FAIL {f['group']} {f['target']} = {f['value']}: {f['outcome']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"commit": git_commit(), "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                               "embedder": "all-MiniLM-L6-v2", "summary": summary, "tried": len(outcomes),
                               "failures": failures, "outcomes": outcomes}, indent=1))  # fmt: skip
    print(f"saved {out}")


if __name__ == "__main__":
    main()
