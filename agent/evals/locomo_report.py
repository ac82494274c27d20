"""The LoCoMo evaluation's configuration and report: per-question results, recall@k and F1 by category and method."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from envs.conversation import LOCOMO_CATEGORIES
from memory.dialogue import (
    MAIN_CATEGORIES,
    DialogueQuestion,
    RetrievalReport,
    score_rankings,
)

log = logging.getLogger(__name__)

METHODS = ("memory", "full_context", "no_memory")
"""Answering methods, in the order they run: retrieved turns, the (truncated) conversation, nothing."""

RECALL_KS = (5, 10)
"""Cut-offs always reported (``recall@5``, ``recall@10``); the answer ``k`` is added when different."""

class LocomoEvalConfig(BaseModel):
    """What a LoCoMo evaluation measures."""

    k: int = Field(default=10, ge=1)
    """Retrieved turns given to the model per question (and an extra recall cut-off)."""
    max_questions: int | None = Field(default=None, ge=1)
    """Most questions in total, sampled evenly per category; None: every question."""
    categories: tuple[int, ...] = (1, 2, 3, 4, 5)
    """LoCoMo categories to ask (1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop, 5 adversarial)."""
    answer: bool = True
    """Ask the chat model for answers (False: measure retrieval only, no model needed)."""
    context_tokens: int = Field(default=4096, ge=256)
    """The model's context window in tokens; the full-context baseline fills it."""
    answer_tokens: int = Field(default=32, ge=1)
    """Tokens reserved for the answer (the chat model should be built with this ``max_tokens``)."""

@dataclass(frozen=True)
class EvalProgress:
    """A progress event: ``done`` of ``total`` items of one stage."""

    stage: str
    """``ingest``, ``retrieve`` or ``answer: METHOD``."""
    done: int
    """Items finished in this stage."""
    total: int
    """Items of this stage in the whole run."""

