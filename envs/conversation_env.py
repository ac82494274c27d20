"""Conversation-memory environment: read a long conversation session by session, then answer questions.

An episode is one conversation (ids ``locomo`` and ``memorybank``; the data path is given by the user).

* Feed phase: each observation is one session (date, then ``[dia_id] speaker: text`` lines). Any action
  (``next`` by convention) moves on; nothing is scored.
* Question phase: one question per step; the action is the answer.

LoCoMo scoring (:func:`envs.metrics.locomo_score`): categories 1-4 by token F1 against the gold answer
(the reward of the step). ``score`` is the sum of those F1s over the number of category 1-4 questions of
the episode, so it ends as their mean. Adversarial questions (category 5: the conversation never says)
are only asked when ``categories`` includes 5; they score 1 when the answer abstains ("not mentioned",
"no information available", ...) or matches a gold answer the data gives, and are reported apart in
``info["adversarial_accuracy"]``, never mixed into ``score``. ``success`` is a final score of at least
``success_threshold`` (default 0.5).

MemoryBank has no gold answers: its probing questions are asked with reward 0, the answers are recorded
in :attr:`ConversationEnv.answers` (and ``info["answer"]``) for later judging, and ``success`` stays False.

Seeds are conversation indices in the loaded data. The benchmarks have no folds, so the split is the
data passed in: give the held-out conversations' path when ``split="test"``, or cut one file into
disjoint ``seeds=`` ranges. Gold answers (``info["gold"]``, ``gold_actions``) are given on train only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from envs.adapter import Adapter, Frame
from envs.conversation import LOCOMO_CATEGORIES, QA, Conversation, load_locomo, load_memorybank
from envs.errors import EnvUsageError, check_choice
from envs.metrics import exact_answer, locomo_score

SOURCES = ("locomo", "memorybank")


class ConversationEnv(Adapter):
    """LoCoMo or MemoryBank conversations as episodes (see the module docstring for the rules)."""

    accepts_free_text = True

    def __init__(
        self,
        source: str,
        split: str = "train",
        *,
        path: str | Path | None = None,
        questions_path: str | Path | None = None,
        seeds: Sequence[int] | range | int | None = None,
        max_steps: int | None = None,
        categories: Iterable[int] = (1, 2, 3, 4),
        max_questions: int | None = None,
        success_threshold: float = 0.5,
        preset: str = "default",
    ) -> None:
        """Load the conversations.

        Args:
            source: ``"locomo"`` or ``"memorybank"``.
            split: Recorded in ``info``; the data passed in *is* the split (see the module docstring).
            path: LoCoMo file/directory, or MemoryBank ``memory_bank_en.json`` / its directory.
            questions_path: MemoryBank probing questions, if not beside ``path``.
            seeds: Restrict to these conversation indices.
            max_steps: Step limit (None: sessions + questions of the episode, so nothing is cut).
            categories: LoCoMo categories to ask (1-5; 5 is adversarial). Ignored for MemoryBank.
            max_questions: Ask at most this many questions per episode (the first ones, in data order).
            success_threshold: Final LoCoMo score counted as success.
            preset: Only ``"default"`` exists.

        Raises:
            EnvUsageError: for a missing or malformed data path or a bad parameter.
        """
        check_choice("conversation source", source, SOURCES)
        check_choice("preset", preset, ("default",), where=source)
        if path is None:
            raise EnvUsageError(
                f"{source} needs path=...: the data is not bundled. Pass e.g. "
                + (
                    "path='data/locomo/' (LoCoMo JSON files)."
                    if source == "locomo"
                    else "path='data/memorybank/memory_bank_en.json'."
                )
            )
        cats = tuple(sorted(set(categories)))
        bad = [c for c in cats if c not in LOCOMO_CATEGORIES]
        if bad or not cats:
            raise EnvUsageError(
                f"categories={cats!r} for {source}: allowed values are 1, 2, 3, 4, 5 (at least one)."
            )
        if max_questions is not None and (not isinstance(max_questions, int) or max_questions < 0):
            raise EnvUsageError(f"max_questions must be a non-negative int or None, got {max_questions!r}.")
        self.source = source
        self.conversations: list[Conversation] = (
            load_locomo(path) if source == "locomo" else load_memorybank(path, questions_path)
        )
        self.categories = cats
        self.max_questions = max_questions
        self.success_threshold = float(success_threshold)
        self.answers: list[tuple[QA, str]] = []
        self._conv: Conversation | None = None
        self._questions: tuple[QA, ...] = ()
        self._next_session = 0
        self._next_question = 0
        self._asked_any = False
        self._f1_sum = 0.0
        self._scored = 0
        self._adv_right = 0
        self._adv_asked = 0
        self._by_cat: dict[int, list[float]] = {}
        super().__init__(source, split, seeds=seeds, max_steps=max_steps, preset=preset)

    @property
    def conversation(self) -> Conversation:
        """The conversation of the current episode."""
        if self._conv is None:
            raise EnvUsageError(f"Call reset() on {self.env_id} before reading the conversation.")
        return self._conv

    @property
    def questions(self) -> tuple[QA, ...]:
        """The questions this episode asks, in order."""
        return self._questions

    def _fold_seeds(self) -> range:
        return range(len(self.conversations))

    def _task_type(self) -> str:
        return self.source

    def _episode_limit(self) -> int:
        return len(self.conversation.sessions) + len(self._questions)

    def _select(self, conv: Conversation) -> tuple[QA, ...]:
        qs = [q for q in conv.qa if self.source == "memorybank" or q.category in self.categories]
        return tuple(qs if self.max_questions is None else qs[: self.max_questions])

    def _start(self, seed: int) -> Frame:
        conv = self.conversations[seed]
        self._conv = conv
        self._questions = self._select(conv)
        self._next_session = 1
        self._next_question = 0
        self._asked_any = False
        self._f1_sum, self._scored, self._adv_right, self._adv_asked = 0.0, 0, 0, 0
        self._by_cat = {}
        self.answers = []
        other = conv.speaker_b if conv.source == "locomo" else "an AI companion"
        task = (
            f"Read a long conversation between {conv.speaker_a} and {other}, one session per step (reply "
            f"'next' to go on). Then answer {len(self._questions)} questions about it, one per step, with a "
            "short phrase; if the conversation never says, answer 'Not mentioned in the conversation'."
        )
        return Frame(
            text=conv.sessions[0].render(),
            valid_actions=("next",),
            task=task,
            info={"phase": "session", "session": conv.sessions[0].index, "conversation": conv.conv_id},
        )

    def _question_frame(self, info: dict[str, Any], prefix: str = "") -> Frame:
        if self._next_question >= len(self._questions):
            done = "All questions answered."
            if self.source == "locomo":
                done += f" Mean F1 on categories 1-4: {self._mean():.3f}."
            return self._frame(f"{prefix}{done}", (), info, terminated=True)
        q = self._questions[self._next_question]
        info.update(
            {
                "phase": "question",
                "question_index": self._next_question,
                "category": q.category,
                "category_name": LOCOMO_CATEGORIES.get(q.category, "probing"),
            }
        )
        if self.split == "train" and q.evidence:
            info["evidence"] = list(q.evidence)
        text = f"{prefix}Question {self._next_question + 1}/{len(self._questions)}: {q.question}"
        return self._frame(text, (), info, terminated=False)

    def _mean(self) -> float:
        n = sum(1 for q in self._questions if q.category != 5) if self.source == "locomo" else 0
        return self._f1_sum / n if n else 0.0

    def _frame(self, text: str, valid: tuple[str, ...], info: dict[str, Any], *, terminated: bool) -> Frame:
        score = self._mean()
        info.update(
            {
                "conversation": self.conversation.conv_id,
                "category_scores": {
                    LOCOMO_CATEGORIES.get(c, str(c)): sum(v) / len(v) for c, v in self._by_cat.items()
                },
                "adversarial_accuracy": self._adv_right / self._adv_asked if self._adv_asked else None,
            }
        )
        success = terminated and self.source == "locomo" and score >= self.success_threshold
        return Frame(
            text=text,
            valid_actions=valid,
            raw_score=score,
            score=score,
            terminated=terminated,
            success=success,
            info=info,
        )

    def _act(self, action: str) -> Frame:
        conv = self.conversation
        if self._next_session < len(conv.sessions):
            session = conv.sessions[self._next_session]
            self._next_session += 1
            frame = self._frame(
                session.render(), ("next",), {"phase": "session", "session": session.index}, terminated=False
            )
            frame.reward = 0.0
            return frame
        if self._next_question == 0 and not self._asked_any:
            self._asked_any = True
            frame = self._question_frame({}, prefix=f"All {len(conv.sessions)} sessions have been shown.\n")
            frame.reward = 0.0
            return frame
        return self._answer(action)

    def _answer(self, answer: str) -> Frame:
        q = self._questions[self._next_question]
        self._next_question += 1
        self.answers.append((q, answer))
        info: dict[str, Any] = {"answer": answer, "answered_category": q.category}
        reward = 0.0
        if self.source == "locomo":
            reward = locomo_score(answer, q.answer, q.category)
            if q.category == 5:
                right = reward >= 1.0 or (q.answer is not None and exact_answer(answer, q.answer))
                reward = float(right)
                self._adv_asked += 1
                self._adv_right += int(right)
            else:
                self._f1_sum += reward
                self._scored += 1
            self._by_cat.setdefault(q.category, []).append(reward)
            info["f1"] = reward
            if self.split == "train":
                info["gold"] = q.gold
        frame = self._question_frame(info)
        frame.reward = reward
        return frame

    def _gold(self) -> list[str] | None:
        if self.source != "locomo":
            return None
        feed = ["next"] * len(self.conversation.sessions)
        return feed + [q.gold or "" for q in self._questions]
