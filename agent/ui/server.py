"""The dashboard's HTTP server: static page + a small JSON API over one memory bank and a runs directory.

Standard library only (:class:`http.server.ThreadingHTTPServer`); requests are served one bank
operation at a time behind a lock. Routes:

* ``GET /`` and ``/static/*``: the page;
* ``GET /api/overview``, ``/api/memories?q=&kind=&namespace=&status=&limit=``, ``/api/memories/ID``,
  ``/api/retention``, ``/api/runs``, ``/api/runs/NAME``, and ``GET /runs/NAME/FILE.png``;
* ``POST /api/memories/ID/{forget,pin,unpin,restore}``: only with ``allow_edits`` (else 403), and only
  with the ``X-Evolve-Dashboard`` header, which a page on another site cannot send without a CORS
  preflight this server never grants (so a web page cannot edit your memories behind your back).

Anything absent answers 404 with ``{"error": "..."}``. Requests whose ``Host`` header is not the bound
address are refused (DNS-rebinding guard) unless the server was deliberately made public.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import mimetypes
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from agent.errors import UsageError
from agent.ui import data
from agent.ui.data import NotFound
from memory import MemoryBank
from memory.errors import MemoryBankError

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
EDIT_HEADER = "X-Evolve-Dashboard"
EDITS = ("forget", "pin", "unpin", "restore")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, *, public_ok: bool) -> None:
    """Refuse a non-loopback address unless the caller explicitly accepted exposing the dashboard.

    Raises:
        UsageError: ``host`` is not loopback and ``public_ok`` is False.
    """
    if not is_loopback(host) and not public_ok:
        raise UsageError(
            f"--host {host} would let anyone who can reach this machine read your memories; "
            "bind to 127.0.0.1 (the default), or add --i-know-this-is-public to do it anyway"
        )


@dataclass
class Dashboard:
    """The state behind the server: the bank, the runs directory, whether edits are allowed."""

    bank: MemoryBank
    """The memory bank shown (opened by the caller, closed by the caller)."""
    runs_dir: Path
    """Where ``*/results.json`` and PNG figures of benchmark runs are read from."""
    allow_edits: bool = False
    """Allow forget / pin / unpin / restore from the page."""
    clock: Callable[[], float] | None = None
    """The "now" of retention figures; default: the bank's clock."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Serialises bank access across request threads."""

    def now(self) -> float:
        """The time retention is judged at."""
        return (self.clock or self.bank.clock)()

    def get(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        """Answer a GET on an API path.

        Raises:
            NotFound: an unknown path or an absent memory or run.
        """
        parts = [unquote(p) for p in path.strip("/").split("/")][1:]  # drop "api"
        with self.lock:
            now = self.now()
            if parts == ["overview"]:
                return data.overview(self.bank, allow_edits=self.allow_edits, now=now)
            if parts == ["memories"]:
                return data.search(self.bank, now=now, query=query.get("q", ""), kind=query.get("kind", ""),
                                   namespace=query.get("namespace", ""), status=query.get("status", "active"),
                                   limit=_int(query.get("limit"), 50))  # fmt: skip
            if len(parts) == 2 and parts[0] == "memories":
                return data.detail(self.bank, parts[1], now)
            if parts == ["retention"]:
                return data.retention_overview(self.bank, now)
        if parts == ["runs"]:
            return data.runs(self.runs_dir)
        if len(parts) == 2 and parts[0] == "runs":
            return data.run_results(self.runs_dir, parts[1])
        raise NotFound(f"no API endpoint {path!r}; see /api/overview, /api/memories, /api/retention, /api/runs")

    def edit(self, memory_id: str, action: str) -> dict[str, Any]:
        """Apply an edit (the caller has checked that edits are allowed).

        Raises:
            NotFound: unknown action or memory.
        """
        if action not in EDITS:
            raise NotFound(f"no edit {action!r}; use one of {', '.join(EDITS)}")
        with self.lock:
            try:
                self.bank.get(memory_id)
            except MemoryBankError:
                raise NotFound(f"no memory with id {memory_id!r} in {self.bank.config.path}") from None
            reason = "from the dashboard"
            if action == "forget":
                self.bank.archive([memory_id], reason=reason, actor="dashboard")
            elif action == "pin":
                self.bank.pin(memory_id, actor="dashboard", reason=reason)
            elif action == "unpin":
                self.bank.unpin(memory_id, actor="dashboard", reason=reason)
            else:
                self.bank.restore(memory_id, actor="dashboard", reason=reason)
            return {"ok": True, "action": action, "memory": data.row(self.bank, self.bank.get(memory_id), self.now())}


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _static(name: str) -> bytes | None:
    if "/" in name or name.startswith("."):
        return None
    item = resources.files("agent.ui").joinpath("static", name)
    return item.read_bytes() if item.is_file() else None


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the :class:`Dashboard` of its server."""

    server: DashboardServer
    server_version = "evolve-dashboard"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload, default=str).encode("utf-8"), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message, "status": status})

    def _host_ok(self) -> bool:
        if self.server.public:
            return True
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        return is_loopback(host)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        """Serve the page, its static files, figures and the JSON API."""
        if not self._host_ok():
            self._error(HTTPStatus.FORBIDDEN, "this dashboard answers only on its loopback address")
            return
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path
        try:
            if path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, _static("index.html") or b"", "text/html; charset=utf-8")
            elif path.startswith("/static/"):
                body = _static(path.removeprefix("/static/"))
                if body is None:
                    raise NotFound(f"no static file {path!r}")
                kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
                self._send(HTTPStatus.OK, body, kind + ("; charset=utf-8" if kind.startswith("text/") else ""))
            elif path.startswith("/runs/"):
                parts = [unquote(p) for p in path.split("/")[2:]]
                if len(parts) != 2:
                    raise NotFound(f"no figure {path!r}; figures are /runs/RUN/FILE.png")
                self._send(HTTPStatus.OK, data.run_png(self.server.dashboard.runs_dir, *parts).read_bytes(),
                           "image/png")  # fmt: skip
            elif path.startswith("/api/"):
                self._json(HTTPStatus.OK, self.server.dashboard.get(path, query))
            else:
                raise NotFound(f"nothing at {path!r}; the dashboard is at /")
        except NotFound as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc))
        except MemoryBankError as exc:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        """Edits: forget, pin, unpin, restore (refused unless the dashboard allows edits)."""
        if not self._host_ok():
            self._error(HTTPStatus.FORBIDDEN, "this dashboard answers only on its loopback address")
            return
        parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]
        if len(parts) != 4 or parts[:2] != ["api", "memories"]:
            self._error(HTTPStatus.NOT_FOUND, f"no edit endpoint {self.path!r}; use /api/memories/ID/ACTION")
            return
        dashboard = self.server.dashboard
        if not dashboard.allow_edits:
            self._error(HTTPStatus.FORBIDDEN, "the dashboard is read-only; restart it with --allow-edits to "
                        "forget, pin or restore memories")  # fmt: skip
            return
        if self.headers.get(EDIT_HEADER) != "1":
            self._error(HTTPStatus.FORBIDDEN, f"edits need the {EDIT_HEADER}: 1 header (sent by the dashboard page)")
            return
        try:
            self._json(HTTPStatus.OK, dashboard.edit(parts[2], parts[3]))
        except NotFound as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc))
        except MemoryBankError as exc:
            self._error(HTTPStatus.CONFLICT, str(exc))


class DashboardServer(ThreadingHTTPServer):
    """A threading HTTP server carrying the :class:`Dashboard`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], dashboard: Dashboard, *, public: bool = False) -> None:
        """Bind ``address`` (port 0: a free port) and serve ``dashboard``."""
        self.dashboard = dashboard
        self.public = public
        if ":" in address[0]:
            import socket

            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8765``."""
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}"


def make_server(
    bank: MemoryBank,
    runs_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    allow_edits: bool = False,
    public_ok: bool = False,
    clock: Callable[[], float] | None = None,
) -> DashboardServer:
    """Build (and bind) the dashboard server; call ``serve_forever()`` on it.

    Raises:
        UsageError: a non-loopback host without ``public_ok``, or the port is taken.
    """
    check_host(host, public_ok=public_ok)
    try:
        return DashboardServer((host, port), Dashboard(bank, runs_dir, allow_edits, clock),
                               public=not is_loopback(host))  # fmt: skip
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None
