"""Serve a local model as an OpenAI-compatible API on loopback (``llama_cpp.server``).

Used by ``evolve serve-model`` and by tests of the ``openai`` backend, which talk to the project's
own server instead of a mock. :class:`ModelServer` starts the server in a child process, waits until
it answers, and stops it on exit.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from agent.errors import ComponentError, UsageError
from agent.llm.build import exit_cause
from agent.llm.config import LLMConfig
from agent.llm.models import LOCAL_MODELS, ensure_model
from agent.llm.probe import ensure_decodes

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_command(config: LLMConfig, host: str, port: int) -> list[str]:
    """The command line that serves ``config``'s local model on ``host:port``."""
    if config.backend not in LOCAL_MODELS:
        raise UsageError(
            f"serve-model serves a local model; backend {config.backend!r} is not one "
            f"(choose {' or '.join(LOCAL_MODELS)})"
        )
    spec = LOCAL_MODELS[config.backend]
    path = ensure_model(spec, config.cache_dir)
    ensure_decodes(path, n_threads=config.n_threads)  # a build that crashes here fails with its fix, not a signal
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(path),
        "--model_alias", spec.name,
        "--host", host,
        "--port", str(port),
        "--n_ctx", str(config.n_ctx),
        "--n_threads", str(config.n_threads),
        "--n_threads_batch", str(config.n_threads),
        "--n_batch", str(config.n_batch),
        "--seed", str(config.seed),
    ]  # fmt: skip


def wait_until_ready(base_url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``{base_url}/models`` until it answers; raise :class:`ComponentError` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ComponentError(
                f"the model server stopped before it was ready ({exit_cause(process.returncode)})",
                "run the same command by hand to see its log: evolve serve-model --port <free port>",
            )
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                json.loads(response.read())
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            time.sleep(0.3)
    raise ComponentError(f"no model server answered at {base_url} within {timeout:.0f} s", "check its log")


class ModelServer:
    """A local OpenAI-compatible model server in a child process (a context manager).

    Example:
        >>> with ModelServer(LLMConfig(backend="local-small")) as server:  # doctest: +SKIP
        ...     chat = make_chat_model(LLMConfig(backend="openai", base_url=server.base_url, model="local"))
    """

    def __init__(
        self,
        config: LLMConfig,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        if host not in LOOPBACK:
            raise UsageError(f"host {host!r} is not loopback; the model server binds to 127.0.0.1 only")
        self.config = config
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, ending in ``/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> ModelServer:
        """Start the server and wait until it answers."""
        command = server_command(self.config, self.host, self.port)
        log = self.log_path.open("wb") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(self.base_url, self.startup_timeout, self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
