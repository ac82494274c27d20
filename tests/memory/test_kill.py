"""A process killed with SIGKILL in the middle of insert, forget or import loses nothing it acknowledged, and the next
open finishes what it left; several processes writing through one Chroma server lose and duplicate nothing (issue 24).

The child processes print each acknowledged id as the bank returns it; the parent kills them at a set moment and
checks the reopened bank against what was printed. The embedder is the fast hashing one (durability does not
depend on which vectors are written); Chroma and SQLite are real.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from memory import MemoryBank, MemoryConfig, MemoryInput, MemoryStatus
from tests.memory.fakes import hash_embed

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from memory import MemoryBank, MemoryConfig, MemoryInput
    from tests.memory.fakes import hash_embed
    op, path, url, tag = sys.argv[1], Path(sys.argv[2]), sys.argv[3] or None, sys.argv[4]
    bank = MemoryBank(MemoryConfig(path=path, server_url=url, shared_writers=True), embed=hash_embed)
    print("ready", flush=True)
    if op == "insert":
        for i in range(100_000):
            texts = [f"{{tag}} note {{i}}-{{j}}" for j in range(5)] + [f"shared note {{i % 20}}"]
            for mid, text in zip(bank.insert_many([MemoryInput(text=t) for t in texts]), texts):
                print(json.dumps([mid, text]), flush=True)
            if tag != "kill" and i == 40:
                break
    elif op == "forget":
        report = bank.forget(now=time.time() + 10 * 365 * 86400)
        print(json.dumps(["forgot", report.archived]), flush=True)
    elif op == "import":
        print(json.dumps(["imported", bank.import_jsonl(sys.argv[5])]), flush=True)
    bank.close()
    """
)


def _start(op: str, path: Path, url: str = "", tag: str = "kill", *extra: str) -> subprocess.Popen[str]:
    script = CHILD.format(root=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", script, op, str(path), url, tag, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""


def _kill(proc: subprocess.Popen[str]) -> list[str]:
    """SIGKILL the child; every line it printed that was not read yet."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the child finished before it was killed: the test proved nothing"
    return proc.stdout.read().splitlines() if proc.stdout else []


def _kill_when(proc: subprocess.Popen[str], ledger: Path, sql: str, timeout: float = 120) -> list[str]:
    """Kill the child as soon as ``sql`` (a count) on its ledger is non-zero: mid-way through its work."""
    _ready(proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=0.1)) as conn, \
                contextlib.suppress(sqlite3.OperationalError):  # busy: look again  # fmt: skip
            if conn.execute(sql).fetchone()[0]:
                break
        time.sleep(0.005)
    return _kill(proc)


def _reopened(path: Path) -> MemoryBank:
    bank = MemoryBank(MemoryConfig(path=path), embed=hash_embed)
    assert bank.check().ok, bank.check().problems()  # the open finished what the killed process left
    return bank


@pytest.mark.parametrize("after", [1, 200])
def test_kill_during_inserts_loses_nothing_acknowledged(tmp_path: Path, after: int) -> None:
    path = tmp_path / "bank"
    MemoryBank(MemoryConfig(path=path), embed=hash_embed).close()
    proc = _start("insert", path)
    _ready(proc)
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(after)]  # killed right after the bank acknowledged these
    lines += _kill(proc)
    acknowledged = dict(json.loads(line) for line in lines if line.startswith("["))
    with _reopened(path) as bank:
        found = {r.id: r.text for r in bank.get_many(list(acknowledged))}
        assert found == acknowledged and sum(line.startswith("[") for line in lines) >= after
        texts = [r.text for r in bank.memories()]
        assert len(texts) == len(set(texts))  # the same text once, killed or not


def test_kill_during_a_forget_sweep_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bank"
    with MemoryBank(MemoryConfig(path=path), embed=hash_embed) as bank:
        for start in range(0, 6000, 1000):
            bank.insert_many([MemoryInput(text=f"old note {i}") for i in range(start, start + 1000)])
    archived = "SELECT COUNT(*) FROM memories WHERE status = 'archived'"
    _kill_when(_start("forget", path), path / "ledger.sqlite3", archived)
    with _reopened(path) as bank:
        assert bank.stats()["total"] == 6000  # archived or still active: nothing deleted
        bank.forget(now=time.time() + 10 * 365 * 86400)  # the sweep can be run again to the end
        assert len(bank.memories(status=MemoryStatus.ARCHIVED)) == 6000
        assert bank.check().ok


@pytest.mark.parametrize("moment", ["reading", "written"])
def test_kill_during_an_import_is_all_or_nothing(tmp_path: Path, moment: str) -> None:
    source, path = tmp_path / "source", tmp_path / "bank"
    with MemoryBank(MemoryConfig(path=source), embed=hash_embed) as bank:
        for start in range(0, 5000, 1000):
            bank.insert_many([MemoryInput(text=f"imported note {i}") for i in range(start, start + 1000)])
        bank.export_jsonl(tmp_path / "dump.jsonl")
    with MemoryBank(MemoryConfig(path=path), embed=hash_embed) as bank:
        bank.insert("a memory from before")
    proc = _start("import", path, "", "kill", str(tmp_path / "dump.jsonl"))
    if moment == "reading":  # while the file is read and checked
        _ready(proc)
        time.sleep(0.3)
        _kill(proc)
    else:  # the ledger holds the import, the vector index not yet all of it
        _kill_when(proc, path / "ledger.sqlite3", "SELECT COUNT(*) > 1 FROM memories")
    with _reopened(path) as bank:
        assert bank.stats()["total"] == (1 if moment == "reading" else 5001)


def test_processes_writing_through_one_chroma_server_lose_and_duplicate_nothing(
    tmp_path: Path, chroma_server: str
) -> None:
    path = tmp_path / "bank"
    MemoryBank(MemoryConfig(path=path, server_url=chroma_server), embed=hash_embed).close()
    procs = [_start("insert", path, chroma_server, f"writer{n}") for n in range(3)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-2000:]
    pairs = [json.loads(line) for out, _ in outputs for line in out.splitlines() if line.startswith("[")]
    ids_of: dict[str, set[str]] = {}
    for mid, text in pairs:
        ids_of.setdefault(text, set()).add(mid)
    assert all(len(ids) == 1 for ids in ids_of.values())  # the same text got the same id in every process
    with MemoryBank(MemoryConfig(path=path, server_url=chroma_server), embed=hash_embed) as bank:
        assert bank.check().ok, bank.check().problems()
        assert {r.text for r in bank.memories()} == set(ids_of) and bank.stats()["total"] == len(ids_of)
        assert len(ids_of) == 3 * 41 * 5 + 20
