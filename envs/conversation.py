"""Typed loaders for long-conversation memory data: LoCoMo and MemoryBank.

This is the single copy of the loader: the conversation environment (:mod:`envs.conversation_env`), the
memory package's LoCoMo retrieval benchmark and the eval command all read the data through it.

* LoCoMo (Maharana et al., ACL 2024): one JSON object per conversation (``speaker_a``, ``speaker_b``,
  ``session_N_date_time``, ``session_N`` turns with ``dia_id`` ``"D<session>:<turn>"``, and ``qa`` with
  ``evidence`` dia_ids and a ``category`` 1-5). Accepted as a file holding one conversation, a file
  holding a list of samples (the released ``locomo10.json``: ``{"sample_id", "conversation", "qa"}``), or
  a directory of such files. The annotations (``session_N_summary``, ``events_session_N``,
  ``session_N_observation``) are deliberately not loaded: a fair memory benchmark must not see them.
* MemoryBank (SiliconFriend): ``memory_bank_en.json`` maps each user to ``history`` (date to a list of
  ``{"query", "response"}``); ``probing_questions_en.jsonl`` holds ``{"<user>": [question, ...]}`` per line.
  Each date becomes a session, each query/response two turns; the probing questions have no gold answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envs.errors import EnvUsageError

LOCOMO_CATEGORIES: dict[int, str] = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}
"""LoCoMo question categories; MemoryBank questions use category 0 ("probing")."""

NOT_MENTIONED = "Not mentioned in the conversation"
"""The right answer to an adversarial (category 5) LoCoMo question."""

LOCOMO_FORMAT = (
    "a LoCoMo JSON file (one conversation with speaker_a, speaker_b, session_N, session_N_date_time and qa, "
    "or a list of {sample_id, conversation, qa}) or a directory of such files"
)
MEMORYBANK_FORMAT = (
    "MemoryBank's memory_bank_en.json ({user: {name, history: {date: [{query, response}]}}}) with "
    "probing_questions_en.jsonl beside it (or given as questions_path), or a directory holding both"
)


@dataclass(frozen=True)
class Turn:
    """One utterance of a conversation."""

    speaker: str
    """Who speaks."""
    dia_id: str
    """Stable turn id, ``"D<session>:<turn>"`` (the id LoCoMo's ``evidence`` refers to)."""
    text: str
    """What was said."""
    session: int
    """1-based session number."""
    image_caption: str | None = None
    """Caption of a shared photo (LoCoMo ``blip_caption``), if any."""

    def render(self) -> str:
        """The turn as one line: ``[D1:3] Caroline: text [shares a photo: caption]``."""
        photo = f" [shares a photo: {self.image_caption}]" if self.image_caption else ""
        return f"[{self.dia_id}] {self.speaker}: {self.text}{photo}"


@dataclass(frozen=True)
class Session:
    """One sitting of a conversation, on one date."""

    index: int
    """1-based session number."""
    date_time: str
    """When the session took place, as written in the data."""
    turns: tuple[Turn, ...]
    """The utterances in order."""

    def render(self) -> str:
        """The session as text: a header with its date, then one line per turn."""
        lines = [f"Session {self.index} ({self.date_time}):"]
        lines.extend(t.render() for t in self.turns)
        return "\n".join(lines)


@dataclass(frozen=True)
class QA:
    """A question about a conversation."""

    question: str
    """The question."""
    answer: str | None
    """The gold answer as text (None where the data gives none: MemoryBank, most adversarial items)."""
    evidence: tuple[str, ...]
    """dia_ids of the turns that hold the answer."""
    category: int
    """LoCoMo category 1-5 (see :data:`LOCOMO_CATEGORIES`); 0 for MemoryBank probing questions."""
    adversarial_answer: str | None = None
    """For category 5: the tempting wrong answer (about the other speaker, or not in the conversation)."""

    @property
    def gold(self) -> str | None:
        """The answer to score against: :data:`NOT_MENTIONED` for category 5, else :attr:`answer`."""
        return NOT_MENTIONED if self.category == 5 else self.answer


@dataclass(frozen=True)
class Conversation:
    """A long conversation and the questions asked about it."""

    conv_id: str
    """Identifier (LoCoMo ``sample_id`` or file stem; MemoryBank user name)."""
    speaker_a: str
    """First speaker."""
    speaker_b: str
    """Second speaker."""
    sessions: tuple[Session, ...]
    """Sessions in chronological order."""
    qa: tuple[QA, ...]
    """Questions about the conversation."""
    source: str
    """``"locomo"`` or ``"memorybank"``."""

    def turns(self) -> Iterator[Turn]:
        """Every turn, session by session."""
        for session in self.sessions:
            yield from session.turns

    def turn_by_id(self) -> dict[str, Turn]:
        """Map each dia_id to its turn (to resolve ``QA.evidence``)."""
        return {t.dia_id: t for t in self.turns()}


def _read_json(path: Path, expected: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EnvUsageError(f"Data file {str(path)!r} does not exist; expected {expected}.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EnvUsageError(
            f"Data file {str(path)!r} is not valid JSON ({exc}); expected {expected}."
        ) from exc


_SESSION_KEY = re.compile(r"^session_(\d+)$")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _evidence_ids(raw: Any) -> tuple[str, ...]:
    """Evidence dia_ids; a few LoCoMo entries pack several ids in one string (``"D8:6; D9:17"``)."""
    ids: list[str] = []
    for entry in raw:
        ids.extend(part.strip() for part in str(entry).replace(",", ";").split(";") if part.strip())
    return tuple(ids)


def _shown(value: Any) -> str:
    """A bad value as a message shows it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _category(value: Any, conv_id: str, n: int) -> int:
    """A question's LoCoMo category, 0-5 (0: none given); else :class:`EnvUsageError` naming the value."""
    if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip() in set("012345"):
        return int(value)
    raise EnvUsageError(f"LoCoMo record {conv_id!r} question {n}: category {_shown(value)} is not a LoCoMo "
                        "category; use a number from 1 to 5")  # fmt: skip


def parse_locomo(raw: dict[str, Any], conv_id: str) -> Conversation:
    """Build a :class:`Conversation` from one LoCoMo record.

    Args:
        raw: Either a conversation object (speakers, sessions, qa) or a released sample
            (``{"sample_id", "conversation", "qa"}``).
        conv_id: Identifier used when the record has no ``sample_id``.

    Returns:
        The conversation (sessions without turns are skipped).

    Raises:
        EnvUsageError: if a required key is missing.
    """
    conv = raw.get("conversation", raw)
    conv_id = str(raw.get("sample_id", conv_id))
    if not isinstance(conv, dict):
        raise EnvUsageError(f"LoCoMo record {conv_id!r}: 'conversation' is {_shown(conv)}, not an object; "
                            f"expected {LOCOMO_FORMAT}.")  # fmt: skip
    if "speaker_a" not in conv or "speaker_b" not in conv:
        raise EnvUsageError(
            f"LoCoMo record {conv_id!r} has no speaker_a/speaker_b; expected {LOCOMO_FORMAT}."
        )
    qa_raw = raw.get("qa", conv.get("qa", []))
    if not isinstance(qa_raw, list) or not all(isinstance(q, dict) for q in qa_raw):
        raise EnvUsageError(f"LoCoMo record {conv_id!r}: 'qa' must be a list of objects, got {_shown(qa_raw)}; "
                            f"expected {LOCOMO_FORMAT}.")  # fmt: skip
    sessions = []
    for key, value in conv.items():
        m = _SESSION_KEY.match(key)
        if not m or not isinstance(value, list) or not value:
            continue
        idx = int(m.group(1))
        if not all(isinstance(t, dict) for t in value):
            raise EnvUsageError(f"LoCoMo record {conv_id!r}: {key} must be a list of turn objects; "
                                f"expected {LOCOMO_FORMAT}.")  # fmt: skip
        turns = tuple(
            Turn(
                speaker=_text(t.get("speaker")),
                dia_id=_text(t.get("dia_id")) or f"D{idx}:{n}",
                text=_text(t.get("text")),
                session=idx,
                image_caption=t.get("blip_caption") or None,
            )
            for n, t in enumerate(value, start=1)
        )
        sessions.append(
            Session(index=idx, date_time=_text(conv.get(f"session_{idx}_date_time")), turns=turns)
        )
    sessions.sort(key=lambda s: s.index)
    qa = tuple(
        QA(
            question=_text(q.get("question")),
            answer=None if q.get("answer") is None else str(q["answer"]),
            evidence=_evidence_ids(q.get("evidence", []) or []),
            category=_category(q.get("category", 0), conv_id, n),
            adversarial_answer=None if q.get("adversarial_answer") is None else str(q["adversarial_answer"]),
        )
        for n, q in enumerate(qa_raw)
    )
    if not sessions:
        raise EnvUsageError(
            f"LoCoMo record {conv_id!r} has no non-empty session_N lists; expected {LOCOMO_FORMAT}."
        )
    return Conversation(
        conv_id, str(conv["speaker_a"]), str(conv["speaker_b"]), tuple(sessions), qa, "locomo"
    )


def load_locomo(path: str | Path) -> list[Conversation]:
    """Load LoCoMo conversations from a file or a directory of ``*.json`` files.

    Args:
        path: A LoCoMo JSON file (one conversation, or a list of samples), or a directory of them.

    Returns:
        The conversations, in file-name order (then file order).

    Raises:
        EnvUsageError: naming the path and the expected format if it is missing, empty or malformed.
    """
    root = Path(path).expanduser()
    if root.is_dir():
        files = sorted(root.glob("*.json"))
        if not files:
            raise EnvUsageError(f"Directory {str(root)!r} holds no *.json files; expected {LOCOMO_FORMAT}.")
    elif root.is_file():
        files = [root]
    else:
        raise EnvUsageError(f"LoCoMo path {str(root)!r} does not exist; expected {LOCOMO_FORMAT}.")
    out: list[Conversation] = []
    for file in files:
        data = _read_json(file, LOCOMO_FORMAT)
        records = data if isinstance(data, list) else [data]
        for n, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise EnvUsageError(f"{str(file)!r} item {n} is not a JSON object; expected {LOCOMO_FORMAT}.")
            out.append(parse_locomo(rec, file.stem if len(records) == 1 else f"{file.stem}-{n}"))
    return out


def _memorybank_paths(path: Path, questions_path: str | Path | None) -> tuple[Path, Path | None]:
    if path.is_dir():
        histories = sorted(path.glob("memory_bank*.json"))
        if not histories:
            raise EnvUsageError(
                f"Directory {str(path)!r} holds no memory_bank*.json; expected {MEMORYBANK_FORMAT}."
            )
        path = histories[0]
    elif not path.is_file():
        raise EnvUsageError(f"MemoryBank path {str(path)!r} does not exist; expected {MEMORYBANK_FORMAT}.")
    if questions_path is not None:
        q = Path(questions_path).expanduser()
        if not q.is_file():
            raise EnvUsageError(
                f"Probing-questions file {str(q)!r} does not exist; expected {MEMORYBANK_FORMAT}."
            )
        return path, q
    found = sorted(path.parent.glob("probing_questions*.jsonl"))
    return path, (found[0] if found else None)


def _read_questions(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EnvUsageError(
                f"{str(path)!r} line {n} is not valid JSON ({exc}); expected {MEMORYBANK_FORMAT}."
            ) from exc
        if not isinstance(row, dict):
            raise EnvUsageError(f"{str(path)!r} line {n} is not an object; expected {MEMORYBANK_FORMAT}.")
        for name, questions in row.items():
            out.setdefault(str(name).strip(), []).extend(str(q) for q in questions)
    return out


def load_memorybank(path: str | Path, questions_path: str | Path | None = None) -> list[Conversation]:
    """Load MemoryBank user histories (one :class:`Conversation` per user) with their probing questions.

    Args:
        path: ``memory_bank_en.json``, or a directory holding it and ``probing_questions_en.jsonl``.
        questions_path: The probing questions, if not beside the history file.

    Returns:
        One conversation per user (speakers: the user and ``"AI"``); sessions are the dated chats; the
        questions have ``answer=None`` and ``category=0`` because MemoryBank gives no gold answers.

    Raises:
        EnvUsageError: naming the path and the expected format if it is missing or malformed.
    """
    history_file, q_file = _memorybank_paths(Path(path).expanduser(), questions_path)
    data = _read_json(history_file, MEMORYBANK_FORMAT)
    if not isinstance(data, dict):
        raise EnvUsageError(
            f"{str(history_file)!r} is not a JSON object of users; expected {MEMORYBANK_FORMAT}."
        )
    questions = _read_questions(q_file) if q_file is not None else {}
    out: list[Conversation] = []
    for key, user in data.items():
        if not isinstance(user, dict) or not isinstance(user.get("history"), dict):
            raise EnvUsageError(
                f"User {key!r} in {str(history_file)!r} has no history; expected {MEMORYBANK_FORMAT}."
            )
        name = str(user.get("name", key)).strip()
        sessions = []
        for idx, date in enumerate(sorted(user["history"]), start=1):
            turns: list[Turn] = []
            for chat in user["history"][date]:
                for speaker, field in ((name, "query"), ("AI", "response")):
                    if chat.get(field):
                        turns.append(Turn(speaker, f"D{idx}:{len(turns) + 1}", str(chat[field]), idx))
            sessions.append(Session(idx, str(date), tuple(turns)))
        qa = tuple(QA(q, None, (), 0) for q in questions.get(name, []))
        out.append(Conversation(name, name, "AI", tuple(sessions), qa, "memorybank"))
    return out
