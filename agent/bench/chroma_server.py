"""A ``chroma run`` server on a free loopback port for the duration of a bench with workers."""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from agent.errors import ComponentError
from agent.llm.server import free_port

log = logging.getLogger(__name__)


class ChromaServer:
    """A ``chroma run`` server on a free loopback port, data under ``data_dir`` (a context manager)."""

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", startup_timeout: float = 60.0) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = 0
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the server."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> ChromaServer:
        """Start the server and wait until its heartbeat answers."""
        beside = Path(sys.executable).parent / "chroma"
        command = str(beside) if beside.exists() else shutil.which("chroma")
        if command is None:
            raise ComponentError(
                "the `chroma` command (the Chroma server) was not found",
                "install chromadb in this environment, or pass --chroma-url of a running server",
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port(self.host)
        log_path = self.data_dir / "server.log"
        with log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [command, "run", "--path", str(self.data_dir), "--host", self.host, "--port", str(self.port)],
                stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal must not stop it before the workers close
            )  # fmt: skip
        deadline = time.monotonic() + self.startup_timeout
        heartbeat = f"{self.url}/api/v2/heartbeat"
        while True:
            with (
                contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
                urllib.request.urlopen(heartbeat, timeout=2) as response,
            ):
                if response.status == 200:
                    log.info("chroma server at %s (data in %s)", self.url, self.data_dir)
                    return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-1500:]
                self.stop()
                raise ComponentError(f"`chroma run` did not start at {self.url}; its log ends with:\n{tail}",
                                     f"check {log_path}, or start a server yourself and pass --chroma-url")  # fmt: skip
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 15 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
