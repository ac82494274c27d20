"""``answers.jsonl`` after a crash: the resume set and the summary read what was written whole."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agent.evals.memorybank import answered, summarise


def _row(user: str, question: str, answer: str = "You like hiking.") -> str:
    row = {"user": user, "question": question, "answer": answer, "error": None, "asked_on": "2023-05-07",
           "memories": [{"id": "m1", "kind": "experience"}], "first_token_s": 0.5, "seconds": 1.25}  # fmt: skip
    return json.dumps(row)


def test_a_torn_last_line_is_skipped_by_resume_and_summary(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_text(_row("Emily", "What do I like?") + "\n" + _row("Emily", "Where?")[:40], encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert answered(path) == {("Emily", "What do I like?")}
        summary = summarise(path, [], seconds=2.0)
    assert summary["questions"] == 1 and summary["answers_written"] == 1 and summary["users"] == 1
    assert "line 2 is unreadable" in caplog.text  # the torn question is asked again on resume


def test_a_line_without_the_answer_fields_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_text(_row("Emily", "What do I like?") + '\n{"user": "Emily"}\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert summarise(path, [], seconds=1.0)["questions"] == 1
    assert "line 2 lacks some of user, question" in caplog.text


def test_no_answers_file_means_nothing_answered(tmp_path: Path) -> None:
    assert answered(tmp_path / "answers.jsonl") == set()
