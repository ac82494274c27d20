"""What a bench runs: its configuration, its environments, and how a fold's seeds are split."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

import envs
from agent.bench.seeds import Purpose
from agent.core.state import ActorConfig
from agent.learning.config import EvolutionConfig
from envs.base import Env

log = logging.getLogger(__name__)

Setting = Literal["in", "out"]


SETTING_NAMES = {"in": "in distribution (unseen games of the training fold)", "out": "out of distribution (test fold)"}


class HeldOutConfig(BaseModel):
    """Which held-out seeds a bench plays (:mod:`agent.bench.seeds`)."""

    purpose: Purpose = "dev"
    """``dev`` (debug and tune here), ``report`` (fixed before a final run, never inspected while building) or
    ``legacy`` (the ranges of benches saved before ranges existed)."""
    seeds: tuple[int, ...] = ()
    """Seeds a user named instead (``--test-seeds``); one setting only."""


class BenchConfig(BaseModel):
    """What a bench runs."""

    env_id: str
    preset: str | None = "easy"
    train: int = Field(default=30, ge=0)
    """Training tasks (each attempted up to ``evolution.trials`` times)."""
    test: int = Field(default=30, ge=1)
    """Held-out tasks per setting; every ablation runs on the same ones."""
    settings: tuple[Setting, ...] = ("in", "out")
    ablations: tuple[str, ...] = ("none", "reflexion", "trajectories", "insights", "full")
    random_baseline: bool = True
    evolution: EvolutionConfig = Field(default_factory=EvolutionConfig)
    actor: ActorConfig = Field(default_factory=ActorConfig)
    held_out: HeldOutConfig = Field(default_factory=HeldOutConfig)


def make_env(config: BenchConfig, split: str, seeds: Sequence[int] | None = None) -> Env:
    """The bench's environment for one split (its preset and step limit)."""
    params: dict[str, Any] = {}
    if config.preset is not None:
        params["preset"] = config.preset
    if seeds is not None:
        params["seeds"] = list(seeds)
    params["max_steps"] = config.evolution.max_steps
    return envs.make(config.env_id, split=split, **params)
