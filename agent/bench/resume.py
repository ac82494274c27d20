"""Resuming a bench saved by earlier code: which options it ran with, and refusing to mix configurations."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import envs
from agent.bench.config import BenchConfig
from agent.errors import UsageError
from agent.learning.recall import ABLATIONS

log = logging.getLogger(__name__)

AS_BEFORE: dict[str, dict[str, Any]] = {
    "evolution": {"recalls": 0, "howtos": False, "kept": False, "check_rules": False, "reflect_all": False,
                  "gate": False, "credit_shown": True},
    "actor": {"pin_found": False, "mix_verbs": False, "hide_idle_verbs": False, "keep_earned": False,
              "follow_memory": False, "place_by_analogy": False,
              "place_by_likeness": False},
    "held_out": {"purpose": "legacy"},
}
"""Options added since benches were first saved whose default changes how a bench plays, with the value that
reproduces how a bench saved without them played (before them, memory was retrieved once per episode, only
the recent steps were shown, untried actions were listed in the environment's order, no verb was idle, no
how-to fact was applied, no kept fact was written or applied, no rule was checked against its evidence's
actions, nothing earned was kept from being undone and the model chose every action, none by analogy or likeness,
a reflect took one batch, rules were trusted when written and every memory shown was credited with the score;
held-out seeds came from the training fold's second half and the test fold's start)."""


def missing_since(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The options of :data:`AS_BEFORE` a saved bench configuration predates, with the values it ran with."""
    missing = {section: {k: v for k, v in values.items() if k not in data.get(section, {})}
               for section, values in AS_BEFORE.items()}  # fmt: skip
    return {section: values for section, values in missing.items() if values}


def kept_as_before(path: Path) -> dict[str, dict[str, Any]]:
    """The options a bench saved in ``path`` keeps as it first ran: those its configuration predates, and those
    an earlier resume kept (recorded under ``as_before``, since that resume saved them explicitly)."""
    if not path.is_file():
        return {}
    record = json.loads(path.read_text())
    kept = missing_since(record["bench"])
    for section, values in record.get("as_before", {}).items():
        kept[section] = {**values, **kept.get(section, {})}
    return kept


def as_it_ran(config: BenchConfig, path: Path, kept: dict[str, dict[str, Any]] | None = None) -> BenchConfig:
    """``config`` with the options the bench saved in ``path`` predates set as it played, so that an old bench
    resumes with the same command (every time) and plays its remaining episodes as it played the first ones.
    ``kept``: :func:`kept_as_before` of ``path``, when the caller has it already."""
    kept = kept_as_before(path) if kept is None else kept
    if not kept:
        return config
    log.warning("resuming a bench that ran before these options existed: keeping %s as it ran",
                ", ".join(f"{s}.{k}={v}" for s, values in kept.items() for k, v in values.items()))  # fmt: skip
    return config.model_copy(update={s: getattr(config, s).model_copy(update=v) for s, v in kept.items()})


def saved_bench(path: Path) -> dict[str, Any]:
    """The bench configuration saved in ``path``; an option added since is filled with the value the bench
    ran with (:data:`AS_BEFORE`, else the default)."""
    data = json.loads(path.read_text())["bench"]
    for section, values in missing_since(data).items():
        data.setdefault(section, {}).update(values)
    return BenchConfig.model_validate(data).model_dump(mode="json")


def differences(saved: dict[str, Any], now: dict[str, Any], prefix: str = "") -> list[str]:
    """Where two saved configurations differ, as ``section.option (saved X, now Y)``."""
    found: list[str] = []
    for key in sorted(set(saved) | set(now)):
        old, new = saved.get(key), now.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            found += differences(old, new, f"{prefix}{key}.")
        elif old != new:
            found.append(f"{prefix}{key} (saved {old!r}, now {new!r})")
    return found


def check_bench(config: BenchConfig) -> None:
    unknown = [a for a in config.ablations if a not in ABLATIONS]
    if unknown:
        raise UsageError(f"unknown ablation(s) {unknown}; choose from {', '.join(ABLATIONS)}")
    envs.spec(config.env_id)  # unknown id: "did you mean"
    if config.held_out.seeds:
        if len(config.settings) != 1:
            raise UsageError("--test-seeds names seeds of one fold: give --settings in or --settings out with them")
        if config.test != len(config.held_out.seeds):
            raise UsageError(f"--test {config.test} but --test-seeds names {len(config.held_out.seeds)} seeds; "
                             "leave --test out with --test-seeds")  # fmt: skip


def check_code(path: Path, identity: dict[str, str], *, allow_change: bool = False) -> dict[str, Any]:
    """What ``config.json`` records about the agent code: this code, and every code that played the bench.

    Raises:
        UsageError: the bench in ``path`` was played by other agent code and ``allow_change`` is False.
    """
    saved = json.loads(path.read_text()) if path.is_file() else {}
    if not saved:
        return {"code": identity}
    before = saved.get("code") or {"code": "unknown", "commit": "(saved before code was recorded)"}
    history: list[dict[str, str]] = saved.get("code_history") or [before]
    if before["code"] == identity["code"]:
        return {"code": identity, **({"code_history": history} if len(history) > 1 else {})}
    if not allow_change:
        raise UsageError(
            f"{path.parent} holds episodes played by other agent code ({before['code']} {before['commit']}); this "
            f"is {identity['code']} {identity['commit']}. To evaluate its memory with this code, start a new bench "
            f"on it: --train 0 --memory-dir {path.parent / 'memory'} --out NEW_DIR; or pass --allow-code-change to "
            "add episodes anyway (the results then say they mix code)"
        )
    return {"code": identity, "code_history": [*history, identity]}
