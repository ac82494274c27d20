"""The openai backend against the project's own OpenAI-compatible server on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.messages import HumanMessage

from agent.doctor import check_llm
from agent.llm import LLMConfig, complete_json, make_chat_model
from agent.llm.server import ModelServer, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    with ModelServer(LLMConfig(backend="local-small", n_ctx=2048)) as running:
        yield running
    assert running.process is not None and running.process.poll() is not None, "server still running"


def test_openai_backend_answers(server: ModelServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    chat = make_chat_model(LLMConfig(backend="openai", base_url=server.base_url, model="local-small"))
    reply = chat.invoke([HumanMessage("What is the capital of France? Answer with one word.")])
    assert "paris" in reply.text.lower()


def test_openai_backend_structured_output(server: ModelServer) -> None:
    chat = make_chat_model(LLMConfig(backend="openai", base_url=server.base_url, model="local-small"))
    schema = {
        "type": "object",
        "properties": {"city": {"enum": ["Paris", "Rome", "Berlin"]}},
        "required": ["city"],
    }
    reply = complete_json(chat, [HumanMessage("Which city is the capital of Italy?")], schema)
    assert reply.data["city"] in {"Paris", "Rome", "Berlin"}


def test_unreachable_endpoint_is_a_clear_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    check = check_llm(LLMConfig(backend="openai", base_url=url, model="x", timeout=5, max_retries=0))
    assert not check.ok
    assert "Connection" in check.detail
    assert url in check.fix
