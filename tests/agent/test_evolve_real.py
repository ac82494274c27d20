"""Integration: a few real episodes of TextWorldExpress twc with the real small local model and real memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.bench import BenchConfig, run_bench
from agent.evolve import EvolutionConfig, RunLog
from agent.llm import LLMConfig
from memory import MemoryBank, MemoryConfig, MemoryKind

pytestmark = pytest.mark.slow


def test_real_model_writes_retrieves_and_credits_memories(tmp_path: Path, small_llm: object) -> None:
    config = BenchConfig(
        env_id="twx-twc", preset="easy", train=2, test=1, settings=("in",), ablations=("none", "full"),
        random_baseline=True, evolution=EvolutionConfig(trials=1, max_steps=6, reflect_every=0, forget_every=2),
    )  # fmt: skip
    results = run_bench(LLMConfig(backend="local-small"), config, tmp_path, chat=small_llm)  # type: ignore[arg-type]
    log = RunLog.open(tmp_path / "episodes.jsonl")
    train = [e for e in log.episodes if e.tag == "train"]
    assert len(train) == 2 and all(e.counters.llm_calls > 0 for e in train)
    bank = MemoryBank(MemoryConfig(path=tmp_path / "memory"))
    try:
        records = bank.memories(namespace="env:twx-twc")
        kinds = {r.kind for r in records}
        # written: every training task yields an experience; failures are corrected from the gold path (facts)
        assert MemoryKind.EXPERIENCE in kinds and MemoryKind.FACT in kinds
        # retrieved: the second training task and the `full` test episode had memories in their prompt
        assert train[1].memory_ids
        assert [e for e in log.episodes if e.tag == "in/full"][0].memory_ids
        assert not [e for e in log.episodes if e.tag == "in/none"][0].memory_ids
        # credited: the memories the second task used got a utility outcome
        credited = [bank.get(m) for m in train[1].memory_ids]
        assert all(r.utility_count >= 1 for r in credited)
        assert any(h.op == "feedback" for h in bank.history(train[1].memory_ids[0]))
    finally:
        bank.close()
    names = [s["name"] for s in results["settings"]["in"]["summaries"]]
    assert names == ["none", "full", "random"]
    assert (tmp_path / "learning_curve.png").is_file()
    # memory utility: `full` against `none` on the same task, and the credit training gave
    (paired,) = results["settings"]["in"]["paired_with_none"]
    assert paired["name"] == "full" and paired["tasks"] == 1
    assert results["memory_credit"]["kinds"]["experience"]["memories"] >= 1
    assert "with memory vs without (none)" in (tmp_path / "results.md").read_text()


def test_real_model_samples_a_trial_at_temperature(tmp_path: Path, small_llm: object) -> None:
    """Self-consistency samples through llama.cpp: the temperature and seed options reach the real model."""
    config = BenchConfig(
        env_id="twx-twc", preset="easy", train=1, test=1, settings=(), ablations=(), random_baseline=False,
        evolution=EvolutionConfig(trials=1, samples=2, max_steps=4, reflect_every=0, forget_every=0,
                                  rationalize=False),
    )  # fmt: skip
    run_bench(LLMConfig(backend="local-small"), config, tmp_path, chat=small_llm)  # type: ignore[arg-type]
    train = [e for e in RunLog.open(tmp_path / "episodes.jsonl").episodes if e.tag == "train"]
    assert [e.sample for e in train] == [0, 1]
    assert all(e.counters.llm_calls > 0 and e.counters.model_errors == 0 for e in train)
