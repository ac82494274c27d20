"""Shared fixtures: the repository root, the shared data folder, and the real local model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only evaluation data beside the project (skips the test when absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_llm() -> Iterator[object]:
    """The real small local model (Qwen2.5-Coder-0.5B in process), loaded once per session."""
    from agent.llm import LLMConfig, make_chat_model

    yield make_chat_model(LLMConfig(backend="local-small", max_tokens=128, n_ctx=4096))
