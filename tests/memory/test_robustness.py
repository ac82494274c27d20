"""Bad environments: unreachable server, store outage, crash mid-insert, two writer processes."""

from __future__ import annotations

import multiprocessing as mp
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from memory import MemoryBank, MemoryConfig, MemoryInput, StoreUnavailable
from memory.store import ChromaStore
from tests.memory.fakes import hash_embed

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_says_what_to_start(tmp_path: Path) -> None:
    port = _closed_port()
    with pytest.raises(StoreUnavailable, match=f"chroma run --path DIR --host 127.0.0.1 --port {port}"):
        MemoryBank(MemoryConfig(path=tmp_path, server_url=f"http://127.0.0.1:{port}"), embed=hash_embed)


class FlakyStore(ChromaStore):
    """An embedded store whose writes fail while ``down`` is set."""

    down = False

    def add(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if self.down:
            raise StoreUnavailable("no Chroma server answers (simulated outage)")
        super().add(*args, **kwargs)


def test_outage_during_insert_keeps_memories_and_sync_pushes_them(tmp_path: Path) -> None:
    store = FlakyStore(path=tmp_path / "chroma")
    bank = MemoryBank(MemoryConfig(path=tmp_path), store=store, embed=hash_embed)
    bank.insert("before the outage")
    store.down = True
    with pytest.raises(StoreUnavailable, match="kept in the ledger"):
        bank.insert_many([MemoryInput(text="during the outage"), MemoryInput(text="also during it")])
    assert bank.stats()["unsynced"] == 2 and bank.stats()["active"] == 3
    store.down = False
    assert bank.sync() == 2
    vec = hash_embed(["during the outage"])[0]
    hit = bank.retrieve("during the outage", k=1, query_embedding=vec)[0]
    assert hit.text == "during the outage" and bank.stats()["unsynced"] == 0
    bank.close()


CRASH = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from memory import MemoryBank, MemoryConfig, MemoryInput
    from memory.store import ChromaStore
    from tests.memory.fakes import hash_embed
    bank = MemoryBank(MemoryConfig(path=Path({path!r})), embed=hash_embed)
    bank.insert("written before the crash")
    ChromaStore.add = lambda *a, **k: os._exit(9)   # the process dies between ledger commit and Chroma add
    bank.insert_many([MemoryInput(text=f"crash victim {{i}}") for i in range(5)])
    """
)


def test_crash_between_ledger_and_chroma_loses_nothing(tmp_path: Path) -> None:
    script = CRASH.format(root=str(ROOT), path=str(tmp_path / "bank"))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr[-2000:]
    bank = MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=hash_embed)  # reconciles on open
    assert bank.stats()["active"] == 6 and bank.stats()["unsynced"] == 0
    for i in range(5):
        text = f"crash victim {i}"
        hit = bank.retrieve(text, k=1, query_embedding=hash_embed([text])[0], record=False)[0]
        assert hit.text == text
    bank.close()


def _writer(path: str, tag: str, n: int) -> None:
    bank = MemoryBank(MemoryConfig(path=Path(path)), embed=hash_embed)
    for i in range(0, n, 5):
        bank.insert_many([MemoryInput(text=f"{tag} memory {j}", namespace="env:shared") for j in range(i, i + 5)])
        bank.retrieve(f"{tag} memory {i}", k=2, namespace="env:shared")
    bank.close()


def test_two_processes_insert_into_one_embedded_bank(tmp_path: Path) -> None:
    path = tmp_path / "bank"
    MemoryBank(MemoryConfig(path=path), embed=hash_embed).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), tag, 60)) for tag in ("alpha", "beta")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
        assert p.exitcode == 0
    bank = MemoryBank(MemoryConfig(path=path), embed=hash_embed)
    assert bank.stats()["active"] == 120 and bank.stats()["unsynced"] == 0
    texts = [f"{tag} memory {j}" for tag in ("alpha", "beta") for j in range(60)]
    vectors = hash_embed(texts)
    found = [
        bank.retrieve(t, k=1, namespace="env:shared", query_embedding=v, record=False)[0].text
        for t, v in zip(texts, vectors, strict=True)
    ]
    assert found == texts  # every vector is findable: neither process overwrote the other's index
    assert np.isfinite(vectors).all()
    bank.close()
