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
from datetime import datetime
from pathlib import Path

import numpy as np
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent.errors import ComponentError, UsageError
from agent.evals.locomo_report import (
    METHODS,
    ContextWindow,
    EvalProgress,
    LocomoEvalConfig,
    LocomoReport,
    QuestionResult,
)
from envs.conversation import NOT_MENTIONED, QA, Conversation
from envs.metrics import locomo_score
from memory import MemoryBank, MemoryConfig
from memory.dialogue import (
    DialogueQuestion,
    DialogueTurn,
    bank_rankings,
    ingest_dialogue,
    turn_text,
)

log = logging.getLogger(__name__)

_MAX_FAILED_START = 3

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

def conversation_namespace(conv_id: str) -> str:
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
            namespace = conversation_namespace(conv.conv_id)
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
