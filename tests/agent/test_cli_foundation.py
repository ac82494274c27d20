"""The `evolve` command: help, doctor (real parts) and clear failures."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.doctor import check_java

runner = CliRunner()


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("doctor", "serve-model", "demo"):
        assert command in result.output


def test_doctor_json_reports_every_part_ok_without_llm() -> None:
    result = runner.invoke(app, ["doctor", "--skip-llm", "--json"])
    report = json.loads(result.stdout)
    names = [c["name"] for c in report["checks"]]
    assert {"java", "chroma", "embeddings (all-MiniLM-L6-v2)", "tiktoken (cl100k_base, o200k_base)"} <= set(names)
    assert report["ok"], [c for c in report["checks"] if not c["ok"]]
    assert result.exit_code == 0


@pytest.mark.slow
def test_doctor_with_the_local_small_model() -> None:
    result = runner.invoke(app, ["doctor", "--llm", "local-small", "--json"])
    report = json.loads(result.stdout)
    llm = [c for c in report["checks"] if c["name"].startswith("llm")][0]
    assert llm["ok"], llm
    assert "'4'" in llm["detail"] or "4" in llm["detail"]


def test_missing_java_gives_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on this PATH
    check = check_java()
    assert not check.ok
    assert check.fix == "apt-get install -y openjdk-17-jre-headless"


def test_bad_base_url_is_a_usage_error() -> None:
    result = runner.invoke(app, ["doctor", "--llm", "openai", "--base-url", "localhost:8080"])
    assert result.exit_code == 2
    assert "not an http(s) URL" in result.output


def test_unreachable_chroma_server_names_the_fix() -> None:
    from agent.llm.server import free_port

    port = free_port()
    result = runner.invoke(app, ["doctor", "--skip-llm", "--json", "--chroma-url", f"http://127.0.0.1:{port}"])
    report = json.loads(result.stdout)
    server = [c for c in report["checks"] if "server" in c["name"]][0]
    assert not server["ok"]
    assert server["fix"] == f"start it: chroma run --path DIR --host 127.0.0.1 --port {port}"
    assert result.exit_code == 1


def test_help_lists_the_agent_commands() -> None:
    result = runner.invoke(app, ["--help"])
    for command in ("run", "bench", "envs"):
        assert command in result.output


def test_bench_unknown_ablation_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "twx-twc", "--ablations", "none,magic", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown ablation(s) ['magic']" in result.output
    assert "choose from none, reflexion, trajectories, insights" in result.output


def test_bench_unknown_env_suggests_the_close_id(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "twx-twcc", "--out", str(tmp_path), "--llm", "local-small"])
    assert result.exit_code == 2
    assert "twx-twc" in result.output and "Unknown environment id" in result.output


def test_sigterm_stops_a_run_like_ctrl_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a bench left running under nohup is stopped with `kill`: the bank closes as on Ctrl-C, and the user is told
    # how to resume
    closed: list[bool] = []

    def run_bench(*args: object, **kwargs: object) -> dict[str, object]:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
            raise AssertionError("SIGTERM did not interrupt the run")
        finally:
            closed.append(True)

    monkeypatch.setattr("agent.bench.runner.run_bench", run_bench)
    before = signal.getsignal(signal.SIGTERM)
    result = runner.invoke(app, ["run", "twx-twc", "--train", "1", "--out", str(tmp_path), "--llm", "local-small"])
    assert result.exit_code == 130 and closed == [True]
    assert "run the same command again to resume" in result.output and str(tmp_path) in result.output
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is the caller's again
