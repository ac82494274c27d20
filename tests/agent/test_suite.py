"""The suite: members fixed in code, one configuration, a bench per member, one table over them (scripted player;
each bench is the ordinary one, tested with real parts elsewhere)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import envs
from agent.bench.config import BenchConfig
from agent.bench.runner import run_bench
from agent.bench.suite import SUITE, SuiteConfig, bench_config, members, run_suite
from agent.errors import UsageError
from agent.llm import LLMConfig
from tests.agent.test_evolve import scripted

GENERAL = ("none", "full", "full-model", "rules", "insights", "insights-ungated")


def test_members_cover_six_families_and_name_their_presets_and_plugins() -> None:
    general = [m for m in SUITE if not m.families]
    assert len(general) >= 6 and len({m.env_id for m in general}) == len(general)
    assert {envs.registry.spec(m.env_id).family for m in general} == {"textworld-express", "scienceworld",
                                                                       "reasoning-gym"}  # fmt: skip
    for member in SUITE:
        assert member.preset in envs.registry.spec(member.env_id).presets
        config = bench_config(member, SuiteConfig())
        assert config.actor.families == member.families
        assert config.ablations == (("full",) if member.families else GENERAL)
    assert {m.env_id for m in SUITE if m.families} == {"twx-twc", "twx-cookingworld"}


def test_only_selects_members_and_an_unknown_name_names_the_choices() -> None:
    assert [m.name for m in members(SuiteConfig(only=("twx-twc",)))] == ["twx-twc", "twx-twc+textworld"]
    assert [m.name for m in members(SuiteConfig(only=("twx-twc+textworld",)))] == ["twx-twc+textworld"]
    with pytest.raises(UsageError, match="--only twx-nope: not in the suite; choose from twx-twc, "):
        members(SuiteConfig(only=("twx-nope",)))


def test_suite_runs_members_and_tables_them_side_by_side(tmp_path: Path) -> None:
    ran: list[str] = []

    def run(config: BenchConfig, directory: Path) -> dict[str, Any]:
        ran.append(directory.name)
        small = config.model_copy(update={"evolution": config.evolution.model_copy(update={"max_steps": 6})})
        return run_bench(LLMConfig(backend="local-small"), small, directory, chat=scripted(400))

    suite = run_suite(SuiteConfig(train=1, test=2, only=("twx-twc",)), tmp_path, run)
    assert ran == ["twx-twc", "twx-twc+textworld"]
    rows = {r["member"]: r for r in suite["members"]}
    general, textworld = rows["twx-twc"], rows["twx-twc+textworld"]
    assert set(general["summaries"]) == {*GENERAL, "random"}
    assert set(textworld["summaries"]) == {"full"} and textworld["families"] == ["textworld"]
    assert general["seeds"] == textworld["seeds"] and len(general["seeds"]) == 2  # the same held-out tasks
    assert general["full_vs_none"]["tasks"] == 2 and general["full_vs_rules"]["tasks"] == 2
    assert 0 < general["summaries"]["full"]["memory_share"] < 1  # retrieval and valuation, timed per episode
    table = (tmp_path / "suite.md").read_text()
    assert "| twx-twc (medium) | none | 2 |" in table and "| twx-twc+textworld (medium) | textworld | 2 |" in table
    assert "## Cost per episode" in table and table.count(" calls, ") >= 4  # none, full, full-model, rules: the model
    assert "- twx-twc: general `full`" in table and "(same seeds)" in table  # against the plug-in, on the same tasks
    # the rules alone against none and against the same rules ungated, paired on the same tasks (issue 23's targets)
    assert general["insights_vs_none"]["tasks"] == 2 and general["gated_vs_ungated"]["tasks"] == 2
    assert "| twx-twc | +0% (+0/−0" in table and "gated rules beat ungated on 0 (none)" in table
    assert json.loads((tmp_path / "suite.json").read_text())["config"]["only"] == ["twx-twc"]
    assert (tmp_path / "suite.png").stat().st_size > 5000


@pytest.mark.parametrize(("args", "message"), [
    (["suite", "--only", "twx-nope"], "--only twx-nope: not in the suite"),
    (["suite", "--held-out", "someday"], "--held-out 'someday': use one of dev, report"),
    (["bench", "twx-twc", "--families", "scienceworld"], "--families 'scienceworld': use textworld or none"),
])  # fmt: skip
def test_bad_suite_and_family_options_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    from typer.testing import CliRunner

    from agent.cli.app import app

    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def first_listed(messages: list[Any]) -> str:
    """A player for any member: the first action listed, or a number where the task asks for an answer."""
    text = messages[-1].text
    listed = [line[2:].split(" (")[0] for line in text.splitlines() if line.startswith("- ")]
    return json.dumps({"thought": "t", "action": listed[0] if listed else "4"})


def test_every_member_runs_end_to_end_with_the_general_agent(tmp_path: Path) -> None:
    """Each environment of the suite, with its preset, through training, every ablation and the table (the general
    agent, and the plug-in members its ids also select; a scripted player that takes the first action listed:
    crashes, not figures)."""
    from tests.fakes import ScriptedChatModel

    general = tuple(dict.fromkeys(m.env_id for m in SUITE if not m.families))

    def run(config: BenchConfig, directory: Path) -> dict[str, Any]:
        small = config.model_copy(update={"evolution": config.evolution.model_copy(update={"max_steps": 3})})
        return run_bench(LLMConfig(backend="local-small"), small, directory,
                         chat=ScriptedChatModel().enqueue(*[first_listed] * 400))  # fmt: skip

    suite = run_suite(SuiteConfig(train=1, test=1, only=general), tmp_path, run)
    assert all(r["complete"] for r in suite["members"]) and len(suite["members"]) == len(SUITE)
    rows = [r for r in suite["members"] if not r["families"]]
    assert [r["env_id"] for r in rows] == list(general)
    assert all(set(r["summaries"]) == {*GENERAL, "random"} for r in rows)
