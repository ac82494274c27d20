"""The TextWorld plug-in is optional in fact: a bench run without it (training, memory writes, recall, held-out
play with every decider) never executes a line of ``agent/families/textworld``, and with it on, it does. (That the
general agent imports no plug-in is :data:`tests.test_layering.AGENT_LAYERS`.)"""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from agent.bench.config import BenchConfig
from agent.bench.runner import run_bench
from agent.cli.options import parse_families
from agent.core.state import ActorConfig
from agent.errors import UsageError
from agent.learning.config import EvolutionConfig
from agent.llm import LLMConfig
from tests.agent.test_evolve import scripted

FAMILIES = str(Path(__file__).resolve().parents[2] / "agent" / "families" / "textworld")


def _family_calls(config: BenchConfig, out: Path) -> set[str]:
    """Run the bench with the scripted player and return the functions of ``agent/families`` that ran."""
    called: set[str] = set()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(FAMILIES):
            called.add(f"{Path(frame.f_code.co_filename).stem}.{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        run_bench(LLMConfig(backend="local-small"), config, out, chat=scripted(600))
    finally:
        sys.setprofile(None)
    return called


@pytest.mark.parametrize("env_id", ["twx-twc", "twx-cookingworld"])
def test_without_the_plugin_no_textworld_code_runs(tmp_path: Path, env_id: str) -> None:
    def config(families: tuple[str, ...]) -> BenchConfig:
        return BenchConfig(env_id=env_id, preset="easy", train=2, test=1, settings=("in",),
                           ablations=("none", "full", "full-model", "rules"),
                           evolution=EvolutionConfig(trials=1, max_steps=8, reflect_every=0, forget_every=2),
                           actor=ActorConfig(families=families))  # type: ignore[arg-type]  # fmt: skip

    assert _family_calls(config(()), tmp_path / "general") == set()
    assert _family_calls(config(("textworld",)), tmp_path / "textworld")  # the probe sees the plug-in when on


def test_families_option_names_the_choices() -> None:
    assert parse_families("none") == () and parse_families("textworld") == ("textworld",)
    with pytest.raises(UsageError, match="--families 'scienceworld': use textworld or none"):
        parse_families("scienceworld")

