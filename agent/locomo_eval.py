"""LoCoMo evaluation of the memory bank: retrieval recall@k of evidence turns and answer token F1.

For each conversation every turn is ingested into a memory bank with :func:`memory.dialogue.ingest_dialogue`
(turns only: the data's summaries, observations and event annotations are never read; the loader in
:mod:`envs.conversation` skips them). For each question the bank's top-k turns give recall@k
(:func:`memory.dialogue.bank_rankings` and :func:`memory.dialogue.score_rankings`, the one copy of that
code) and, unless answers are switched off, a short answer from the chat model, scored with LoCoMo's
per-category rules (:func:`envs.metrics.locomo_score`: token F1; category 5 scores abstaining).

Two baselines are answered in the same run, on the same questions, by the same model:

* ``no_memory``: the question alone;
* ``full_context``: as much of the conversation as fits the model's context window, the oldest turns
  dropped first (the report says how many turns were kept and how many evidence turns that covers).

Overall figures average categories 1-4 over questions (category 5, adversarial, is reported apart, as the
LoCoMo paper does). ``max_questions`` samples evenly per category and deterministically (evenly spaced
through each category's questions in data order), so a run with a small local model fits in minutes.
Prompts put their stable part first (instructions, then the conversation) and the questions of one
conversation and method run back to back, so llama.cpp reuses its KV cache for the full-context prompt.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.errors import ComponentError, UsageError
from envs.conversation import LOCOMO_CATEGORIES, NOT_MENTIONED, QA, Conversation
from envs.metrics import locomo_score
from memory import MemoryBank, MemoryConfig
from memory.dialogue import (
    MAIN_CATEGORIES,
    DialogueQuestion,
    DialogueTurn,
    RetrievalReport,
    bank_rankings,
    ingest_dialogue,
    score_rankings,
    turn_text,
)

log = logging.getLogger(__name__)

METHODS = ("memory", "full_context", "no_memory")
"""Answering methods, in the order they run: retrieved turns, the (truncated) conversation, nothing."""
RECALL_KS = (5, 10)
"""Cut-offs always reported (``recall@5``, ``recall@10``); the answer ``k`` is added when different."""
_MAX_FAILED_START = 3


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


# -- data ---------------------------------------------------------------------------------------------------
def parse_date(text: str, fallback: float) -> float:
    """LoCoMo dates look like "1:56 pm on 8 May, 2023"; fall back to ``fallback`` when they do not."""
    for fmt in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
        try:
            return datetime.strptime(text.strip(), fmt).timestamp()
        except ValueError:
            continue
    return fallback


def to_dialogue(conv: Conversation) -> tuple[list[DialogueTurn], list[DialogueQuestion]]:
    """A loaded conversation as memory's plain turns and questions (same order as ``conv.qa``)."""
    turns = []
    for session in conv.sessions:
        ts = parse_date(session.date_time, fallback=1_600_000_000.0 + 86_400.0 * session.index)
        for t in session.turns:
            turns.append(DialogueTurn(t.dia_id, t.speaker, t.text, str(session.index), ts, session.date_time,
                                      t.image_caption))  # fmt: skip
    questions = []
    for q in conv.qa:
        evidence = tuple(e for raw in q.evidence for e in re.split(r"[;,\s]+", raw) if e)
        questions.append(DialogueQuestion(q.question, evidence, q.category, q.answer or ""))
    return turns, questions


def namespace_for(conv_id: str) -> str:
    """The bank namespace of one conversation: ``user:locomo-ID`` (ID reduced to allowed characters)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", conv_id).strip("-._")[:50] or "conversation"
    return f"user:locomo-{safe}"


def sample_questions(qas: Sequence[tuple[str, int, QA]], max_questions: int | None,
                     categories: Sequence[int]) -> list[tuple[str, int, QA]]:  # fmt: skip
    """Pick questions of the given categories, at most ``max_questions`` in total, evenly per category.

    Args:
        qas: (conversation id, index in its ``qa``, question), in data order.
        max_questions: the total to keep (None: all). Each category gets an equal share; a category
            with fewer questions gives its spare share to the others.
        categories: categories to keep.

    Returns:
        The chosen questions in data order. Deterministic: within a category, evenly spaced picks.
    """
    pools = {c: [x for x in qas if x[2].category == c] for c in sorted(set(categories))}
    pools = {c: p for c, p in pools.items() if p}
    if max_questions is None:
        chosen = [x for p in pools.values() for x in p]
    else:
        quota = dict.fromkeys(pools, 0)
        left = max_questions
        open_cats = [c for c in pools]
        while left > 0 and open_cats:
            share, extra = divmod(left, len(open_cats))
            for i, c in enumerate(list(open_cats)):
                give = min(share + (1 if i < extra else 0), len(pools[c]) - quota[c])
                quota[c] += give
                left -= give
            open_cats = [c for c in open_cats if quota[c] < len(pools[c])]
        chosen = []
        for c, pool in pools.items():
            n = quota[c]
            chosen.extend(pool[(i * len(pool)) // n] for i in range(n))
    order = {(x[0], x[1]): i for i, x in enumerate(qas)}
    return sorted(chosen, key=lambda x: order[(x[0], x[1])])


# -- prompts ------------------------------------------------------------------------------------------------
def system_prompt(conv: Conversation) -> str:
    """Instructions shared by the three methods (kept first so the KV cache is reused)."""
    return (
        f"You answer questions about a long conversation between {conv.speaker_a} and {conv.speaker_b}. "
        "Reply with the answer only: a short phrase of a few words (a name, a date, a place, a list), "
        f"no explanation. If the conversation does not say, reply exactly: {NOT_MENTIONED}."
    )


def question_prompt(question: str) -> str:
    """The last part of every prompt."""
    return f"Question: {question}\nShort answer:"


def memory_context(turn_ids: Sequence[str], turns: dict[str, tuple[int, DialogueTurn]]) -> str:
    """Retrieved turns in conversation order under their sessions' dated headers (as the full context shows them)."""
    found = [t for _, t in sorted((turns[t] for t in turn_ids if t in turns), key=lambda x: x[0])]
    lines: list[str] = []
    for i, turn in enumerate(found):
        if i == 0 or found[i - 1].session != turn.session:
            lines.append(_header(turn))
        lines.append(turn_text(turn))
    return "\n".join(lines)


