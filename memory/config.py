"""Typed configuration of the memory bank (one pydantic model; no environment variables are read here).

Defaults are chosen so that relevance dominates ranking and the other signals (recency, importance,
retention, utility) break ties and shift close calls; forgetting is on by default but never touches
pinned memories and only archives (restorable), never destroys.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator

from memory.base import MemoryKind


class ScoreWeights(BaseModel):
    """Weights of the retrieval score: score = sum(weight * part); every part is 0..1, higher is better."""

    relevance: float = Field(default=1.0, ge=0.0)
    """Weight of fused dense + keyword relevance."""
    recency: float = Field(default=0.05, ge=0.0)
    """Weight of recency (half-life decay since creation)."""
    importance: float = Field(default=0.05, ge=0.0)
    """Weight of the memory's importance."""
    retention: float = Field(default=0.05, ge=0.0)
    """Weight of Ebbinghaus retention exp(-t/S)."""
    utility: float = Field(default=0.1, ge=0.0)
    """Weight of measured utility (smoothed success rate of episodes that used the memory)."""


def _default_capacity() -> dict[MemoryKind, int]:
    return {
        MemoryKind.EXPERIENCE: 200_000,
        MemoryKind.REFLECTION: 20_000,
        MemoryKind.INSIGHT: 1_000,
        MemoryKind.SUMMARY: 20_000,
        MemoryKind.PROFILE: 5_000,
        MemoryKind.FACT: 50_000,
    }


def _default_decaying() -> set[MemoryKind]:
    return {MemoryKind.EXPERIENCE, MemoryKind.REFLECTION, MemoryKind.FACT}


_EXAMPLE = "give e.g. http://127.0.0.1:8000"


class MemoryConfig(BaseModel):
    """Where the bank lives and how it scores, keeps and forgets memories."""

    path: Path
    """Directory of the bank: the ledger (``ledger.sqlite3``) and, in embedded mode, Chroma (``chroma/``)."""
    server_url: str | None = None
    """URL of a Chroma server (``http://127.0.0.1:8000``); None: embedded ``PersistentClient`` under ``path``."""
    collection_prefix: str = "evolve"
    """Prefix of the Chroma collection names (one collection per kind and namespace)."""
    weights: ScoreWeights = Field(default_factory=ScoreWeights)
    """Weights of the retrieval score."""
    recency_half_life_days: float = Field(default=30.0, gt=0)
    """Age at which recency falls to 0.5."""
    base_strength_days: float = Field(default=7.0, gt=0)
    """Initial Ebbinghaus strength S of a memory of importance 0; S0 = base * (1 + importance)."""
    recall_growth: float = Field(default=1.5, ge=1.0)
    """S is multiplied by this on each recall (>= 1, so a recall never makes a memory fade faster)."""
    max_strength_days: float = Field(default=3650.0, gt=0)
    """Upper bound of S."""
    forget_below_retention: float = Field(default=0.02, ge=0.0, le=1.0)
    """A decaying memory whose retention falls below this is archived by :meth:`MemoryBank.forget`."""
    decaying_kinds: set[MemoryKind] = Field(default_factory=_default_decaying)
    """Kinds forgotten by the forgetting curve (insights go by votes; summaries and profiles by capacity)."""
    capacity: dict[MemoryKind, int] = Field(default_factory=_default_capacity)
    """Most active memories kept per kind and namespace; the weakest beyond it are archived."""
    prune_min_uses: int = Field(default=5, ge=1)
    """Utility pruning needs at least this many reported outcomes."""
    prune_below_utility: float = Field(default=0.2, ge=0.0, le=1.0)
    """A memory used ``prune_min_uses`` times whose smoothed utility is below this is archived."""
    forget_inline_deletes: int = Field(default=2000, ge=0)
    """A forget sweep archiving more than this many memories leaves their vector-index deletions to
    :meth:`MemoryBank.sync` (Chroma deletes ~4k vectors/s here; archived memories are never retrieved
    meanwhile, since retrieval widens its candidate pool by the pending deletions)."""
    insight_initial_votes: int = Field(default=2, ge=1)
    """Votes of a newly added insight (ExpeL starts at 2); an insight at 0 votes is archived."""
    hybrid: bool = True
    """Mix BM25 keyword scores with dense similarity."""
    dense_weight: float = Field(default=1.0, ge=0.0)
    """Weight of the standardised dense similarity in the fused relevance."""
    keyword_weight: float = Field(default=1.0, ge=0.0)
    """Weight of the standardised BM25 score in the fused relevance."""
    neighbor_boost: float = Field(default=0.5, ge=0.0)
    """A candidate gains this share of its best neighbour's (same thread, seq±1) fused relevance."""
    candidate_pool: int = Field(default=100, ge=1)
    """Candidates fetched per collection and per signal (dense and keyword) before scoring."""
    oversample: int = Field(default=4, ge=1)
    """At least ``k * oversample`` candidates are fetched, whatever ``candidate_pool`` says."""
    mmr_lambda: float | None = Field(default=None, ge=0.0, le=1.0)
    """Maximal marginal relevance trade-off (1: pure score, 0: pure diversity); None: off."""
    max_text_tokens: int = Field(default=2000, ge=1)
    """Longest memory text accepted by insert, in tokens."""
    max_context_tokens: int = Field(default=2000, ge=0)
    """Longest keyword context accepted by insert, in tokens (longer context is cut, not refused)."""
    token_encoding: str = "cl100k_base"
    """tiktoken encoding used to count tokens."""
    lock_timeout_s: float = Field(default=60.0, gt=0)
    """How long to wait for another process's write lock on an embedded store."""
    actor: str = "memory"
    """Default actor written to the history log."""
    shared_writers: bool = False
    """Other processes write to the same ledger and store at the same time (parallel workers): an insert
    that meets another's identical insert is retried, and a query naming a scope this bank has not seen
    looks for scopes the others made."""

    @field_validator("server_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(f"server_url {value!r} is not a valid URL ({exc}); {_EXAMPLE}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"server_url {value!r} is not an http(s) URL with a host; {_EXAMPLE}")
        return value

    @field_validator("collection_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not value or not value.replace("-", "").replace("_", "").isalnum() or not value[0].isalnum():
            raise ValueError(f"collection_prefix {value!r}: use letters, digits, - and _, starting alphanumeric")
        return value

    @model_validator(mode="after")
    def _check_capacity(self) -> MemoryConfig:
        for kind, cap in self.capacity.items():
            if cap < 1:
                raise ValueError(f"capacity of {kind.value} must be >= 1, got {cap}")
        return self

    @property
    def ledger_path(self) -> Path:
        """The SQLite ledger file (always local to this machine)."""
        return self.path / "ledger.sqlite3"

    @property
    def chroma_path(self) -> Path:
        """The embedded Chroma directory (unused with ``server_url``)."""
        return self.path / "chroma"
