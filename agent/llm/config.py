"""Typed configuration of the LLM layer (one pydantic model, no environment reads here)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

Backend = Literal["local", "local-small", "openai"]
BACKENDS: tuple[Backend, ...] = ("local", "local-small", "openai")


class BackendChoice(str, Enum):
    """The backends as an Enum, for command-line choices."""

    local = "local"
    local_small = "local-small"
    openai = "openai"


def default_cache_dir() -> Path:
    """Where assembled model files live: ``$XDG_CACHE_HOME/evolve`` or ``~/.cache/evolve``."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evolve"


class LLMConfig(BaseModel):
    """How to build the chat model.

    ``local`` and ``local-small`` run llama.cpp in process on a GGUF assembled from PyPI packages;
    ``openai`` talks to any OpenAI-compatible endpoint (OpenAI, vLLM, a llama.cpp server).
    """

    backend: Backend = "local"
    """Which model to use: ``local`` (Qwen2.5-Coder-1.5B), ``local-small`` (0.5B) or ``openai``."""
    model: str = "gpt-4o-mini"
    """Model name sent to an ``openai`` endpoint (ignored by the local backends)."""
    base_url: str | None = None
    """Base URL of the OpenAI-compatible endpoint, e.g. ``http://127.0.0.1:8080/v1``; None: OpenAI."""
    api_key: SecretStr | None = None
    """API key for the ``openai`` backend (the CLI reads ``OPENAI_API_KEY``)."""
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    """Sampling temperature; 0 is greedy and reproducible."""
    max_tokens: int = Field(default=256, ge=1)
    """Upper bound on generated tokens per call."""
    n_ctx: int = Field(default=4096, ge=256)
    """Context window of the local model, in tokens."""
    n_threads: int = Field(default=2, ge=1)
    """CPU threads of the local model (under contention 1 can beat 2)."""
    n_batch: int = Field(default=512, ge=8)
    """Prompt-processing batch size of the local model."""
    seed: int = 0
    """Sampling seed of the local model."""
    timeout: float = Field(default=120.0, gt=0)
    """Seconds to wait for an ``openai`` endpoint's answer."""
    max_retries: int = Field(default=1, ge=0)
    """Retries of an ``openai`` request on connection errors."""
    cache_dir: Path = Field(default_factory=default_cache_dir)
    """Directory holding the assembled local model files."""
    verbose: bool = False
    """Let llama.cpp print its own logs."""

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url {value!r} is not an http(s) URL; give e.g. http://127.0.0.1:8080/v1"
            )
        return value
