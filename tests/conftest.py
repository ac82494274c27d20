"""Shared fixtures: the repository root, the shared data folder, the real embedder and the real local model."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

Embed = Callable[[list[str]], np.ndarray]
"""The type of the ``embed`` fixture."""


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


@pytest.fixture(scope="session")
def embed() -> Embed:
    """The real MiniLM embedder, loaded once per session, with a cache (tests embed the same texts)."""
    from memory.embeddings import Embedder

    embedder = Embedder.shared()
    cache: dict[str, np.ndarray] = {}

    def cached(texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            for t, v in zip(missing, embedder.embed(missing), strict=True):
                cache[t] = v
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)

    return cached