def full_context_window(
    turns: Sequence[DialogueTurn], budget: int, count: Callable[[str], int]
) -> ContextWindow:
    """The newest turns whose text (with session headers) fits ``budget`` tokens; oldest dropped first."""
    kept: list[DialogueTurn] = []
    used = 0
    headers: set[str] = set()
    for turn in reversed(turns):
        line = turn_text(turn)
        cost = count(line) + 1
        if turn.session not in headers:
            cost += count(_header(turn)) + 1
        if used + cost > budget:
            break
        kept.append(turn)
        headers.add(turn.session)
        used += cost
    kept.reverse()
    lines: list[str] = []
    for i, turn in enumerate(kept):
        if i == 0 or kept[i - 1].session != turn.session:
            lines.append(_header(turn))
        lines.append(turn_text(turn))
    return ContextWindow(len(turns), len(kept), used, budget, frozenset(t.turn_id for t in kept), "\n".join(lines))


def _header(turn: DialogueTurn) -> str:
    return f"Session {turn.session} ({turn.session_date}):"


def clean_answer(text: str) -> str:
    """The first non-empty line of a reply, without an ``Answer:`` prefix or quotes, at most 300 characters."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    first = re.sub(r"^(short answer|final answer|answer)\s*[:\-]\s*", "", first, flags=re.IGNORECASE)
    return first.strip().strip("\"'`").strip()[:300]


def token_counter(chat: BaseChatModel | None) -> Callable[[str], int]:
    """The model's own token count when it has one (llama.cpp), else tiktoken's cl100k_base."""
    own = getattr(chat, "count_tokens", None)
    if callable(own):
        return lambda text: int(own(text))
    from memory.tokens import count_tokens

    return count_tokens


# -- the run ------------------------------------------------------------------------------------------------
def run_locomo_eval(
    conversations: Sequence[Conversation],
    config: LocomoEvalConfig,
    memory_dir: Path,
    *,
    chat: BaseChatModel | None = None,
    on_progress: Callable[[EvalProgress], None] | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> LocomoReport:
    """Ingest each conversation into a bank in ``memory_dir``, measure recall@k and (optionally) answer F1.

    Args:
        conversations: loaded with :func:`envs.conversation.load_locomo`.
        config: what to measure.
        memory_dir: the bank's directory (ingestion is idempotent: a second run reuses the turns).
        chat: the chat model answering the questions; required when ``config.answer``.
        on_progress: called after each ingested conversation, retrieval and answer.
        embed: texts -> unit vectors for the bank (default: the shared MiniLM embedder).

    Raises:
        UsageError: no questions to ask, two conversations with the same id, or answers without a model.
        ComponentError: the model failed on each of the first questions (unreachable or broken).
    """
    if config.answer and chat is None:
        raise UsageError("answering needs a chat model; pass one, or measure retrieval only (answer=False)")
    ids = [c.conv_id for c in conversations]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise UsageError(f"conversation id(s) {dupes} given more than once; give each LoCoMo file once")
    qas = [(c.conv_id, i, q) for c in conversations for i, q in enumerate(c.qa)]
    chosen = sample_questions(qas, config.max_questions, config.categories)
    if not chosen:
        raise UsageError(f"no questions of categories {list(config.categories)} in the given conversations")
    report = LocomoReport(config)
    progress = on_progress or (lambda event: None)
    total = len(chosen)
    done = {stage: 0 for stage in ("retrieve", *(f"answer: {m}" for m in METHODS))}
    counter = token_counter(chat) if config.answer else None
    bank = MemoryBank(MemoryConfig(path=memory_dir), embed=embed)
    progress(EvalProgress("ingest", 0, len(conversations)))
    try:
        for n, conv in enumerate(conversations, start=1):
            asked = [(i, q) for c, i, q in chosen if c == conv.conv_id]
            turns, questions = to_dialogue(conv)
            namespace = namespace_for(conv.conv_id)
            t0 = time.perf_counter()
            ingest_dialogue(bank, turns, namespace)
            report.seconds["ingest"] = report.seconds.get("ingest", 0.0) + time.perf_counter() - t0
            report.conversations[conv.conv_id] = len(turns)
            log.info("conversation %s: %d turns ingested into %s", conv.conv_id, len(turns), namespace)
            progress(EvalProgress("ingest", n, len(conversations)))
            if not asked:
                continue
            now = max(t.timestamp for t in turns) + 86_400.0
            results = _retrieve(bank, conv, asked, questions, namespace, now, report, done, total, progress)
            if config.answer:
                assert chat is not None and counter is not None  # checked above
                _answer(chat, conv, turns, results, counter, report, done, total, progress)
    finally:
        bank.close()
    return report


def _retrieve(bank: MemoryBank, conv: Conversation, asked: list[tuple[int, QA]], questions: list[DialogueQuestion],
              namespace: str, now: float, report: LocomoReport, done: dict[str, int], total: int,
              progress: Callable[[EvalProgress], None]) -> list[QuestionResult]:  # fmt: skip
    depth = max(report.ks)
    results = []
    t0 = time.perf_counter()
    for i, qa in asked:
        dq = questions[i]
        ranking = bank_rankings(bank, [dq], namespace, depth, now=now)[0]
        result = QuestionResult(conv.conv_id, qa.question, qa.category, qa.gold, dq.evidence, tuple(ranking))
        results.append(result)
        report.results.append(result)
        done["retrieve"] += 1
        progress(EvalProgress("retrieve", done["retrieve"], total))
    report.seconds["retrieve"] = report.seconds.get("retrieve", 0.0) + time.perf_counter() - t0
    return results


def _answer(chat: BaseChatModel, conv: Conversation, turns: list[DialogueTurn], results: list[QuestionResult],
            count: Callable[[str], int], report: LocomoReport, done: dict[str, int], total: int,
            progress: Callable[[EvalProgress], None]) -> None:  # fmt: skip
    config = report.config
    system = system_prompt(conv)
    by_id = {t.turn_id: (i, t) for i, t in enumerate(turns)}
    longest = max(count(question_prompt(r.question)) for r in results)
    overhead = count(system) + longest + count("Conversation:\n\n") + 48  # chat-template tokens and slack
    budget = int((config.context_tokens - config.answer_tokens - overhead) * 0.97)
    window = full_context_window(turns, max(0, budget), count)
    report.windows[conv.conv_id] = window
    for method in METHODS:  # one method at a time: consecutive prompts share their prefix (KV cache)
        stage = f"answer: {method}"
        t0 = time.perf_counter()
        for result in results:
            if method == "memory":
                context = memory_context(result.retrieved[: config.k], by_id)
                user = f"Relevant turns of the conversation:\n{context}\n\n"
            elif method == "full_context":
                user = f"Conversation:\n{window.text}\n\n"
            else:
                user = ""
            messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(user + question_prompt(result.question))]
            _ask(chat, messages, method, result, report)
            done[stage] += 1
            progress(EvalProgress(stage, done[stage], total))
        spent = time.perf_counter() - t0
        report.seconds[stage] = report.seconds.get(stage, 0.0) + spent
        log.info("conversation %s: %d answers (%s) in %.0f s", conv.conv_id, len(results), method, spent)


def _ask(chat: BaseChatModel, messages: list[BaseMessage], method: str, result: QuestionResult,
         report: LocomoReport) -> None:  # fmt: skip
    try:
        reply = chat.invoke(messages)
    except Exception as exc:  # a model failure is counted and scored 0, never ends the run
        report.model_errors += 1
        result.errors[method] = f"{type(exc).__name__}: {exc}"
        result.answers[method] = ""
        result.scores[method] = 0.0
        log.warning("model failed on %r (%s): %s", result.question, method, exc)
        answered = sum(1 for r in report.results for m in r.answers if m not in r.errors)
        if report.model_errors >= _MAX_FAILED_START and not answered:
            raise ComponentError(
                f"the chat model failed on each of the first {report.model_errors} questions; last: {exc}",
                "check --llm/--base-url/--model (run `evolve doctor`), or use --no-answer for retrieval only",
            ) from exc
        return
    answer = clean_answer(reply.text)
    result.answers[method] = answer
    result.scores[method] = locomo_score(answer, result.gold, result.category)
