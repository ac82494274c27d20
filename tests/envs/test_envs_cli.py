"""``evolve envs`` sub-app (agent/cli/envs_cmd.py), driven through the real command with typed input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import envs
from agent.cli.envs_cmd import envs_app

runner = CliRunner()


def test_list_table_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # a narrow terminal, or a pipe
    res = runner.invoke(envs_app, ["list"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    for spec in envs.list():  # every id whole on a line of its own, its description on the lines below
        assert any(line.strip().split("  (")[0] == spec.env_id for line in lines), spec.env_id
    long = [line for line in lines if len(line) > 80 and not line.startswith("  sciworld-")]
    assert long == []
    res = runner.invoke(envs_app, ["list", "--json"])
    assert res.exit_code == 0
    rows = json.loads(res.output)
    assert [r["id"] for r in rows] == [s.env_id for s in envs.list()]
    assert {"id", "family", "description", "presets", "params", "requires"} <= set(rows[0])


@pytest.mark.usefixtures("require_twx")
def test_play_twc_easy_through_its_gold_path() -> None:
    env = envs.make("twx-twc", split="train", preset="easy")
    try:
        env.reset(seed=0)
        gold = env.gold_actions() or []
    finally:
        env.close()
    res = runner.invoke(
        envs_app, ["play", "twx-twc", "--seed", "0", "--preset", "easy"], input="\n".join(gold) + "\n"
    )
    assert res.exit_code == 0, res.output
    out = res.output
    assert out.startswith("twx-twc | split train | seed 0 | twc/easy\nTask: Your task is to pick up objects")
    assert "Actions:\n   1. inventory\n   2. look around" in out
    for action in gold:
        assert f"[{action}] reward" in out
    assert out.rstrip().endswith("Episode over: success. Score 1.00, steps 4, invalid actions 0.")


@pytest.mark.usefixtures("require_twx")
def test_play_numbers_invalid_text_and_quit() -> None:
    res = runner.invoke(envs_app, ["play", "twx-twc", "--split", "test"], input="2\ndance\n/quit\n")
    assert res.exit_code == 0, res.output
    assert "twx-twc | split test | seed 20000 | twc/easy" in res.output
    assert "[look around] reward +0" in res.output  # "2" picked the second numbered action
    assert "[dance] (invalid) reward +0\nInvalid action 'dance'. Valid actions include:" in res.output
    assert res.output.rstrip().endswith(
        "Quit.\nEpisode over: stopped. Score 0.00, steps 2, invalid actions 1."
    )


def test_play_unknown_id_and_bad_preset_exit_with_the_message() -> None:
    res = runner.invoke(envs_app, ["play", "twx-twcc"])
    assert res.exit_code == 2
    assert "Unknown environment id 'twx-twcc'. Did you mean 'twx-twc'" in res.output
    res = runner.invoke(envs_app, ["play", "rg-basic_arithmetic", "--preset", "hard"])
    assert res.exit_code == 2 and "Allowed values: 'easy', 'medium'" in res.output


@pytest.mark.usefixtures("require_rg")
def test_play_free_text_answer() -> None:
    env = envs.make("rg-chain_sum", split="train")
    env.reset(seed=3)
    answer = (env.gold_actions() or [""])[0]
    res = runner.invoke(envs_app, ["play", "rg-chain_sum", "--seed", "3"], input=f"{answer}\n")
    assert res.exit_code == 0, res.output
    assert "(type your answer)" in res.output and "Correct." in res.output
    assert res.output.rstrip().endswith("Episode over: success. Score 1.00, steps 1, invalid actions 0.")
