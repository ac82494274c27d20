"""Reflection once with the real small local model (Qwen2.5-Coder-0.5B in process): slow."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memory import JsonLLM, MemoryBank, MemoryConfig, MemoryInput, reflect

pytestmark = pytest.mark.slow


def chat_model_as_json_llm(model: Any) -> JsonLLM:
    """Adapt a LangChain chat model into memory's JsonLLM with agent's complete_json (as the agent does)."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from agent.llm.structured import complete_json

    def call(messages: list[dict[str, str]], schema: dict[str, Any]) -> dict[str, Any]:
        lc = [SystemMessage(m["content"]) if m["role"] == "system" else HumanMessage(m["content"]) for m in messages]
        return complete_json(model, lc, schema, retries=1, name="memory").data

    return call


@pytest.fixture(scope="module")
def json_llm() -> Iterator[JsonLLM]:
    from agent.llm import LLMConfig, make_chat_model

    yield chat_model_as_json_llm(make_chat_model(LLMConfig(backend="local-small", max_tokens=320, n_ctx=4096)))


def test_reflect_with_the_real_small_model(tmp_path: Path, embed, json_llm: JsonLLM) -> None:
    bank = MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=embed)
    experiences = [
        ("Task: put the apple in the fridge. Actions: open fridge, put apple in fridge. Outcome: success", 1.0),
        ("Task: put the apple in the fridge. Actions: put apple in fridge (door closed). Outcome: failed", 0.0),
        ("Task: put the milk in the fridge. Actions: open fridge, put milk in fridge. Outcome: success", 1.0),
    ]
    ids = bank.insert_many(
        [MemoryInput(text=t, namespace="env:twc", episode_id=f"ep-{i}", meta={"outcome": o})
         for i, (t, o) in enumerate(experiences)]
    )  # fmt: skip
    start = time.perf_counter()
    report = reflect(bank, json_llm, namespace="env:twc", steps=["lessons"], max_items=3)
    elapsed = time.perf_counter() - start
    written = report.reflections + report.facts + report.insights_added
    print(f"\nreal-model reflect: {elapsed:.1f} s, {report}")
    for mid in written:
        record = bank.get(mid)
        print(f"  {record.kind.value}: {record.text}  <- {record.derived_from}")
        assert record.derived_from and set(record.derived_from) <= set(ids)  # every memory cites its evidence
    if report.failures:  # the model may fail; then nothing is lost and the raw text is kept
        assert bank.stats()["unreflected_experiences"] == 3 and bank.ledger.failures()
    else:
        assert report.experiences_reflected == 3
    bank.close()


def test_first_rules_from_solved_games_with_the_real_small_model(tmp_path: Path, embed, json_llm: JsonLLM) -> None:
    """Only solved games and no rules yet: the case where the 1.5B model used to answer "nothing changes"."""
    bank = MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=embed)
    experiences = [
        "Start: You are in the kitchen. You see a fridge that is closed and a counter. You also see a milk.\n"
        "Solution: take milk -> open fridge -> put milk in fridge (solved)",
        "Start: You are in the kitchen. You see a fridge that is closed and a counter. You also see a butter.\n"
        "Solution: take butter -> open fridge -> put butter in fridge (solved)",
        "Start: You are in the bathroom. You see a sink and a towel rail. You also see a wet towel.\n"
        "Solution: take wet towel -> put wet towel in towel rail (solved)",
    ]
    ids = bank.insert_many([MemoryInput(text=t, namespace="env:twc", episode_id=f"ep-{i}", meta={"outcome": 1.0})
                            for i, t in enumerate(experiences)])  # fmt: skip
    report = reflect(bank, json_llm, namespace="env:twc", steps=["insights"], max_items=3)
    print(f"\nreal-model first rules: {report}")
    assert report.failures == 0 and report.insights_added, report.rejected
    for mid in report.insights_added:
        rule = bank.get(mid)
        print(f"  rule: {rule.text}  <- {rule.derived_from}")
        assert set(rule.derived_from) <= set(ids) and rule.votes >= 1
    bank.close()
