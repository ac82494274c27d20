"""``python -m agent.cli``: the same as the ``evolve`` command."""

from agent.cli.app import app

app()
