"""Parallel benches: worker processes sharing one memory (real Chroma server, real TextWorldExpress).

A chat model object cannot cross a ``spawn``, so the workers build theirs from ``MODEL_FACTORY``, a
function of this module returning the scripted twc player of ``test_evolve``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.bench.chroma_server import ChromaServer
from agent.bench.config import BenchConfig
from agent.bench.runner import run_bench
from agent.cli.app import app
from agent.core.runlog import RunLog
from agent.core.trajectory import Episode
from agent.errors import UsageError
from agent.learning.config import EvolutionConfig
from agent.llm import LLMConfig
from memory import MemoryBank, MemoryConfig, MemoryKind
from tests.agent.test_evolve import gold_player
from tests.fakes import ScriptedChatModel

MODEL_FACTORY = "tests.agent.test_workers:scripted_model"
SHARED_MODEL = LLMConfig(backend="openai", base_url="http://127.0.0.1:9/v1", model="local")  # never called


def scripted_model(llm: LLMConfig) -> ScriptedChatModel:
    """The model of each worker: the deterministic twc player, with replies to spare for the tiny bench."""
    return ScriptedChatModel().enqueue(*[gold_player] * 300)


@pytest.fixture
def chroma_url(tmp_path: Path) -> Iterator[str]:
    """A real, empty ``chroma run`` server on a free loopback port."""
    with ChromaServer(tmp_path / "fixture-chroma") as server:
        yield server.url


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2):
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_workers_share_one_memory_and_resume(tmp_path: Path, chroma_url: str) -> None:
    config = BenchConfig(env_id="twx-twc", preset="easy", train=4, test=2, settings=("in",),
                         ablations=("none", "full"), evolution=EvolutionConfig(trials=1, max_steps=6,
                         reflect_every=0, forget_every=2))  # fmt: skip
    out = tmp_path / "bench"
    # 1. no --chroma-url: run_bench starts a Chroma server for the run (data under OUT/chroma-server)
    results = run_bench(SHARED_MODEL, config, out, workers=2, model_factory=MODEL_FACTORY)
    started_url = results["memory"]["store"].removeprefix("Chroma server ")
    assert started_url.startswith("http://127.0.0.1:") and not _answers(started_url)  # stopped afterwards
    assert (out / "chroma-server" / "chroma.sqlite3").is_file()
    assert json.loads((out / "results.json").read_text())["workers"] == 2
    summaries = {s["name"]: s for s in results["settings"]["in"]["summaries"]}
    assert summaries["none"]["episodes"] == summaries["full"]["episodes"] == 2

    # each worker wrote its own log; every seed ran exactly once per tag across them
    files = RunLog.files(out / "episodes.jsonl")
    assert [f.name for f in files] == ["episodes-w0.jsonl", "episodes-w1.jsonl"]
    episodes = RunLog.open(out / "episodes.jsonl").episodes
    expected = {"train": results["train_seeds"], "in/none": results["settings"]["in"]["seeds"],
                "in/full": results["settings"]["in"]["seeds"]}  # fmt: skip
    for tag, seeds in expected.items():
        counts = Counter(e.seed for e in episodes if e.tag == tag)
        assert counts == Counter(seeds), tag
    worker_of = {}
    for index, file in enumerate(files):
        for episode in RunLog.open(file).episodes:
            worker_of[episode.episode_id] = worker_of[f"gold-twx-twc-{episode.seed}"] = index
    assert {worker_of[e.episode_id] for e in episodes if e.tag == "in/full"} == {0, 1}
    assert any(e.memory_ids for e in episodes if e.tag == "in/full")
    assert all(not e.memory_ids for e in episodes if e.tag == "in/none")
    lines = [f.read_text() for f in files]

    # 2. resume against another (empty) server: the ledger's memories are pushed to it, no episode reruns
    again = run_bench(SHARED_MODEL, config, out, workers=2, chroma_url=chroma_url, model_factory=MODEL_FACTORY)
    assert [f.read_text() for f in RunLog.files(out / "episodes.jsonl")] == lines
    assert again["settings"]["in"]["summaries"][:2] == results["settings"]["in"]["summaries"][:2]

    # memories written by both workers are in the one ledger and in the Chroma server
    bank = MemoryBank(MemoryConfig(path=out / "memory", server_url=chroma_url))
    try:
        memories = bank.memories(namespace="env:twx-twc")
        assert {worker_of[m.episode_id] for m in memories if m.episode_id in worker_of} == {0, 1}
        for kind in (MemoryKind.EXPERIENCE, MemoryKind.FACT):
            active = [m for m in memories if m.kind is kind]
            assert active and bank.store.count(bank.collection(kind, "env:twx-twc")) == len(active)
    finally:
        bank.close()


def test_run_log_reads_every_worker_file_in_logging_order(tmp_path: Path) -> None:
    def line(seed: int, logged_at: float | None) -> str:
        episode = Episode(env_id="twx-twc", split="train", seed=seed, task_type="", task="", first_observation="",
                          tag="train")  # fmt: skip
        stamp = {} if logged_at is None else {"logged_at": logged_at}
        return json.dumps({**episode.to_dict(), **stamp}) + "\n"

    (tmp_path / "episodes.jsonl").write_text(line(0, None))  # written before lines carried their time
    (tmp_path / "episodes-w0.jsonl").write_text(line(1, 10.0) + line(3, 30.0) + '{"torn')
    (tmp_path / "episodes-w1.jsonl").write_text(line(2, 20.0))
    (tmp_path / "episodes-w10.jsonl").write_text(line(4, 40.0))
    (tmp_path / "episodes-old.jsonl").write_text(line(99, 1.0))  # not a worker file
    log = RunLog.open(tmp_path / "episodes.jsonl")
    assert [f.name for f in RunLog.files(log.path)] == ["episodes.jsonl", "episodes-w0.jsonl", "episodes-w1.jsonl",
                                                        "episodes-w10.jsonl"]  # fmt: skip
    assert [e.seed for e in log.episodes] == [0, 1, 2, 3, 4]  # old lines without a time first, then by time
    worker = RunLog(tmp_path / "episodes-w1.jsonl")
    worker.append(Episode(env_id="twx-twc", split="train", seed=5, task_type="", task="", first_observation=""),
                  tag="train")  # fmt: skip
    assert [e.seed for e in RunLog.open(tmp_path / "episodes.jsonl").episodes][-1] == 5


runner = CliRunner()


def test_workers_with_an_in_process_model_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    result = runner.invoke(app, ["bench", "twx-twc", "--workers", "2", "--llm", "local-small", "--out", str(out)])
    assert result.exit_code == 2
    assert "--workers 2 with --llm local-small: each worker would load its own copy of the model" in result.output
    assert "evolve serve-model --llm local-small" in result.output
    assert "--llm openai --base-url http://127.0.0.1:8080/v1" in result.output
    assert not out.exists()  # refused before anything was written or started
    config = BenchConfig(env_id="twx-twc", train=1, test=1)
    with pytest.raises(UsageError, match="cannot be sent to worker processes"):
        run_bench(SHARED_MODEL, config, out, chat=ScriptedChatModel(), workers=2)
    with pytest.raises(UsageError, match="is not an http"):
        run_bench(SHARED_MODEL, config, out, workers=2, chroma_url="localhost:8000", model_factory=MODEL_FACTORY)
