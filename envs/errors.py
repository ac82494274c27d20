"""Errors raised by the ``envs`` package, and helpers that write their messages.

Two kinds, following the house style:

* :class:`EnvUsageError` (a ``ValueError``): the caller asked for something that does not exist or is
  not allowed (unknown env id, bad preset or parameter, seed outside the split, gold path on a
  held-out split, missing data file). The message names the bad value and what would be accepted.
* :class:`EnvRuntimeError` (a ``RuntimeError``): a real component is missing (Java, an environment
  package). The message says what to install.

Invalid *actions* are not errors: adapters return them to the agent as an observation and count them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

JAVA_INSTALL = "apt-get install -y openjdk-17-jre-headless"
"""The command that installs the Java runtime TextWorldExpress and ScienceWorld need."""

PIP_INSTALL = {
    "textworld_express": "pip install textworld-express==1.1.0",
    "scienceworld": "pip install scienceworld==1.2.3",
    "reasoning_gym": "pip install reasoning-gym==0.1.25",
}
"""The pip command that installs each third-party environment package, by import name."""


class EnvUsageError(ValueError):
    """Bad input from the caller: unknown id, bad parameter, seed outside the split, missing data."""


class EnvRuntimeError(RuntimeError):
    """A runtime component (Java, an environment package) is missing or failed to start."""


class EnvContractError(AssertionError):
    """An environment adapter broke the :class:`envs.base.Env` contract (raised by ``check_env``)."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return a ``" Did you mean 'x'?"`` suffix naming the closest choices, or ``""`` if none is close.

    Args:
        value: The string the caller gave.
        choices: The accepted strings.

    Returns:
        A sentence to append to an error message (with a leading space), or an empty string.
    """
    close = difflib.get_close_matches(value, list(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def check_choice(name: str, value: object, allowed: Iterable[str], *, where: str = "") -> str:
    """Validate that ``value`` is one of ``allowed``.

    Args:
        name: The parameter's name, used in the message.
        value: The value the caller gave.
        allowed: The accepted values.
        where: Optional context for the message (e.g. the env id).

    Returns:
        ``value`` as a string, when accepted.

    Raises:
        EnvUsageError: naming the parameter, the bad value, the allowed values and the closest match.
    """
    options = list(allowed)
    if isinstance(value, str) and value in options:
        return value
    ctx = f" for {where}" if where else ""
    hint = did_you_mean(value, options) if isinstance(value, str) else ""
    raise EnvUsageError(
        f"Unknown {name} {value!r}{ctx}. Allowed values: {', '.join(repr(o) for o in options)}.{hint}"
    )


def missing_package(module: str, exc: BaseException | None = None) -> EnvRuntimeError:
    """Build the error raised when an environment package cannot be imported.

    Args:
        module: The import name (``textworld_express``, ``scienceworld``, ``reasoning_gym``).
        exc: The original ``ImportError``, quoted in the message.

    Returns:
        An :class:`EnvRuntimeError` whose message holds the install command.
    """
    cmd = PIP_INSTALL.get(module, f"pip install {module}")
    cause = f" ({exc})" if exc is not None else ""
    return EnvRuntimeError(
        f"The environment package {module!r} is not installed{cause}. Install it with: {cmd}"
    )


def missing_java(detail: str = "") -> EnvRuntimeError:
    """Build the error raised when no Java runtime is found or the JVM fails to start.

    Args:
        detail: What went wrong, quoted in the message.

    Returns:
        An :class:`EnvRuntimeError` whose message holds the install command.
    """
    extra = f" ({detail})" if detail else ""
    return EnvRuntimeError(
        "TextWorldExpress and ScienceWorld need a Java 17 runtime on PATH, and none could be started"
        f"{extra}. Install it with: {JAVA_INSTALL}"
    )
