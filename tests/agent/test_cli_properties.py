"""Property test of ``evolve memory`` arguments (issue 24): any command with any values for its options ends with
exit 0, 1 (check found damage) or 2 with one ``error:`` line, never a traceback, and a refused command leaves the
bank exactly as it was.

Options are read from the commands themselves, so a new option is fuzzed without editing this file. ``reflect``
(which loads a model), ``--chroma-url`` and the directory options (which would point elsewhere) are left out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from agent.cli.memory_cmd import memory_app
from memory import MemoryBank, MemoryConfig, MemoryKind
from tests.probes import fingerprint, one_line

EXPLORE = int(os.environ.get("EVOLVE_PROPERTY_EXAMPLES", "0"))
COMMANDS = {name: cmd for name, cmd in typer.main.get_command(memory_app).commands.items()  # type: ignore[attr-defined]
            if name != "reflect"}  # fmt: skip
FIXED = {"--memory-dir", "--chroma-url", "--data-dir", "--base-url"}
WORDS = st.sampled_from([
    "", " ", "0", "-1", "1", "3", "9223372036854775808", "1e308", "nan", "abc", "env:", "env:twc", "user:", "agent",
    "insight", "fact", "archived", "all", "mem-" + "0" * 20, "../outside.jsonl", "dump.jsonl", "\x1b[2J",
    "[red]x[/red]", ":x:", "a" * 5000, "--json",
]) | st.text(max_size=8)  # fmt: skip


@st.composite
def invocation(draw: st.DrawFn) -> list[str]:
    """A command, some of its options with drawn values (flags alone), and drawn positional arguments."""
    name = draw(st.sampled_from(sorted(COMMANDS)))
    args = [name]
    for param in COMMANDS[name].params:
        if param.param_type_name == "argument":
            if draw(st.integers(0, 9)):  # mostly given: a missing one is a usage error too
                args.append(draw(WORDS))
        elif param.opts[0] not in FIXED and draw(st.booleans()):
            args.append(param.opts[0])
            if not getattr(param, "is_flag", False):
                args.append(draw(WORDS))
    return args


@pytest.fixture
def bank_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "mem"
    with MemoryBank(MemoryConfig(path=path)) as bank:
        bank.insert("the blender belongs on the counter", namespace="env:twc")
        bank.insert("open doors before moving through them", kind=MemoryKind.INSIGHT, namespace="agent")
    return path


@settings(max_examples=EXPLORE or 60, deadline=None, derandomize=not EXPLORE,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(args=invocation())
def test_any_memory_command_line_succeeds_or_fails_in_one_line(bank_dir: Path, args: list[str]) -> None:
    with MemoryBank(MemoryConfig(path=bank_dir)) as bank:
        before: Any = fingerprint(bank)
    result = CliRunner().invoke(memory_app, [*args, "--memory-dir", str(bank_dir)])
    assert result.exit_code in (0, 1, 2), (args, result.output[-2000:])
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and one_line(errors[0]), (args, result.stderr[-2000:])
        with MemoryBank(MemoryConfig(path=bank_dir)) as bank:
            assert fingerprint(bank) == before, f"{args} was refused but changed the bank"
