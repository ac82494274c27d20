"""``evolve eval memorybank``: replay the MemoryBank users' ten days into the chat agent, then ask the
probing questions and write each answer with the memories it used.

Per user (namespace ``user:NAME``), day by day on a simulated clock: every recorded exchange (the
user's query and the companion's response, as in the data) is stored through
:meth:`agent.chat.session.ChatSession.record_turn`, the same path a live chat turn takes; at the end of each
day the session reflects (profile facts and a day summary) and forgets at that day's date, as
MemoryBank does. The day after the last one, each probing question is answered by
:meth:`agent.chat.session.ChatSession.ask`, so retrieval and prompting are exactly the chat's; the questions
are asked with ``remember=False`` (not stored, recalls not counted), so one question's answer cannot
leak into the next one's memories.

MemoryBank ships no gold answers, so nothing here scores correctness: the summary reports coverage
(questions answered, model errors, memories used per answer and their kinds and dates) and says so.
Answers go to ``answers.jsonl`` (one line per question, appended and flushed, so an interrupted run
resumes where it stopped), the figures to ``summary.json``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import BaseModel, Field

from agent.chat.clock import SimulatedClock, day_of, memory_dates, parse_when
from agent.chat.session import ChatConfig, ChatSession
from agent.errors import UsageError
from agent.jsonl import json_lines
from envs.conversation import Conversation
from memory import MemoryBank, MemoryConfig, RetrievedMemory
from memory.scoring import DAY

log = logging.getLogger(__name__)

NOTE = ("MemoryBank gives no gold answers: these are coverage figures (answers written, memories used), "
        "not accuracy.")  # fmt: skip


class MemoryBankEvalConfig(BaseModel):
    """What the replay and the probing do."""

    users: int | None = Field(default=None, ge=1)
    """Replay only the first N users (None: all)."""
    reflect: bool = True
    """Reflect (profile facts, day summary) and forget at the end of every day."""
    chat: ChatConfig = Field(default_factory=ChatConfig)
    """Retrieval and prompt settings of the chat agent (its ``user`` is set per user)."""
    day_start_hour: int = Field(default=20, ge=0, le=23)
    """Hour (UTC) of a day's first exchange; exchanges are a minute apart."""


@dataclass(frozen=True)
class Progress:
    """One step of the run, for a progress display."""

    user: str
    """The user being processed."""
    phase: str
    """``replay`` or ``questions``."""
    done: int
    """Steps done in this phase."""
    total: int
    """Steps in this phase."""


def slug(name: str) -> str:
    """A user name as a namespace-safe name (``Mary Ann`` → ``Mary-Ann``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-._")
    return cleaned[:63] or "user"


def exchanges(conversation: Conversation, day: int) -> list[tuple[str, str, str]]:
    """The (query, response, turn id) triples of one day: each user turn with the AI turn that follows it."""
    out: list[tuple[str, str, str]] = []
    turns = list(conversation.sessions[day].turns)
    i = 0
    while i < len(turns):
        if turns[i].speaker == conversation.speaker_b:  # a response with no query before it
            out.append(("", turns[i].text, turns[i].dia_id))
            i += 1
            continue
        reply = turns[i + 1].text if i + 1 < len(turns) and turns[i + 1].speaker == conversation.speaker_b else ""
        out.append((turns[i].text, reply, turns[i].dia_id))
        i += 2 if reply else 1
    return out


ANSWER_KEYS = ("user", "question", "answer", "error", "memories", "first_token_s", "seconds")
"""What every line of ``answers.jsonl`` holds (the summary reads them all)."""


def answered(path: Path) -> set[tuple[str, str]]:
    """(user, question) of every answer already in ``path``."""
    return {(row["user"], row["question"]) for row in _rows(path)}


def _rows(path: Path) -> list[dict[str, Any]]:
    """The answers recorded in ``path`` (none when it does not exist); torn or incomplete lines are skipped."""
    rows = []
    for number, row in json_lines(path) if path.is_file() else ():
        if all(key in row for key in ANSWER_KEYS):
            rows.append(row)
        else:
            log.warning("%s line %d lacks some of %s; skipped", path, number, ", ".join(ANSWER_KEYS))
    return rows


def _memory_row(session: ChatSession, hit: RetrievedMemory) -> dict[str, Any]:
    return {"id": hit.id, "kind": hit.record.kind.value, "score": round(hit.score, 4),
            "dates": memory_dates(session.bank, hit.record), "text": hit.record.text}  # fmt: skip


def replay_user(session: ChatSession, conversation: Conversation, clock: SimulatedClock, config: MemoryBankEvalConfig,
                on_progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """Store a user's days as chat turns (reflecting and forgetting after each day); returns counts."""
    counts = {"days": 0, "turns": 0, "profile_facts": 0, "summaries": 0, "reflect_failures": 0, "forgotten": 0}
    for index, dated in enumerate(conversation.sessions):
        start = parse_when(dated.date_time) + (config.day_start_hour - 12) * 3600
        session.start_session(f"memorybank-{session.user}-{dated.date_time}")
        for minute, (query, response, turn_id) in enumerate(exchanges(conversation, index)):
            if query or response:
                session.record_turn(query or "(no message)", response, at=start + 60 * minute,
                                    source_id=f"memorybank:{conversation.conv_id}:{turn_id}")  # fmt: skip
                counts["turns"] += 1
        counts["days"] += 1
        if config.reflect:
            clock.set(start + 3 * 3600)  # the evening of that day
            result = session.reflect()
            if result.reflect is not None:
                counts["profile_facts"] += len(result.reflect.facts)
                counts["summaries"] += len(result.reflect.summaries)
                counts["reflect_failures"] += result.reflect.failures
            counts["forgotten"] += result.forget.archived
        if on_progress is not None:
            on_progress(Progress(conversation.conv_id, "replay", index + 1, len(conversation.sessions)))
    return counts


