"""External memory for an LLM agent: insert, retrieve, reflect, forget, on Chroma with provenance and history.

Typical use::

    from memory import MemoryBank, MemoryConfig, MemoryKind
    bank = MemoryBank(MemoryConfig(path=Path("runs/memory")))
    mid = bank.insert("put the blender on the counter: accepted", kind=MemoryKind.FACT, namespace="env:twc")
    hits = bank.retrieve("where does the blender go?", k=5, namespace="env:twc", token_budget=300)
    bank.feedback([h.id for h in hits], outcome=True, episode_id="ep-7")
    report = reflect(bank, llm, namespace="env:twc")   # llm: a JsonLLM
    bank.forget()
"""

from memory.bank import MemoryBank
from memory.base import (
    MemoryInput,
    MemoryKind,
    MemoryRecord,
    MemoryStatus,
    RetrievedMemory,
    ScoreParts,
    validate_namespace,
)
from memory.config import MemoryConfig, ScoreWeights
from memory.dialogue import (
    DialogueQuestion,
    DialogueTurn,
    RetrievalReport,
    evaluate_retrieval,
    ingest_dialogue,
)
from memory.errors import MemoryBankError, MemoryUsageError, SnapshotNotFound, StoreUnavailable
from memory.lifecycle import ForgetReport
from memory.reflect import JsonLLM, ReflectReport, reflect
from memory.schema import HistoryEntry
from memory.scopes import collection_name
from memory.snapshots import SnapshotInfo
from memory.store import ChromaStore, VectorStore

__all__ = [
    "ChromaStore",
    "DialogueQuestion",
    "DialogueTurn",
    "ForgetReport",
    "HistoryEntry",
    "JsonLLM",
    "MemoryBank",
    "MemoryBankError",
    "MemoryConfig",
    "MemoryInput",
    "MemoryKind",
    "MemoryRecord",
    "MemoryStatus",
    "MemoryUsageError",
    "ReflectReport",
    "RetrievalReport",
    "RetrievedMemory",
    "ScoreParts",
    "ScoreWeights",
    "SnapshotInfo",
    "SnapshotNotFound",
    "StoreUnavailable",
    "VectorStore",
    "collection_name",
    "evaluate_retrieval",
    "ingest_dialogue",
    "reflect",
    "validate_namespace",
]
