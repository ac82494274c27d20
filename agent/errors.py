"""Errors of the agent package.

Three kinds, as the house style asks: a :class:`UsageError` for bad input that the user can fix (it
names the bad value and the fix), a :class:`ComponentError` when a real component (model file, Java,
Chroma, an endpoint) is missing or unreachable (it says what to install or start), and recoverable
model mistakes, which are never raised to the user but counted and logged by the caller.
"""

from __future__ import annotations


class EvolveError(Exception):
    """Base class of every error this project raises on purpose."""


class UsageError(EvolveError, ValueError):
    """Bad input from the user: a wrong value, id, path or option. The message says how to fix it."""


class ComponentError(EvolveError, RuntimeError):
    """A real component is missing, broken or unreachable. The message says what to install or start."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(f"{what}\n  Fix: {fix}")
        self.what = what
        self.fix = fix


class ModelOutputError(EvolveError):
    """The model's reply could not be used (unparseable, schema-invalid) after every retry.

    Callers that run episodes catch it, count it and continue; the raw text is kept on the error.
    """

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw
