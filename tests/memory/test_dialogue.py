"""Dialogue ingestion and LoCoMo-style retrieval evaluation on a small made-up conversation."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory import DialogueQuestion, DialogueTurn, MemoryBank, MemoryConfig, evaluate_retrieval, ingest_dialogue
from memory.dialogue import baseline_rankings, score_rankings, turn_text

T1, T2 = 1_683_000_000.0, 1_685_000_000.0
TURNS = [
    DialogueTurn("D1:1", "Ana", "Hi Ben! How was your week?", "1", T1, "8 May, 2023"),
    DialogueTurn("D1:2", "Ben", "Great! I adopted a puppy called Biscuit.", "1", T1, "8 May, 2023",
                 "a photo of a small brown dog"),
    DialogueTurn("D1:3", "Ana", "So cute! What breed is it?", "1", T1, "8 May, 2023"),
    DialogueTurn("D1:4", "Ben", "A beagle. He loves long walks in the park.", "1", T1, "8 May, 2023"),
    DialogueTurn("D2:1", "Ana", "I started pottery classes last weekend.", "2", T2, "25 May, 2023"),
    DialogueTurn("D2:2", "Ben", "Nice! What did you make?", "2", T2, "25 May, 2023"),
    DialogueTurn("D2:3", "Ana", "A blue bowl for my mother.", "2", T2, "25 May, 2023"),
    DialogueTurn("D2:4", "Ben", "I am training for a marathon in October.", "2", T2, "25 May, 2023"),
]  # fmt: skip
QUESTIONS = [
    DialogueQuestion("What is the name of Ben's dog?", ("D1:2",), 4),
    DialogueQuestion("What breed is Ben's dog?", ("D1:4",), 4),
    DialogueQuestion("What did Ana make in pottery class?", ("D2:3",), 4),
    DialogueQuestion("When is Ben's marathon?", ("D2:4",), 2),
    DialogueQuestion("What pets and hobbies do Ana and Ben have?", ("D1:2", "D2:1"), 1),
    DialogueQuestion("What is Ana's favourite movie?", (), 5),
]


def test_ingest_is_idempotent_and_keeps_one_turn_per_memory(tmp_path: Path, embed) -> None:
    bank = MemoryBank(MemoryConfig(path=tmp_path / "b"), embed=embed)
    ids = ingest_dialogue(bank, TURNS, "user:ana")
    assert ingest_dialogue(bank, TURNS, "user:ana") == ids
    records = bank.get_many(ids)
    assert [r.source_ids for r in records] == [(t.turn_id,) for t in TURNS]
    second = records[1]
    assert second.text == "Ben: Great! I adopted a puppy called Biscuit. [shares a photo of a small brown dog]"
    assert second.context == "Ana: Hi Ben! How was your week? 8 May, 2023"
    assert (second.thread, second.seq, second.created_at) == ("session-1", 1, T1)
    assert records[4].seq == 0 and records[4].context == "25 May, 2023"
    bank.close()


def test_evaluate_retrieval_and_baselines(tmp_path: Path, embed) -> None:
    bank = MemoryBank(MemoryConfig(path=tmp_path / "b"), embed=embed)
    ingest_dialogue(bank, TURNS, "user:ana", embeddings=embed([turn_text(t) for t in TURNS]))
    report = evaluate_retrieval(bank, QUESTIONS, "user:ana", ks=(1, 3), now=T2 + 86_400)
    assert report.questions == {1: 1, 2: 1, 4: 3}  # questions without evidence are skipped
    assert report.recall[3] >= 0.8 and report.by_category[4][3] == pytest.approx(1.0)
    assert bank.get_many([r.id for r in bank.memories()])[0].recall_count == 0  # evaluation does not record
    qv = embed([q.question for q in QUESTIONS])
    tv = embed([turn_text(t) for t in TURNS])
    for method in ("dense", "bm25", "dense+bm25", "bm25-context", "bm25-context-stem"):
        rankings = baseline_rankings(method, TURNS, QUESTIONS, turn_vectors=tv, question_vectors=qv)
        assert all(sorted(r) == sorted(t.turn_id for t in TURNS) for r in rankings)
        assert 0.0 <= score_rankings(method, rankings, QUESTIONS, (3,)).recall[3] <= 1.0
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_rankings("magic", TURNS, QUESTIONS)
    bank.close()