def run_memorybank_eval(
    conversations: Sequence[Conversation],
    chat: BaseChatModel,
    out_dir: Path,
    *,
    memory_dir: Path | None = None,
    config: MemoryBankEvalConfig | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Replay, ask, write ``answers.jsonl`` and ``summary.json`` under ``out_dir``; returns the summary.

    Raises:
        UsageError: no conversations, or a conversation without dated sessions.
    """
    config = config or MemoryBankEvalConfig()
    chosen = list(conversations)[: config.users] if config.users else list(conversations)
    if not chosen:
        raise UsageError("no MemoryBank users to evaluate; check the data path")
    out_dir.mkdir(parents=True, exist_ok=True)
    answers_path = out_dir / "answers.jsonl"
    done = answered(answers_path)
    started = time.perf_counter()
    clock = SimulatedClock()
    per_user: list[dict[str, Any]] = []
    bank = MemoryBank(MemoryConfig(path=memory_dir or out_dir / "memory"), clock=clock)
    try:
        with answers_path.open("a", encoding="utf-8") as out:
            for conversation in chosen:
                if not conversation.sessions:
                    raise UsageError(f"user {conversation.conv_id!r} has no dated history to replay")
                user = slug(conversation.conv_id)
                session = ChatSession(bank, chat, config.chat.model_copy(update={"user": user}),
                                      session_id=f"memorybank-{user}-questions")  # fmt: skip
                pending = [q.question for q in conversation.qa if (user, q.question) not in done]
                counts = {"user": user, "questions": len(conversation.qa), "skipped_answered": 0}
                if not pending:
                    counts["skipped_answered"] = len(conversation.qa)
                    per_user.append(counts)
                    continue
                counts.update(replay_user(session, conversation, clock, config, on_progress))
                last_day = parse_when(conversation.sessions[-1].date_time)
                clock.set(last_day + DAY - 3 * 3600)  # the next morning
                counts["skipped_answered"] = len(conversation.qa) - len(pending)
                for i, question in enumerate(pending, start=1):
                    turn = session.ask(question, remember=False)  # questions must not feed each other
                    row = {"user": user, "question": question, "answer": turn.reply, "error": turn.error,
                           "asked_on": day_of(clock()), "memories": [_memory_row(session, h) for h in turn.used],
                           "retrieve_s": round(turn.retrieve_s, 3),
                           "first_token_s": None if turn.first_token_s is None else round(turn.first_token_s, 3),
                           "seconds": round(turn.total_s, 3)}  # fmt: skip
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    out.flush()
                    if on_progress is not None:
                        on_progress(Progress(user, "questions", i, len(pending)))
                per_user.append(counts)
        summary = summarise(answers_path, per_user, time.perf_counter() - started)
    finally:
        bank.close()
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def summarise(answers_path: Path, per_user: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Coverage figures over every answer in ``answers.jsonl`` (this run's and earlier ones')."""
    rows = _rows(answers_path)
    users = {r["user"] for r in rows}
    answered = [r for r in rows if r["error"] is None and r["answer"].strip()]
    used = [len(r["memories"]) for r in rows]
    kinds: dict[str, int] = {}
    for r in rows:
        for m in r["memories"]:
            kinds[m["kind"]] = kinds.get(m["kind"], 0) + 1
    times = sorted(r["seconds"] for r in rows)
    firsts = sorted(r["first_token_s"] for r in rows if r["first_token_s"] is not None)
    return {
        "note": NOTE,
        "users": len(users),
        "questions": len(rows),
        "answers_written": len(answered),
        "model_errors": sum(1 for r in rows if r["error"] is not None),
        "empty_answers": sum(1 for r in rows if r["error"] is None and not r["answer"].strip()),
        "memories_per_answer": {"mean": round(sum(used) / len(used), 2) if used else 0.0,
                                "min": min(used, default=0), "max": max(used, default=0)},  # fmt: skip
        "answers_without_memories": sum(1 for n in used if n == 0),
        "memories_used_by_kind": kinds,
        "seconds_per_answer_median": times[len(times) // 2] if times else None,
        "first_token_s_median": firsts[len(firsts) // 2] if firsts else None,
        "per_user": per_user,
        "wall_seconds": round(seconds, 1),
    }
