"""Which agent code played a bench: a hash of the project's source and the git commit, when there is one.

A bench refuses to add episodes played by other code to its table (unless told to, and then it says so), because
a figure that mixes code versions measures no one version.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agent", "memory", "envs")


def code_hash(root: Path = ROOT) -> str:
    """sha256 (first 12 hex digits) of every ``.py`` file of the agent, memory and envs packages, by path."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def git_commit(root: Path = ROOT) -> str:
    """``git describe --always --dirty`` of the checkout, or '' outside one."""
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True, text=True,
                              timeout=10)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def code_identity() -> dict[str, str]:
    """``{"code": hash, "commit": describe}`` for a bench's config and results."""
    return {"code": code_hash(), "commit": git_commit()}
