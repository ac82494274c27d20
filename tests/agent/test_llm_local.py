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


def test_greedy_grammar_fast_path_gives_the_stock_chains_tokens(small_llm: LlamaCppChatModel) -> None:
    """The arg-max-first grammar check must change the time only, never a token (real model, greedy)."""
    from llama_cpp import Llama

    from agent.llm.greedy_grammar import GreedyGrammarLlama, GreedyGrammarSampler

    actions = ["take white onion", "open fridge", "put white onion in fridge", "look around", "inventory"]
    schema = {"type": "object", "required": ["thought", "action"],
              "properties": {"thought": {"type": "string", "maxLength": 120}, "action": {"enum": actions}}}  # fmt: skip
    rules = {"type": "object", "required": ["operations"], "properties": {"operations": {
        "type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "object", "required": ["op", "text"],
        "properties": {"op": {"enum": ["ADD"]}, "text": {"type": "string"}}}}}}  # fmt: skip
    calls = [
        ([{"role": "user", "content": f"You hold a white onion; the fridge is closed. Choose one of {actions}."}],
         schema),
        ([{"role": "user", "content": "Write up to two kitchen rules as JSON operations."}], rules),
    ]  # fmt: skip
    fast = small_llm.llama
    assert isinstance(fast, GreedyGrammarLlama)
    full_passes = 0
    stock = Llama(model_path=str(small_llm.model_path), n_ctx=2048, n_threads=2, verbose=False, seed=0)
    try:
        for messages, s in calls:
            replies = []
            for llama in (stock, fast):
                llama.reset()
                out = llama.create_chat_completion(messages=messages, temperature=0.0, max_tokens=120,
                                                   response_format={"type": "json_object", "schema": s})  # fmt: skip
                replies.append(out["choices"][0]["message"]["content"])
            assert replies[0] == replies[1]
            assert isinstance(fast._sampler, GreedyGrammarSampler) and fast._sampler.fast_picks > 0
            full_passes += fast._sampler.full_passes
        assert full_passes > 0  # the grammar overruled the arg-max somewhere: both paths were compared
    finally:
        stock.close()