@dataclass
class QuestionResult:
    """One question: what was retrieved, what each method answered and how it scored."""

    conv_id: str
    """The conversation asked about."""
    question: str
    """The question."""
    category: int
    """LoCoMo category 1-5."""
    gold: str | None
    """The answer scored against (``Not mentioned in the conversation`` for category 5)."""
    evidence: tuple[str, ...]
    """Turn ids holding the answer."""
    retrieved: tuple[str, ...]
    """Turn ids of the bank's top memories, best first."""
    answers: dict[str, str] = field(default_factory=dict)
    """Method -> the model's cleaned answer."""
    scores: dict[str, float] = field(default_factory=dict)
    """Method -> LoCoMo score 0..1 (token F1; abstention for category 5); higher is better."""
    errors: dict[str, str] = field(default_factory=dict)
    """Method -> why the model gave no answer (the answer then scores 0)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "conversation": self.conv_id, "question": self.question, "category": self.category,
            "gold": self.gold, "evidence": list(self.evidence), "retrieved": list(self.retrieved),
            "answers": self.answers, "scores": self.scores, "errors": self.errors,
        }  # fmt: skip

@dataclass(frozen=True)
class ContextWindow:
    """How much of one conversation the full-context baseline could show the model."""

    turns_total: int
    """Turns in the conversation."""
    turns_kept: int
    """Newest turns that fit (the oldest are dropped first)."""
    tokens: int
    """Tokens of the kept text (the model's tokenizer when it has one, else cl100k_base)."""
    budget: int
    """Tokens available for the conversation after instructions, question and answer."""
    kept_ids: frozenset[str]
    """Turn ids of the kept turns."""
    text: str
    """The kept turns, by session with their dates."""

    @property
    def truncated(self) -> bool:
        """True when turns had to be dropped."""
        return self.turns_kept < self.turns_total

@dataclass
class LocomoReport:
    """Everything one evaluation measured; :meth:`to_dict` gives the JSON the CLI prints."""

    config: LocomoEvalConfig
    """The settings of the run."""
    conversations: dict[str, int] = field(default_factory=dict)
    """Conversation id -> number of turns ingested."""
    results: list[QuestionResult] = field(default_factory=list)
    """One entry per asked question, in run order."""
    windows: dict[str, ContextWindow] = field(default_factory=dict)
    """Conversation id -> the full-context baseline's window (only when answering)."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time per stage (``ingest``, ``retrieve``, ``answer: METHOD``)."""
    model_errors: int = 0
    """Answers the model failed to give (exceptions), each scored 0."""

    @property
    def ks(self) -> tuple[int, ...]:
        """Recall cut-offs reported."""
        return tuple(sorted({*RECALL_KS, self.config.k}))

    def recall(self, conv_id: str | None = None) -> RetrievalReport:
        """Recall@k over all questions (or one conversation's), via :func:`memory.dialogue.score_rankings`."""
        chosen = [r for r in self.results if conv_id is None or r.conv_id == conv_id]
        questions = [DialogueQuestion(r.question, r.evidence, r.category) for r in chosen]
        return score_rankings("memory bank", [list(r.retrieved) for r in chosen], questions, self.ks)

    def _figures(self, chosen: list[QuestionResult], recall: RetrievalReport, category: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in self.ks:
            value = recall.recall.get(k) if category is None else recall.by_category.get(category, {}).get(k)
            out[f"recall@{k}"] = value
        for method in METHODS:
            scores = [r.scores[method] for r in chosen if method in r.scores]
            key = "f1" if method == "memory" else f"{method}_f1"
            out[key] = float(np.mean(scores)) if scores else None
        if self.windows:
            cover = [_coverage(r.evidence, self.windows[r.conv_id].kept_ids) for r in chosen if r.evidence]
            out["full_context_evidence_in_context"] = float(np.mean(cover)) if cover else None
        return out

    def summary(self, conv_id: str | None = None) -> dict[str, Any]:
        """Figures of all questions (or one conversation's): categories 1-4 at the top, ``by_category`` beside.

        Keys: ``questions``, ``recall@K`` per cut-off, ``f1`` (memory), ``no_memory_f1``, ``full_context_f1``,
        ``full_context_evidence_in_context`` (when answering); F1 values are None without answers.
        """
        chosen = [r for r in self.results if conv_id is None or r.conv_id == conv_id]
        recall = self.recall(conv_id)
        main = [r for r in chosen if r.category in MAIN_CATEGORIES]
        block = {"questions": len(main), **self._figures(main, recall, None)}
        by_cat: dict[str, Any] = {}
        for cat in sorted({r.category for r in chosen}):
            members = [r for r in chosen if r.category == cat]
            by_cat[str(cat)] = {"name": LOCOMO_CATEGORIES.get(cat, "?"), "questions": len(members),
                                "with_evidence": recall.questions.get(cat, 0),
                                **self._figures(members, recall, cat)}  # fmt: skip
        block["by_category"] = by_cat
        return block

    def to_dict(self, *, items: bool = False) -> dict[str, Any]:
        """The report as JSON: overall figures (categories 1-4) at the top, breakdowns beside them.

        Args:
            items: also include every question with its retrieved turns, answers and scores.
        """
        overall = self.summary(None)
        out: dict[str, Any] = {
            "recall@5": overall["recall@5"], "recall@10": overall["recall@10"], "f1": overall["f1"],
        }  # fmt: skip
        if self.config.k not in RECALL_KS:
            out[f"recall@{self.config.k}"] = overall[f"recall@{self.config.k}"]
        out["overall"] = "categories 1-4, averaged over questions; category 5 (adversarial) is reported apart"
        out["questions"] = overall["questions"]
        out["baselines"] = {
            "no_memory": {"f1": overall["no_memory_f1"], "what": "the question alone"},
            "full_context": {
                "f1": overall["full_context_f1"],
                "evidence_in_context": overall.get("full_context_evidence_in_context"),
                "what": f"the newest turns that fit a {self.config.context_tokens}-token context "
                "(oldest truncated first)",
                "truncated": {c: w.truncated for c, w in self.windows.items()},
            },
        }
        out["by_category"] = overall["by_category"]
        out["by_conversation"] = {}
        for conv_id, n_turns in self.conversations.items():
            block = self.summary(conv_id)
            block["turns"] = n_turns
            window = self.windows.get(conv_id)
            if window is not None:
                block["full_context_window"] = {"turns_kept": window.turns_kept, "turns_total": window.turns_total,
                                                "tokens": window.tokens, "budget": window.budget,
                                                "truncated": window.truncated}  # fmt: skip
            out["by_conversation"][conv_id] = block
        n_answers = {m: sum(1 for r in self.results if m in r.scores) for m in METHODS}
        out["settings"] = self.config.model_dump()
        out["seconds"] = {k: round(v, 2) for k, v in self.seconds.items()}
        out["seconds_per_answer"] = {
            m: round(self.seconds[f"answer: {m}"] / n_answers[m], 3)
            for m in METHODS if n_answers[m] and f"answer: {m}" in self.seconds
        }  # fmt: skip
        out["model_errors"] = self.model_errors
        if items:
            out["items"] = [r.to_dict() for r in self.results]
        return out

    def truncation_notes(self) -> list[str]:
        """One line per conversation whose full-context window had to drop turns."""
        return [
            f"full-context baseline, conversation {c}: kept the newest {w.turns_kept} of {w.turns_total} turns "
            f"({w.tokens} tokens of a {w.budget}-token budget); older turns were truncated"
            for c, w in self.windows.items() if w.truncated
        ]  # fmt: skip

def _coverage(evidence: Sequence[str], kept: frozenset[str]) -> float:
    return sum(1 for e in evidence if e in kept) / len(evidence)
