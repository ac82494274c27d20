"""Structured output logic with the scripted double: parsing, validation, retries, failure."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from agent.errors import ModelOutputError
from agent.llm.structured import complete_json, extract_json
from tests.fakes import ScriptedChatModel, ScriptExhausted

SCHEMA = {
    "type": "object",
    "properties": {"action": {"enum": ["go north", "take key"]}, "thought": {"type": "string"}},
    "required": ["action"],
}


def test_valid_first_reply() -> None:
    fake = ScriptedChatModel().enqueue('{"thought": "key first", "action": "take key"}')
    reply = complete_json(fake, [HumanMessage("act")], SCHEMA)
    assert reply.data == {"thought": "key first", "action": "take key"}
    assert reply.attempts == 1
    assert fake.kwargs_seen == [{}]  # a non-OpenAI, non-llama.cpp model is asked through the prompt


def test_bad_reply_is_sent_back_with_the_error() -> None:
    fake = ScriptedChatModel().enqueue(
        "I think I should go north.", '{"action": "fly"}', '{"action": "go north"}'
    )
    reply = complete_json(fake, [HumanMessage("act")], SCHEMA, retries=2)
    assert reply.data["action"] == "go north"
    assert reply.attempts == 3
    assert len(reply.errors) == 2
    assert "not valid" in fake.prompts[1] and "'fly' is not one of" in fake.prompts[2]


def test_never_valid_raises_with_the_raw_text() -> None:
    fake = ScriptedChatModel().enqueue("nope", "still nope")
    with pytest.raises(ModelOutputError) as info:
        complete_json(fake, [HumanMessage("act")], SCHEMA, retries=1)
    assert info.value.raw == "still nope"


def test_script_exhaustion_fails_loudly() -> None:
    fake = ScriptedChatModel()
    with pytest.raises(ScriptExhausted, match="no scripted reply"):
        fake.invoke([HumanMessage("hello")])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 2}\n```', {"a": 2}),
        ('Sure! Here it is: {"a": 3} hope it helps', {"a": 3}),
    ],
)
def test_extract_json(text: str, expected: dict[str, int]) -> None:
    assert extract_json(text) == expected


def test_extract_json_without_object() -> None:
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json("no braces here")


def test_a_raw_newline_inside_a_string_is_read_as_written() -> None:
    # the 1.5B model's reflection replies: "Invalid control character" lost the whole reply before
    assert extract_json('{"text": "first line\nsecond line"}') == {"text": "first line\nsecond line"}
    assert extract_json('Sure: {"text": "a\tb"} done') == {"text": "a\tb"}
