"""The ``evolve`` command line: one module per command group, each thin (parse, call the library, print).

:mod:`agent.cli.app` builds the root command and registers every command explicitly; environment variables are
read only in :mod:`agent.cli.options`.
"""
