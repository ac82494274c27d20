"""reasoning-gym adapter: single-step question/answer tasks as one-step episodes.

``reasoning-gym`` generators are seeded: item ``i`` of a dataset built with seed ``s`` is drawn from
``Random(s + i)``. Each seed of this adapter builds a one-item dataset with that seed, so a seed names
exactly one problem. The splits are disjoint seed ranges chosen here (the package has no folds):

* train: 0 - 99,999
* dev: 1,000,000 - 1,009,999
* test: 2,000,000 - 2,009,999

An episode is one step: the observation is the question, the action is the answer, and the reward is 1
for an exact answer (:func:`envs.metrics.exact_answer`: case, whitespace, an ``Answer:`` prefix, a final
full stop and number formatting are forgiven), else 0. The package's own, sometimes partial, score is
kept in ``info["rg_score"]``. The gold answer is revealed after the step (and by ``gold_actions``) on the
train split only.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from envs.adapter import Adapter, Frame
from envs.errors import EnvUsageError, check_choice
from envs.metrics import exact_answer
from envs.runtime import import_package

FOLDS: dict[str, range] = {
    "train": range(0, 100_000),
    "dev": range(1_000_000, 1_010_000),
    "test": range(2_000_000, 2_010_000),
}
"""Seed ranges per split (disjoint; documented in the module docstring)."""

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # allow_parentheses=False is avoided: in reasoning-gym 0.1.25 that path can print a divisor other than
    # the one it computed with. Medium leaves out "/": with longer expressions the package's floor-division
    # answers can differ from the true quotient the question implies.
    "basic_arithmetic": {
        "easy": {"min_terms": 2, "max_terms": 3, "min_digits": 1, "max_digits": 2},
        "medium": {
            "min_terms": 3,
            "max_terms": 5,
            "min_digits": 1,
            "max_digits": 3,
            "operators": ["+", "-", "*"],
        },
    },
    "chain_sum": {
        "easy": {"min_terms": 2, "max_terms": 3, "min_digits": 1, "max_digits": 2},
        "medium": {"min_terms": 3, "max_terms": 6, "min_digits": 1, "max_digits": 4},
    },
    "leg_counting": {
        "easy": {"min_animals": 2, "max_animals": 3, "min_instances": 1, "max_instances": 3},
        "medium": {"min_animals": 3, "max_animals": 6, "min_instances": 1, "max_instances": 10},
    },
    "family_relationships": {
        "easy": {"min_family_size": 3, "max_family_size": 4},
        "medium": {"min_family_size": 4, "max_family_size": 8},
    },
    # gsm_symbolic supports a single difficulty (1.0): both presets are the package default.
    "gsm_symbolic": {"easy": {}, "medium": {}},
}
"""Named parameter sets per dataset; datasets not listed get ``easy`` = ``medium`` = package defaults."""

REGISTERED: tuple[str, ...] = tuple(PRESETS)
"""Datasets registered as ``rg-<name>``; any other reasoning-gym dataset works through ``rg``."""

_RESERVED = ("seed", "size")


def _config_fields(config_cls: type) -> dict[str, Any]:
    """The config dataclass's settable fields and their types (``seed`` and ``size`` are the adapter's)."""
    try:
        hints = typing.get_type_hints(config_cls)
    except (NameError, TypeError):  # unresolvable forward references: fall back to the raw annotations
        hints = {}
    return {
        f.name: hints.get(f.name, f.type) for f in dataclasses.fields(config_cls) if f.name not in _RESERVED
    }


def _check_value(name: str, value: Any, field_type: Any, dataset: str) -> Any:
    """Check a config value against its dataclass type (int, float, bool, str, Literal, list)."""
    origin = typing.get_origin(field_type)
    if origin is typing.Literal:
        check_choice(
            f"value of {name}", value, [str(a) for a in typing.get_args(field_type)], where=f"rg-{dataset}"
        )
        return value
    expected: tuple[type, ...]
    if field_type is bool:
        expected = (bool,)
    elif field_type is int:
        expected = (int,)
    elif field_type is float:
        expected = (int, float)
    elif field_type is str:
        expected = (str,)
    elif origin in (list, tuple, Sequence):
        expected = (list, tuple)
    else:
        return value
    if not isinstance(value, expected) or (field_type in (int, float) and isinstance(value, bool)):
        kinds = " or ".join(t.__name__ for t in expected)
        raise EnvUsageError(f"Parameter {name}={value!r} for rg-{dataset} must be of type {kinds}.")
    if isinstance(value, list | tuple):
        return list(value)
    return value


class ReasoningGymEnv(Adapter):
    """A reasoning-gym dataset as one-step episodes (ids ``rg-<dataset>``, or ``rg`` with ``dataset=``).

    ``info`` also carries ``dataset``, ``config`` and, after the step, ``rg_score`` and (train only) ``gold``.
    """

    accepts_free_text = True

    def __init__(
        self,
        dataset: str,
        split: str = "train",
        *,
        preset: str = "easy",
        seeds: Sequence[int] | range | int | None = None,
        max_steps: int | None = 1,
        **config: Any,
    ) -> None:
        """Validate the dataset and its configuration.

        Args:
            dataset: A reasoning-gym dataset name (``gsm_symbolic``, ``basic_arithmetic``, ...).
            split: ``"train"``, ``"dev"`` or ``"test"`` (seed ranges in :data:`FOLDS`).
            preset: ``"easy"`` or ``"medium"`` (see :data:`PRESETS`).
            seeds: Restrict the split to these seeds.
            max_steps: Step limit; an episode is one answer, so the default is 1.
            **config: Fields of the dataset's config dataclass, overriding the preset.

        Raises:
            EnvUsageError: for an unknown dataset, preset or config field, a bad value or split.
            EnvRuntimeError: if ``reasoning-gym`` is missing.
        """
        rg = import_package("reasoning_gym")
        datasets: Mapping[str, tuple[type, type]] = rg.factory.DATASETS
        check_choice("reasoning-gym dataset", dataset, sorted(datasets))
        presets = PRESETS.get(dataset, {"easy": {}, "medium": {}})
        check_choice("preset", preset, presets, where=f"rg-{dataset}")
        fields = _config_fields(datasets[dataset][1])
        merged = dict(presets[preset])
        for name, value in config.items():
            check_choice("parameter", name, fields, where=f"rg-{dataset}")
            merged[name] = _check_value(name, value, fields[name], dataset)
        self.dataset = dataset
        self.config = merged
        self._custom = merged != presets[preset]
        self._create = rg.create_dataset
        try:
            self._create(dataset, seed=0, size=1, **merged)
        except (AssertionError, ValueError, TypeError) as exc:
            raise EnvUsageError(
                f"reasoning-gym rejected the config {merged!r} for rg-{dataset}: {exc}"
            ) from exc
        super().__init__(f"rg-{dataset}", split, seeds=seeds, max_steps=max_steps, preset=preset)
        self._entry: dict[str, Any] = {}
        self._data: Any = None

    def _fold_seeds(self) -> range:
        return FOLDS[self.split]

    def _task_type(self) -> str:
        if self._custom:
            return f"{self.dataset}/custom:" + ",".join(f"{k}={v}" for k, v in sorted(self.config.items()))
        return f"{self.dataset}/{self.preset}"

    def _episode_limit(self) -> int:
        return 1

    def entry(self) -> dict[str, Any]:
        """The current reasoning-gym item (question, answer, metadata); the answer is for scoring code."""
        return dict(self._entry)

    def _start(self, seed: int) -> Frame:
        self._data = self._create(self.dataset, seed=seed, size=1, **self.config)
        self._entry = self._data[0]
        question = str(self._entry["question"]).strip()
        return Frame(
            text=f"{question}\nReply with the final answer only.",
            valid_actions=(),
            task=question,
            info={"dataset": self.dataset, "config": dict(self.config)},
        )

    def _act(self, action: str) -> Frame:
        gold = str(self._entry["answer"])
        correct = exact_answer(action, gold)
        rg_score = float(self._data.score_answer(action, self._entry))
        verdict = "Correct." if correct else "Incorrect."
        info: dict[str, Any] = {"dataset": self.dataset, "config": dict(self.config), "rg_score": rg_score}
        if self.split == "train":
            info["gold"] = gold
            if not correct:
                verdict += f" The answer is {gold}."
        return Frame(
            text=verdict,
            valid_actions=(),
            raw_score=float(correct),
            score=float(correct),
            terminated=True,
            success=correct,
            reward=float(correct),
            info=info,
        )

    def _gold(self) -> list[str]:
        return [str(self._entry["answer"])]
