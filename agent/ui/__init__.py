"""The local web dashboard (``evolve ui``): browse and search memories, follow a memory's evidence chain
back to the turns and episodes it came from, read its history, watch retention and utility over time,
and view benchmark results and learning curves.

Standard library only on the server side (:mod:`http.server`); the page is static HTML, JS and CSS
shipped as package data (``agent/ui/static``), no build step. Read-only unless started with
``allow_edits``; bound to loopback unless the caller explicitly accepts a public address.
"""

from agent.ui.data import NotFound
from agent.ui.server import Dashboard, DashboardServer, check_host, make_server

__all__ = ["Dashboard", "DashboardServer", "NotFound", "check_host", "make_server"]
