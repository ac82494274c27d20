"""The same bench code through ``--llm openai``: a scripted OpenAI-compatible server on loopback stands in for a
stronger model; training, reflection, the gate's trials (temperature 0, a seed) and evaluation all go through it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent.bench.config import BenchConfig
from agent.bench.runner import run_bench
from agent.core.state import ActorConfig
from agent.learning.config import EvolutionConfig
from agent.llm import LLMConfig
from tests.agent.test_gate import misleading_policy


class ScriptedServer:
    """An OpenAI-compatible ``/v1/chat/completions`` answering with ``policy(messages)``; keeps every request."""

    def __init__(self, policy: Callable[[list[BaseMessage]], str]) -> None:
        self.policy = policy
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                messages = [SystemMessage(m["content"]) if m["role"] == "system" else HumanMessage(m["content"])
                            for m in body["messages"]]  # fmt: skip
                reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": outer.policy(messages)}}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}  # fmt: skip
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    proposed: list[str] = []
    with ScriptedServer(misleading_policy(proposed)) as running:
        running.proposed = proposed  # type: ignore[attr-defined]
        yield running


def test_a_bench_with_the_gate_runs_unchanged_through_an_openai_compatible_server(
    tmp_path: Path, server: ScriptedServer
) -> None:
    evolution = EvolutionConfig(trials=1, max_steps=8, reflect_every=2, forget_every=0, rationalize=False,
                                check_rules=False)  # fmt: skip
    config = BenchConfig(env_id="twx-twc", preset="easy", train=2, test=1, settings=("in",),
                         ablations=("none", "insights", "insights-ungated"), random_baseline=False,
                         evolution=evolution, actor=ActorConfig(follow_memory=False, place_by_analogy=False,
                                                                place_by_likeness=False))  # fmt: skip
    llm = LLMConfig(backend="openai", base_url=server.url, model="a-stronger-model", max_retries=0)
    results = run_bench(llm, config, tmp_path)
    gate = results["reflect"]["gate"]
    assert (gate["admitted"], gate["refused"]) == (1, 1) and results["llm"]["backend"] == "openai"
    # the trials asked at temperature 0 with a seed, through the server
    trial_calls = [r for r in server.requests if r.get("temperature") == 0.0 and "seed" in r]
    assert len(trial_calls) == gate["model_calls"] > 0
    assert {r["model"] for r in server.requests} == {"a-stronger-model"}
    assert [s["name"] for s in results["settings"]["in"]["summaries"]] == ["none", "insights", "insights-ungated"]
