"""Shared fixtures for the environment tests: skips for missing Java/packages, and the shared data folders.

Test modules opt in with ``pytestmark = pytest.mark.usefixtures("require_twx")`` (etc.), so a machine
without Java or an environment package skips those modules cleanly instead of failing.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
"""The read-only shared data folder (``../shared/data`` from the project root)."""


def _skip_unless(module: str, java: bool) -> None:
    if java and shutil.which("java") is None:
        pytest.skip("needs Java 17: apt-get install -y openjdk-17-jre-headless")
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"needs the {module} package")


@pytest.fixture(scope="session")
def require_twx() -> None:
    """Skip unless Java and textworld-express are available."""
    _skip_unless("textworld_express", java=True)


@pytest.fixture(scope="session")
def require_sciworld() -> None:
    """Skip unless Java and scienceworld are available."""
    _skip_unless("scienceworld", java=True)


@pytest.fixture(scope="session")
def require_rg() -> None:
    """Skip unless reasoning-gym is available."""
    _skip_unless("reasoning_gym", java=False)


@pytest.fixture(scope="session")
def locomo_dir() -> Path:
    """The shared LoCoMo folder, or skip."""
    path = DATA / "locomo-dev"
    if not path.is_dir():
        pytest.skip(f"shared LoCoMo data not found at {path}")
    return path


@pytest.fixture(scope="session")
def memorybank_dir() -> Path:
    """The shared MemoryBank folder, or skip."""
    path = DATA / "memorybank"
    if not (path / "memory_bank_en.json").is_file():
        pytest.skip(f"shared MemoryBank data not found at {path}")
    return path
