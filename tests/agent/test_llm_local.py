"""The real small local model: it answers, and structured output always validates."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from agent.llm import complete_json
from agent.llm.llamacpp import LlamaCppChatModel

pytestmark = pytest.mark.slow


def test_local_small_answers_a_simple_question(small_llm: LlamaCppChatModel) -> None:
    reply = small_llm.invoke([HumanMessage("What is the capital of France? Answer with one word.")])
    assert "paris" in reply.text.lower()
    assert reply.usage_metadata and reply.usage_metadata["output_tokens"] > 0


def test_local_small_returns_schema_valid_json_with_enum(small_llm: LlamaCppChatModel) -> None:
    actions = ["open fridge", "take apple", "go north"]
    schema = {
        "type": "object",
        "properties": {"thought": {"type": "string"}, "action": {"enum": actions}},
        "required": ["thought", "action"],
        "additionalProperties": False,
    }
    messages = [HumanMessage(f"You are hungry and an apple lies in front of you. Choose one of {actions}.")]
    reply = complete_json(small_llm, messages, schema)
    assert reply.data["action"] in actions
    assert reply.attempts == 1  # the grammar makes the first reply valid


def test_local_small_streams_tokens(small_llm: LlamaCppChatModel) -> None:
    chunks = [c.text for c in small_llm.stream([HumanMessage("Count from 1 to 5, separated by spaces.")])]
    assert len(chunks) > 2
    assert "3" in "".join(chunks)


def test_local_model_counts_its_own_tokens(small_llm: LlamaCppChatModel) -> None:
    assert small_llm.count_tokens("hello world") in (2, 3)
