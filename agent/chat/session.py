"""A chat with the agent that remembers the user across sessions (MemoryBank-style companion).

One :class:`ChatSession` is one sitting with one user. Everything it knows lives in the memory bank
under the namespace ``user:NAME``:

* each user message and the assistant's reply become one ``experience`` memory (``thread`` = the
  session id, ``seq`` = the turn index, ``created_at`` = the session clock, the date in the keyword
  context so "on May 2nd ..." finds it);
* :meth:`ChatSession.reflect` (run on ``/reflect`` and when the session ends) asks the injected model
  for ``profile`` facts (the user portrait) and a ``summary`` of the new turns with
  :func:`memory.reflect.reflect`, then runs the bank's forgetting sweep at the session's "now";
* every answer is grounded in memories retrieved over experiences, summaries and profile facts within
  a token budget; the prompt lists them with their dates, and retrieval strengthens what it recalls
  (Ebbinghaus strength grows, spaced recalls more), so memories in use outlive the others.

The clock is injected, so a multi-day history can be simulated (:class:`SimulatedClock`). The model
is any LangChain chat model; answers are streamed token by token through a callback.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.chat.clock import day_of, memory_dates, spoken_date
from agent.chat.commands import KIND_LABELS, memory_line
from agent.chat.results import ForgetResult, Portrait, SessionReflection, TurnResult
from agent.core.prompting import load_prompts
from agent.errors import UsageError
from memory import (
    MemoryBank,
    MemoryKind,
    MemoryRecord,
    MemoryStatus,
    RetrievedMemory,
    reflect,
)
from memory.base import validate_namespace
from memory.errors import MemoryUsageError
from memory.reflect import JsonLLM
from memory.tokens import truncate_to_tokens

log = logging.getLogger(__name__)


def user_namespace(user: str) -> str:
    """The memory namespace of a user, ``user:NAME``.

    Raises:
        UsageError: the name has characters a namespace cannot hold (it names the allowed ones).
    """
    try:
        return validate_namespace(f"user:{user}")
    except MemoryUsageError as exc:
        raise UsageError(f"bad user name {user!r}: {exc}") from None


class ChatConfig(BaseModel):
    """How a chat session retrieves, prompts and reflects."""

    user: str = "me"
    """Whose memory to use: the namespace is ``user:<user>``."""
    k: int = Field(default=6, ge=1)
    """Most memories retrieved per turn."""
    token_budget: int = Field(default=600, ge=1)
    """Most tokens of memory text in the prompt (tiktoken)."""
    kinds: tuple[MemoryKind, ...] = (MemoryKind.EXPERIENCE, MemoryKind.SUMMARY, MemoryKind.PROFILE)
    """Memory kinds an answer may be grounded in."""
    history_turns: int = Field(default=3, ge=0)
    """Recent turns of this session sent verbatim (older ones are reached through memory)."""
    max_message_tokens: int = Field(default=1200, ge=16)
    """A longer user message is cut to this many tokens before it is stored."""
    reflect_steps: tuple[str, ...] = ("lessons", "summary")
    """Reflection steps: ``lessons`` writes profile facts (the portrait), ``summary`` a session summary."""
    reflect_batch: int = Field(default=12, ge=1)
    """Turns per reflection batch (one summary per batch)."""
    reflect_max_items: int = Field(default=3, ge=1)
    """Most profile facts (and lessons) taken from one reflection reply."""
    summary_words: int = Field(default=50, ge=10)
    """Length limit given to the summary step."""
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    """Importance of a stored turn (sets its initial forgetting strength)."""


class ChatSession:
    """One sitting of one user with the agent; the memory bank and the model are injected."""

    def __init__(
        self,
        bank: MemoryBank,
        chat: BaseChatModel,
        config: ChatConfig | None = None,
        *,
        reflect_llm: JsonLLM | None = None,
        session_id: str | None = None,
    ) -> None:
        """Open a session.

        Args:
            bank: the memory bank (its clock is the session's clock).
            chat: the chat model that answers (streamed).
            config: retrieval, prompt and reflection settings; the user's name is ``config.user``.
            reflect_llm: the JSON model used by reflection; default: ``chat`` through
                :func:`agent.llm.structured.json_llm`.
            session_id: the thread id of this session's turns; default: the date and a random suffix.

        Raises:
            UsageError: the user name cannot form a namespace.
        """
        self.bank = bank
        self.chat = chat
        self.config = config or ChatConfig()
        self.namespace = user_namespace(self.config.user)
        if reflect_llm is None:
            from agent.llm.structured import json_llm

            reflect_llm = json_llm(chat)
        self.reflect_llm = reflect_llm
        self.session_id = session_id or f"s-{day_of(bank.clock()).replace('-', '')}-{uuid.uuid4().hex[:6]}"
        self.turns: list[TurnResult] = []
        self.model_errors = 0
        self._history: list[tuple[str, str, str]] = []  # (message, reply, memory id) of this sitting
        self._next_seq = 0

    @property
    def user(self) -> str:
        """The user's name."""
        return self.config.user

    @property
    def last(self) -> TurnResult | None:
        """The last answered turn (None before the first answer)."""
        return self.turns[-1] if self.turns else None

    def warm_up(self) -> None:
        """Load the embedder and a local model now, so the first answer does not pay for loading them."""
        from agent.llm.llamacpp import LlamaCppChatModel

        self.bank.embed(["warm up"])
        if isinstance(self.chat, LlamaCppChatModel):
            _ = self.chat.llama

    # -- answering --------------------------------------------------------------------------------------
    def _window(self) -> list[tuple[str, str, str]]:
        return self._history[-self.config.history_turns :] if self.config.history_turns else []

    def retrieve(self, message: str, *, record: bool = True) -> list[RetrievedMemory]:
        """Memories for a message, leaving out the turns already in the prompt's recent-turn window.

        With ``record`` the recall is counted (retrieval strengthens what it returns).
        """
        shown = {memory_id for _, _, memory_id in self._window()}
        cfg, bank = self.config, self.bank
        now = bank.clock()
        hits = bank.retrieve(message, k=cfg.k + len(shown), kinds=cfg.kinds, namespace=self.namespace,
                             token_budget=cfg.token_budget, now=now, record=False)  # fmt: skip
        chosen = [h for h in hits if h.id not in shown][: cfg.k]
        if record and chosen:  # count only what the prompt shows (what retrieve(record=True) would do for them)
            bank.mark_recalled([h.id for h in chosen], now=now)
        return chosen

    def messages(self, message: str, used: Sequence[RetrievedMemory]) -> list[BaseMessage]:
        """The prompt of a turn: the session's instructions, the recent turns, then the dated memories
        retrieved for this message with the message itself (stable prefix first, for the KV cache)."""
        groups: dict[MemoryKind, list[RetrievedMemory]] = {}
        for hit in used:
            groups.setdefault(hit.record.kind, []).append(hit)
        lines: list[str] = []
        for kind in (MemoryKind.PROFILE, MemoryKind.SUMMARY, MemoryKind.EXPERIENCE):
            hits = sorted(groups.get(kind, []), key=lambda h: -h.record.created_at)
            label = KIND_LABELS.get(kind, kind.value)
            lines += [memory_line(hit.record, memory_dates(self.bank, hit.record), label) for hit in hits]
        prompts = load_prompts("chat")
        system = prompts["system"].format(user=self.user, today=spoken_date(self.bank.clock()))
        out: list[BaseMessage] = [SystemMessage(system)]
        for said, answered, _ in self._window():
            out.extend([HumanMessage(said), AIMessage(answered)])
        shown = "\n".join(lines) or prompts["no_memories"]
        out.append(SystemMessage(prompts["memories"].format(user=self.user, memories=shown)))
        out.append(HumanMessage(message))
        return out

    def ask(self, message: str, on_token: Callable[[str], None] | None = None, *, remember: bool = True) -> TurnResult:
        """Answer a message, grounded in retrieved memories, streaming tokens to ``on_token``.

        The turn is stored as an ``experience`` memory once answered. A model failure is returned
        as ``TurnResult.error`` (counted in :attr:`model_errors`; nothing is stored) and never raised.
        ``remember=False`` leaves memory as it was: the turn is not stored, recalls are not counted and
        the turn does not join the recent-turn window (evaluation questions must not feed each other).

        Raises:
            UsageError: the message is empty.
        """
        text = message.strip()
        if not text:
            raise UsageError("the message is empty; type something to say, or /help for the commands")
        start = time.perf_counter()
        used = self.retrieve(text, record=remember)
        turn = TurnResult(message=text, reply="", used=list(used), retrieve_s=time.perf_counter() - start)
        pieces: list[str] = []
        try:
            for chunk in self.chat.stream(self.messages(text, used)):
                piece = chunk.text
                if not piece:
                    continue
                if turn.first_token_s is None:
                    turn.first_token_s = time.perf_counter() - start
                pieces.append(piece)
                if on_token is not None:
                    on_token(piece)
        except Exception as exc:  # any backend failure (timeout, server down, bad file): report, keep going
            self.model_errors += 1
            turn.error = f"{type(exc).__name__}: {exc}"
            log.warning("chat model failed on %r: %s", text[:80], exc)
        if pieces:
            turn.answer_s = time.perf_counter() - start
        turn.reply = "".join(pieces).strip()
        if turn.error is None and remember:
            turn.memory_id = self.record_turn(text, turn.reply)
            self._history.append((text, turn.reply, turn.memory_id))
        turn.total_s = time.perf_counter() - start
        self.turns.append(turn)
        return turn

    def start_session(self, session_id: str) -> None:
        """Begin a new sitting in this object: new thread id, turn index from 0, no recent turns."""
        self.session_id = session_id
        self._next_seq = 0
        self._history.clear()

    def record_turn(self, message: str, reply: str, *, at: float | None = None, source_id: str | None = None) -> str:
        """Store one exchange as an ``experience`` memory of this session; returns its id.

        Args:
            message: what the user said.
            reply: what the assistant answered (may be empty).
            at: when it happened (default: the clock's now).
            source_id: where the exchange comes from (default ``SESSION:turnN``), e.g. a dataset's turn id.
        """
        when = self.bank.clock() if at is None else at
        said = truncate_to_tokens(message.strip(), self.config.max_message_tokens)
        answered = truncate_to_tokens(reply.strip(), self.config.max_message_tokens)
        text = f"{self.user}: {said}" + (f"\nAssistant: {answered}" if answered else "")
        seq = self._next_seq
        self._next_seq += 1
        return self.bank.insert(
            text, MemoryKind.EXPERIENCE, self.namespace, actor="chat", reason="chat turn",
            importance=self.config.importance, context=spoken_date(when), thread=self.session_id, seq=seq,
            created_at=when, source_ids=(source_id or f"{self.session_id}:turn{seq}",),
            meta={"session": self.session_id, "date": day_of(when), "speaker": self.user}, origin="user",
        )  # fmt: skip

    # -- what it knows, and edits ---------------------------------------------------------------------
    def portrait(self, recent: int = 3) -> Portrait:
        """What the agent knows about the user: profile facts, summaries and remembered turns."""
        ns = self.namespace
        profile = self.bank.memories([MemoryKind.PROFILE], ns)
        summaries = self.bank.memories([MemoryKind.SUMMARY], ns)
        turns = self.bank.memories([MemoryKind.EXPERIENCE], ns)
        forgotten = self.bank.view.count(namespace=ns, status=MemoryStatus.ARCHIVED)
        days = sorted(day_of(r.created_at) for r in turns)
        return Portrait(ns, profile, summaries, turns[:recent], len(turns), forgotten,
                        days[0] if days else None, days[-1] if days else None)  # fmt: skip

    def find(self, ref: str) -> MemoryRecord:
        """The user's memory with id ``ref`` (or a unique id prefix of at least 8 characters).

        Raises:
            UsageError: no memory of this user has that id, or the prefix is ambiguous.
        """
        ref = ref.strip()
        if len(ref) >= 8:
            ids = self.bank.view.ids_with_prefix(self.namespace, ref, limit=3)
            if len(ids) == 1:
                return self.bank.get(ids[0])
            if len(ids) > 1:
                raise UsageError(f"{ref!r} matches several memories; give more of the id (see /memories)")
        raise UsageError(f"no memory with id {ref!r} in {self.user}'s memory; /memories lists the ids")

    def forget(self, ref: str, *, max_matches: int = 5, min_similarity: float = 0.55) -> ForgetResult:
        """Forget (archive) a memory by id, else the memories whose text contains ``ref``.

        Without a text match, the single most similar memory is forgotten if its cosine similarity
        is at least ``min_similarity``.

        Raises:
            UsageError: empty reference, unknown id, no match, or more than ``max_matches`` matches.
        """
        ref = ref.strip()
        if not ref:
            raise UsageError("say what to forget: /forget <id> or /forget <text>")
        if ref.startswith("mem-"):
            record = self.find(ref)
            self._archive([record])
            return ForgetResult([self.bank.get(record.id)], "id")
        needle = ref.lower()
        active = [r for r in self.bank.memories(None, self.namespace) if needle in r.text.lower()]
        if len(active) > max_matches:
            raise UsageError(f"{len(active)} memories contain {ref!r}; be more specific or give an id "
                             "(see /memories)")  # fmt: skip
        matched_by = "text"
        if not active:
            hits = self.bank.retrieve(ref, k=1, namespace=self.namespace, record=False, min_similarity=min_similarity)
            if not hits:
                raise UsageError(f"nothing in {self.user}'s memory matches {ref!r}; /memories lists what I know")
            active, matched_by = [hits[0].record], "similarity"
        self._archive(active)
        return ForgetResult(self.bank.get_many([r.id for r in active]), matched_by)

    def _archive(self, records: Sequence[MemoryRecord]) -> None:
        self.bank.archive([r.id for r in records], reason=f"/forget by {self.user}", actor="user")

    def pin(self, ref: str) -> MemoryRecord:
        """Pin a memory (never forgotten).

        Raises:
            UsageError: no id given or unknown id.
        """
        if not ref.strip():
            raise UsageError("say which memory to pin: /pin <id> (see /memories)")
        record = self.find(ref)
        return self.bank.pin(record.id, actor="user", reason=f"/pin by {self.user}")

    def reflect(self) -> SessionReflection:
        """Write profile facts and summaries from the unreflected turns, then forget what has faded."""
        pending = self.bank.view.count([MemoryKind.EXPERIENCE], self.namespace, MemoryStatus.ACTIVE, unreflected=True)
        report = None
        if pending:
            cfg = self.config
            report = reflect(self.bank, self.reflect_llm, namespace=self.namespace, steps=cfg.reflect_steps,
                             batch_size=cfg.reflect_batch, max_items=cfg.reflect_max_items,
                             summary_words=cfg.summary_words, actor="chat-reflect")  # fmt: skip
        return SessionReflection(report, self.bank.forget(self.bank.clock()))

    def end(self, *, reflect: bool = True) -> SessionReflection:
        """End the session: reflect (unless told not to) and forget; the bank stays open for the caller."""
        if reflect:
            return self.reflect()
        return SessionReflection(None, self.bank.forget(self.bank.clock()))
