"""Record types of the memory bank: kinds, namespaces, memory records and retrieval results.

A memory is one short text with a kind (what sort of memory it is), a namespace (whose memory it is),
timestamps, scores and provenance (what it was made from). Records are frozen; the bank returns new
copies when something changes. Every score says which direction is better.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from memory.errors import MemoryUsageError

MetaValue = str | int | float | bool


class MemoryKind(StrEnum):
    """What sort of memory a record is."""

    EXPERIENCE = "experience"
    """A trajectory, step or dialogue turn as it happened, with its outcome."""
    REFLECTION = "reflection"
    """A lesson drawn from one attempt (Reflexion-style)."""
    INSIGHT = "insight"
    """A rule that holds across attempts, with a vote count (ExpeL-style)."""
    SUMMARY = "summary"
    """A summary of a session, a day or a set of episodes."""
    PROFILE = "profile"
    """A fact about a user (MemoryBank's user portrait)."""
    FACT = "fact"
    """A concrete grounded fact, e.g. "put blender on counter was accepted"."""


class MemoryStatus(StrEnum):
    """Where a record stands in its life cycle."""

    ACTIVE = "active"
    """Retrievable."""
    SUPERSEDED = "superseded"
    """Contradicted by a newer memory (``superseded_by``); kept, not retrieved by default."""
    ARCHIVED = "archived"
    """Forgotten: removed from the vector index, kept in the ledger's archive, restorable."""
    CANDIDATE = "candidate"
    """A rule waiting for its trial (:mod:`memory.trials`): indexed, not retrieved by default until admitted."""


NAMESPACE_PREFIXES = ("agent", "user", "env")
_NAMESPACE = re.compile(r"^(agent|user|env)(?::([A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?))?$")
NAMESPACE_FORMS = (
    '"agent", "agent:NAME", "user:NAME" or "env:NAME" '
    "(NAME: 1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit)"
)


def validate_namespace(namespace: object) -> str:
    """Return ``namespace`` if it is well formed, else raise :class:`MemoryUsageError` naming it.

    A namespace says whose memory it is: ``agent`` (the agent's own), ``user:alice`` (facts about one
    user), ``env:twx-twc`` (one environment). ``user`` and ``env`` need a name.
    """
    if not isinstance(namespace, str):
        raise MemoryUsageError(f"namespace must be a string like {NAMESPACE_FORMS}; got {namespace!r:.60}")
    match = _NAMESPACE.match(namespace)
    if match is None or (match.group(1) in ("user", "env") and not match.group(2)):
        raise MemoryUsageError(f"bad namespace {namespace!r:.60}; use {NAMESPACE_FORMS}")
    return namespace


def parse_kind(kind: object) -> MemoryKind:
    """Return the :class:`MemoryKind` for ``kind`` (an enum member or its name), else raise a usage error."""
    if isinstance(kind, MemoryKind):
        return kind
    try:
        return MemoryKind(str(kind).lower())
    except ValueError:
        allowed = ", ".join(k.value for k in MemoryKind)
        raise MemoryUsageError(f"unknown memory kind {kind!r:.40}; choose one of {allowed}") from None


def namespace_list(namespace: object) -> list[str]:
    """One namespace or a list of them, each validated (a filter's ``namespace`` argument)."""
    if isinstance(namespace, str):
        return [validate_namespace(namespace)]
    if isinstance(namespace, list | tuple | set | frozenset):
        return [validate_namespace(n) for n in namespace]
    raise MemoryUsageError(f"namespace must be a string like {NAMESPACE_FORMS} or a list of them; "
                           f"got {namespace!r:.40}")  # fmt: skip


def kind_list(kinds: object) -> list[MemoryKind]:
    """One kind or a list of them, each parsed (a filter's ``kinds`` argument)."""
    if isinstance(kinds, str):
        return [parse_kind(kinds)]
    if isinstance(kinds, Iterable) and not isinstance(kinds, bytes | Mapping):
        return [parse_kind(k) for k in kinds]
    raise MemoryUsageError(f"kinds must be a list of memory kinds such as ['insight', 'fact']; got {kinds!r:.40}")


def parse_status(status: object) -> MemoryStatus:
    """The :class:`MemoryStatus` for ``status`` (a member or its name), else a usage error naming the choices."""
    try:
        return MemoryStatus(status)  # type: ignore[arg-type]  # anything else raises, answered below
    except (ValueError, TypeError):
        allowed = ", ".join(s.value for s in MemoryStatus)
        raise MemoryUsageError(f"unknown memory status {status!r:.40}; choose one of {allowed}") from None


def normalise_text(text: str) -> str:
    """Lower-case and collapse whitespace: two texts that differ only there are the same memory."""
    return " ".join(text.split()).lower()


def content_hash(kind: MemoryKind, namespace: str, text: str) -> str:
    """Idempotence key of a memory: sha256 of kind, namespace and normalised text."""
    payload = f"{kind.value}\x1f{namespace}\x1f{normalise_text(text)}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class MemoryRecord:
    """One memory as the bank stores it."""

    id: str
    """Stable id (``mem-`` + 20 hex digits); kept when the text is edited."""
    kind: MemoryKind
    """What sort of memory this is."""
    namespace: str
    """Whose memory: ``agent``, ``user:NAME`` or ``env:NAME``."""
    text: str
    """The memory itself, as shown to the model."""
    created_at: float
    """When the memory was made (or the event happened), Unix seconds."""
    updated_at: float
    """Last change of text, status, votes or pin, Unix seconds."""
    context: str = ""
    """Extra text indexed for keyword search only (e.g. the preceding dialogue turn and its date)."""
    importance: float = 0.5
    """How much this memory matters, 0..1; higher is more important (and decays slower)."""
    strength: float = 7.0
    """Ebbinghaus strength S in days; retention is exp(-t/S). Higher is remembered longer; grows on recall."""
    recall_count: int = 0
    """How many times retrieval returned this memory."""
    last_recalled_at: float | None = None
    """When retrieval last returned it, Unix seconds (None: never)."""
    utility_sum: float = 0.0
    """Sum of reported outcomes (0..1) of episodes that used this memory; higher is more useful."""
    utility_count: int = 0
    """How many outcomes were reported for this memory."""
    votes: int = 0
    """Insight votes (ExpeL): ADD starts at the configured count, UPVOTE +1, DOWNVOTE -1; 0 removes it."""
    pinned: bool = False
    """A pinned memory is never forgotten by decay, capacity or pruning."""
    status: MemoryStatus = MemoryStatus.ACTIVE
    """Life-cycle state (active, superseded, archived, candidate)."""
    superseded_by: str | None = None
    """Id of the memory that contradicted this one, when superseded."""
    source_ids: tuple[str, ...] = ()
    """Provenance outside the bank: ids of episodes, dialogue turns or documents this memory came from."""
    derived_from: tuple[str, ...] = ()
    """Provenance inside the bank: ids of the memories this one was made from (evidence links)."""
    episode_id: str | None = None
    """The episode this memory was recorded in, if any."""
    thread: str | None = None
    """A sequence this memory belongs to (a dialogue session, an episode); with ``seq`` it orders neighbours."""
    seq: int | None = None
    """Position in ``thread``; memories at seq±1 are neighbours for retrieval."""
    meta: dict[str, MetaValue] = field(default_factory=dict)
    """Free-form scalar metadata (speaker, outcome, step, ...)."""
    content_hash: str = ""
    """sha256 of kind, namespace and normalised text: the idempotence key."""

    @property
    def utility(self) -> float:
        """Smoothed success rate with a Beta(1, 1) prior, 0..1; 0.5 means no evidence; higher is better."""
        return (self.utility_sum + 1.0) / (self.utility_count + 2.0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "namespace": self.namespace,
            "text": self.text,
            "context": self.context,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "importance": self.importance,
            "strength": self.strength,
            "recall_count": self.recall_count,
            "last_recalled_at": self.last_recalled_at,
            "utility_sum": self.utility_sum,
            "utility_count": self.utility_count,
            "votes": self.votes,
            "pinned": self.pinned,
            "status": self.status.value,
            "superseded_by": self.superseded_by,
            "source_ids": list(self.source_ids),
            "derived_from": list(self.derived_from),
            "episode_id": self.episode_id,
            "thread": self.thread,
            "seq": self.seq,
            "meta": dict(self.meta),
            "content_hash": self.content_hash,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MemoryRecord:
        """Inverse of :meth:`to_dict` (unknown keys are ignored)."""
        return cls(
            id=str(data["id"]),
            kind=parse_kind(data["kind"]),
            namespace=validate_namespace(data["namespace"]),
            text=str(data["text"]),
            created_at=float(data["created_at"]),
            updated_at=float(data.get("updated_at", data["created_at"])),
            context=str(data.get("context") or ""),
            importance=float(data.get("importance", 0.5)),
            strength=float(data.get("strength", 7.0)),
            recall_count=int(data.get("recall_count", 0)),
            last_recalled_at=_opt_float(data.get("last_recalled_at")),
            utility_sum=float(data.get("utility_sum", 0.0)),
            utility_count=int(data.get("utility_count", 0)),
            votes=int(data.get("votes", 0)),
            pinned=bool(data.get("pinned", False)),
            status=MemoryStatus(data.get("status", "active")),
            superseded_by=data.get("superseded_by"),
            source_ids=tuple(data.get("source_ids") or ()),
            derived_from=tuple(data.get("derived_from") or ()),
            episode_id=data.get("episode_id"),
            thread=data.get("thread"),
            seq=None if data.get("seq") is None else int(data["seq"]),
            meta=dict(data.get("meta") or {}),
            content_hash=str(data.get("content_hash") or ""),
        )


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class MemoryInput:
    """What a caller gives :meth:`MemoryBank.insert_many` for one new memory."""

    text: str
    """The memory itself (non-empty, at most ``max_text_tokens`` tokens)."""
    kind: MemoryKind | str = MemoryKind.EXPERIENCE
    """What sort of memory it is."""
    namespace: str = "agent"
    """Whose memory it is."""
    importance: float = 0.5
    """0..1; higher is more important and decays slower."""
    context: str = ""
    """Extra text for keyword search only (e.g. the preceding turn and the date)."""
    source_ids: tuple[str, ...] = ()
    """Ids of the episodes, turns or documents it came from."""
    derived_from: tuple[str, ...] = ()
    """Ids of the memories it was made from (evidence)."""
    episode_id: str | None = None
    """The episode it was recorded in."""
    thread: str | None = None
    """Sequence it belongs to (dialogue session, episode)."""
    seq: int | None = None
    """Position in ``thread``."""
    meta: dict[str, MetaValue] = field(default_factory=dict)
    """Free-form scalar metadata."""
    created_at: float | None = None
    """When it happened (Unix seconds); None: now."""
    pinned: bool = False
    """Never forget it."""
    votes: int = 0
    """Initial votes (insights get the configured count when 0)."""
    origin: str | None = None
    """Where the text came from (:data:`memory.guard.ORIGINS`), kept in ``meta["origin"]``; None: not said."""
    candidate: bool = False
    """Start as :attr:`MemoryStatus.CANDIDATE` (a rule that must pass a trial before it is retrieved)."""


@dataclass(frozen=True)
class ScoreParts:
    """Why a memory ranked where it did; every part is higher-is-better."""

    relevance: float
    """Fused dense + keyword relevance (with neighbour boost), min-max scaled to 0..1 within the candidates."""
    similarity: float
    """Cosine similarity of query and memory embeddings, -1..1 (None-like -1 when only keyword-matched)."""
    keyword: float
    """BM25 score of the query against text + context (0 when keyword search is off or nothing matched)."""
    recency: float
    """0.5 ** (age / half-life), 0..1: 1 for a memory made just now."""
    importance: float
    """The memory's importance, 0..1."""
    retention: float
    """Ebbinghaus retention exp(-t/S), 0..1, t = time since last recall (or creation)."""
    utility: float
    """Smoothed success rate of episodes that used it, 0..1 (0.5: unknown)."""


@dataclass(frozen=True)
class RetrievedMemory:
    """A memory returned by retrieval, with its score; a higher score means a better match."""

    record: MemoryRecord
    """The memory (as it was before this retrieval's recall update)."""
    score: float
    """Weighted mix of the parts; higher is better."""
    parts: ScoreParts
    """The components of the score."""
    tokens: int
    """Tokens of ``record.text`` in the configured tiktoken encoding."""

    @property
    def id(self) -> str:
        """The memory's id."""
        return self.record.id

    @property
    def text(self) -> str:
        """The memory's text."""
        return self.record.text
