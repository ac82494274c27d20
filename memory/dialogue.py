"""Dialogue memory: ingest conversation turns and measure retrieval of evidence turns (LoCoMo-style).

Each turn becomes one ``experience`` memory whose text is ``"Speaker: text"`` (plus the caption of a
shared photo), whose provenance (``source_ids``) is exactly that turn's id, and whose keyword context
is the preceding turn of the same session and the session's date. Turns of a session form a thread,
so retrieval's neighbour boost lets a strong hit lift the turn that answers it. The loader of a
particular data set lives with the caller (``benchmarks/``, ``envs/``); this module takes plain turns.

Recall@k of a question = share of its evidence turn ids found among the turn ids of the top-k
memories. Categories 1-4 are averaged together; category 5 (adversarial, unanswerable) is reported
apart, as the LoCoMo paper does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import bm25s
import numpy as np

from memory.base import MemoryInput, MemoryKind
from memory.keyword import STOP_WORDS, tokenize
from memory.scoring import rrf

if TYPE_CHECKING:
    from memory.bank import MemoryBank

MAIN_CATEGORIES = (1, 2, 3, 4)
CATEGORY_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


@dataclass(frozen=True)
class DialogueTurn:
    """One turn of a conversation."""

    turn_id: str
    """Unique id within the conversation, e.g. ``D3:12``."""
    speaker: str
    """Who spoke."""
    text: str
    """What was said."""
    session: str
    """Session (sitting) the turn belongs to; turns of a session are contiguous."""
    timestamp: float
    """When the session took place, Unix seconds."""
    session_date: str = ""
    """The session's date as people write it ("1:56 pm on 8 May, 2023"), indexed for keyword search."""
    image_caption: str | None = None
    """Caption of a photo shared in the turn, if any."""


@dataclass(frozen=True)
class DialogueQuestion:
    """A question about a conversation with the turns that hold its answer."""

    question: str
    """The question text."""
    evidence: tuple[str, ...]
    """Turn ids holding the answer."""
    category: int
    """LoCoMo category: 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop, 5 adversarial."""
    answer: str = ""
    """Reference answer (not used for retrieval)."""


@dataclass
class RetrievalReport:
    """Recall@k of one retrieval method over a set of questions; higher is better."""

    method: str
    """Name of the method."""
    ks: tuple[int, ...]
    """Cut-offs measured."""
    recall: dict[int, float] = field(default_factory=dict)
    """k -> mean recall@k over categories 1-4."""
    by_category: dict[int, dict[int, float]] = field(default_factory=dict)
    """category -> k -> mean recall@k (category 5 included here only)."""
    questions: dict[int, int] = field(default_factory=dict)
    """category -> number of questions with evidence."""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "method": self.method,
            "recall": {str(k): v for k, v in self.recall.items()},
            "by_category": {str(c): {str(k): v for k, v in r.items()} for c, r in self.by_category.items()},
            "questions": {str(c): n for c, n in self.questions.items()},
        }


def turn_text(turn: DialogueTurn) -> str:
    """The memory text of a turn: ``"Speaker: text"`` and the shared photo's caption."""
    text = f"{turn.speaker}: {turn.text.strip()}"
    if turn.image_caption:
        caption = re.sub(r"^a (photo|photography|picture) of ", "", turn.image_caption.strip())
        text += f" [shares a photo of {caption}]"
    return text


def turn_inputs(
    turns: Sequence[DialogueTurn], namespace: str, *, context_turns: int = 1, importance: float = 0.5
) -> list[MemoryInput]:
    """One :class:`MemoryInput` per turn (see the module docstring for what goes where)."""
    items: list[MemoryInput] = []
    seq = 0
    for i, turn in enumerate(turns):
        seq = 0 if i == 0 or turns[i - 1].session != turn.session else seq + 1
        window = range(max(0, i - context_turns), i)
        previous = [turn_text(turns[j]) for j in window if turns[j].session == turn.session]
        context = " ".join([*previous, turn.session_date]).strip()
        items.append(
            MemoryInput(
                text=turn_text(turn),
                kind=MemoryKind.EXPERIENCE,
                namespace=namespace,
                importance=importance,
                context=context,
                source_ids=(turn.turn_id,),
                thread=f"session-{turn.session}",
                seq=seq,
                created_at=turn.timestamp,
                meta={"speaker": turn.speaker, "turn_id": turn.turn_id},
                origin="user",
            )
        )
    return items


def ingest_dialogue(
    bank: MemoryBank,
    turns: Sequence[DialogueTurn],
    namespace: str,
    *,
    context_turns: int = 1,
    embeddings: np.ndarray | None = None,
    actor: str = "dialogue",
) -> list[str]:
    """Store every turn as an ``experience`` memory (idempotent); returns the memory ids in turn order.

    ``embeddings`` (rows aligned with ``turns``, of :func:`turn_text`) skips embedding.
    """
    items = turn_inputs(turns, namespace, context_turns=context_turns)
    return bank.insert_many(items, embeddings=embeddings, actor=actor, reason="dialogue turn")


