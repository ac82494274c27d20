"""Fixtures of the memory tests: a real ``chroma run`` server, and banks on it and embedded (the shared embedder
is in ``tests/conftest.py``).

The contract tests run every bank operation against an embedded ``PersistentClient`` in ``tmp_path`` and
against a Chroma server started here on a free loopback port (stopped at the end of the session).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memory import MemoryBank, MemoryConfig
from tests.conftest import Embed

CHROMA = Path(sys.executable).parent / "chroma"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real ``chroma run`` server on loopback, for the whole session."""
    if not CHROMA.exists():
        pytest.skip(f"chroma CLI not found at {CHROMA}")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = open(data / "server.log", "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        import httpx

        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not start: {(data / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


BankFactory = Callable[..., MemoryBank]


@pytest.fixture(params=["embedded", "server"])
def make_bank(request: pytest.FixtureRequest, tmp_path: Path, embed: Embed) -> Iterator[BankFactory]:
    """Build banks on the embedded store or on the shared server (fresh collections per test)."""
    banks: list[MemoryBank] = []
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    prefix = "t" + uuid.uuid4().hex[:10]

    def factory(clock: Callable[[], float] | None = None, sub: str = "bank", **overrides: Any) -> MemoryBank:
        overrides.setdefault("collection_prefix", prefix)
        config = MemoryConfig(path=tmp_path / sub, server_url=url, **overrides)
        bank = MemoryBank(config, embed=embed, **({"clock": clock} if clock else {}))
        banks.append(bank)
        return bank

    factory.mode = request.param  # type: ignore[attr-defined]
    yield factory
    for bank in banks:
        bank.close()


@pytest.fixture
def bank(tmp_path: Path, embed: Embed) -> Iterator[MemoryBank]:
    """An embedded bank with a fixed clock at t0 = 1.7e9 (advance it with ``bank.clock_at[0] = ...``)."""
    now = [1_700_000_000.0]
    b = MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=embed, clock=lambda: now[0])
    b.clock_at = now  # type: ignore[attr-defined]
    yield b
    b.close()
