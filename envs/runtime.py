"""Importing the third-party environment packages and starting their Java servers, with clear errors.

The packages are imported lazily (``import envs`` stays cheap and works without them); a missing package
or Java runtime becomes an :class:`~envs.errors.EnvRuntimeError` that says what to install.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

from envs.errors import missing_java, missing_package

T = TypeVar("T")


def import_package(module: str) -> ModuleType:
    """Import a third-party environment package by name.

    Args:
        module: ``"textworld_express"``, ``"scienceworld"`` or ``"reasoning_gym"``.

    Returns:
        The imported module.

    Raises:
        EnvRuntimeError: if it is not installed, with the pip command that installs it.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing_package(module, exc) from exc


def start_java_env(factory: Callable[[], T]) -> T:
    """Start a Java-backed environment server (one JVM per call).

    Args:
        factory: Builds the third-party environment object (launches the JVM).

    Returns:
        What ``factory`` returned.

    Raises:
        EnvRuntimeError: if ``java`` is not on PATH or the JVM fails to start.
    """
    if shutil.which("java") is None:
        raise missing_java("no 'java' executable on PATH")
    from py4j.protocol import Py4JError  # py4j comes with both Java-backed packages

    try:
        return factory()
    except (OSError, Py4JError) as exc:
        raise missing_java(f"{type(exc).__name__}: {exc}") from exc