def score_rankings(
    method: str, rankings: Sequence[Sequence[str]], questions: Sequence[DialogueQuestion], ks: Sequence[int]
) -> RetrievalReport:
    """Recall@k of ranked turn-id lists (one per question, best first)."""
    report = RetrievalReport(method, tuple(ks))
    sums: dict[int, dict[int, list[float]]] = {}
    for ranking, q in zip(rankings, questions, strict=True):
        if not q.evidence:
            continue
        for k in ks:
            top = set(ranking[:k])
            hit = sum(1 for e in q.evidence if e in top) / len(q.evidence)
            sums.setdefault(q.category, {}).setdefault(k, []).append(hit)
    for cat, per_k in sorted(sums.items()):
        report.by_category[cat] = {k: float(np.mean(v)) for k, v in per_k.items()}
        report.questions[cat] = len(next(iter(per_k.values())))
    for k in ks:
        main = [x for c in MAIN_CATEGORIES for x in sums.get(c, {}).get(k, [])]
        report.recall[k] = float(np.mean(main)) if main else 0.0
    return report


def bank_rankings(
    bank: MemoryBank,
    questions: Sequence[DialogueQuestion],
    namespace: str,
    k: int,
    *,
    now: float | None = None,
    record: bool = False,
) -> list[list[str]]:
    """For each question, the turn ids of the bank's top-k memories (best first).

    ``record=False`` by default: evaluation probes should not change recall statistics, or the answer
    to one question would depend on the questions asked before it.
    """
    out = []
    for q in questions:
        hits = bank.retrieve(q.question, k=k, kinds=[MemoryKind.EXPERIENCE], namespace=namespace, now=now,
                             record=record)  # fmt: skip
        out.append([h.record.source_ids[0] for h in hits if h.record.source_ids])
    return out


def evaluate_retrieval(
    bank: MemoryBank,
    questions: Sequence[DialogueQuestion],
    namespace: str,
    ks: Sequence[int] = (5, 10, 20),
    *,
    now: float | None = None,
    method: str = "memory bank",
) -> RetrievalReport:
    """Recall@k of the bank's retrieval over questions about a dialogue ingested into ``namespace``."""
    rankings = bank_rankings(bank, questions, namespace, max(ks), now=now)
    return score_rankings(method, rankings, questions, ks)


# -- baselines (no memory bank: plain rankers over the raw turns) -------------------------------------------
def _bm25_rank(docs: Sequence[str], queries: Sequence[str], tokenizer: Callable[[str], list[str]]) -> np.ndarray:
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    retriever.index([tokenizer(d) for d in docs], show_progress=False)
    out = np.zeros((len(queries), len(docs)))
    for i, q in enumerate(queries):
        ids = [retriever.vocab_dict[t] for t in tokenizer(q) if t in retriever.vocab_dict]
        if ids:
            out[i] = retriever.get_scores_from_ids(ids)
    return out


def plain_tokens(text: str) -> list[str]:
    """Lower-cased words without stop words and without stemming (the baseline tokenizer)."""
    return [w for w in re.findall(r"[a-z0-9]{2,}", text.lower()) if w not in STOP_WORDS]


def baseline_rankings(
    method: str,
    turns: Sequence[DialogueTurn],
    questions: Sequence[DialogueQuestion],
    *,
    turn_vectors: np.ndarray | None = None,
    question_vectors: np.ndarray | None = None,
) -> list[list[str]]:
    """Rank every turn for every question with a plain method over the raw turns.

    Methods: ``dense`` (cosine of turn and question embeddings), ``bm25`` (plain words), ``dense+bm25``
    (reciprocal-rank fusion of the two), ``bm25-context`` (BM25 over each turn with its preceding turn
    and session date), ``bm25-context-stem`` (the same with this package's stemmer).
    """
    ids = [t.turn_id for t in turns]
    texts = [turn_text(t) for t in turns]
    queries = [q.question for q in questions]

    def order(scores: np.ndarray) -> list[list[str]]:
        return [[ids[j] for j in np.argsort(-row, kind="stable")] for row in scores]

    if method in ("dense", "dense+bm25"):
        if turn_vectors is None or question_vectors is None:
            raise ValueError("dense baselines need turn_vectors and question_vectors")
        dense = order(np.asarray(question_vectors) @ np.asarray(turn_vectors).T)
        if method == "dense":
            return dense
        sparse = order(_bm25_rank(texts, queries, plain_tokens))
        fused = []
        for d, s in zip(dense, sparse, strict=True):
            scores = rrf([d, s])
            fused.append(sorted(scores, key=lambda m: -scores[m]))
        return fused
    if method == "bm25":
        return order(_bm25_rank(texts, queries, plain_tokens))
    if method in ("bm25-context", "bm25-context-stem"):
        docs = [" ".join(x.context for x in [item]) + " " + item.text for item in turn_inputs(turns, "agent")]
        return order(_bm25_rank(docs, queries, tokenize if method.endswith("stem") else plain_tokens))
    raise ValueError(f"unknown baseline {method!r}")
