"""ScienceWorld adapter: the short tasks (finding things, lifespans, mixing paint) behind ``Env``.

ScienceWorld (``scienceworld``, a Scala simulator over py4j) has 30 tasks, each with numbered variations
that the benchmark itself splits into train, dev and test lists; those variation numbers are this
adapter's seeds, so the splits are the benchmark's own and disjoint.

Actions: the benchmark lists 100-400 valid actions per step, but its parser accepts more (its own gold
paths use phrasings such as ``focus on dove`` that are not in the list). So every action is forwarded and
the benchmark decides; its rejections ("No known action matches that input.") come back as invalid
actions and are counted. When the benchmark answers "Ambiguous request" it waits for a number: the
options become the valid actions, and the next action may be an option's text or its number (anything
else cancels the question first). For prompts, :meth:`ScienceWorldEnv.shortlist` ranks the valid actions
by overlap with the task and the room (``info["shortlist"]`` holds the top ``shortlist_k``); it never
restricts what is accepted.

Scores: the benchmark's 0..100 (kept as ``info["raw_score"]``) is divided by 100; a wrong ``focus on``
ends the episode at -100, reported as score 0, ``terminated`` and ``info["task_failure"] = True``.

Determinism: the simulator lists a room's objects in a varying order, so observations are passed through
:func:`canonical_text` (listing blocks sorted) and the same seed gives the same text. It also names
interchangeable objects with aliases drawn anew on each load ("paint in wood cup" / "blue paint on cup"),
so a few valid-action strings can differ between two resets of the same seed; the task is the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from envs.adapter import Adapter, Frame, check_split, normalise_action
from envs.errors import EnvUsageError, check_choice
from envs.runtime import import_package, start_java_env
from envs.shortlist import shortlist_actions

SHORT_TASKS: dict[str, str] = {
    "find-living-thing": "Find a living thing, focus on it and move it to the named box.",
    "find-non-living-thing": "Find a non-living thing, focus on it and move it to the named box.",
    "find-animal": "Find an animal, focus on it and move it to the named box.",
    "find-plant": "Find a plant, focus on it and move it to the named box.",
    "lifespan-longest-lived": "Focus on the animal with the longest life span.",
    "lifespan-shortest-lived": "Focus on the animal with the shortest life span.",
    "lifespan-longest-lived-then-shortest-lived": "Focus on the longest-, then the shortest-lived animal.",
    "chemistry-mix-paint-secondary-color": "Mix two primary paints into a secondary colour; focus on it.",
}
"""The short ScienceWorld tasks registered as ``sciworld-<task>``."""

SIMPLIFICATIONS: tuple[str, ...] = (
    "easy",
    "teleportAction",
    "selfWateringFlowerPots",
    "openContainers",
    "openDoors",
    "noElectricalAction",
)
"""Simplifications ScienceWorld accepts (``easy`` means all the others)."""

PRESETS: dict[str, str] = {
    "easy": "easy",
    "medium": "openDoors,noElectricalAction",
}
"""Preset name to ScienceWorld simplification string. Medium keeps walking room to room (no teleport)."""

_INVALID_MARKERS = ("No known action matches that input", "Unknown action.")
_AMBIGUOUS = "Ambiguous request"
_OPTION = re.compile(r"^(\d+):\s*(.+?)\s*$")
_TASK_PREFIX = re.compile(r"^\s*Task Description:\s*", re.IGNORECASE)


def canonical_text(text: str) -> str:
    """Sort each run of consecutive tab-indented listing lines (same depth) of a ScienceWorld observation.

    ScienceWorld lists a room's contents in an order that changes between runs of the same variation; the
    order carries no meaning, so sorting it makes the same seed give the same text.

    Args:
        text: An observation from the simulator.

    Returns:
        The observation with every block of listed objects in sorted order.
    """
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        depth = len(lines[i]) - len(lines[i].lstrip("\t"))
        if depth == 0:
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and len(lines[j]) - len(lines[j].lstrip("\t")) == depth:
            j += 1
        out.extend(sorted(lines[i:j]))
        i = j
    return "\n".join(out)


def resolve_simplifications(preset: str, simplifications: str | Sequence[str] | None, env_id: str) -> str:
    """The simplification string for a preset, or the caller's own, validated.

    Args:
        preset: ``"easy"`` or ``"medium"``.
        simplifications: Overrides the preset: a comma-separated string or a list ("" for none).
        env_id: For messages.

    Returns:
        A comma-separated simplification string as ScienceWorld expects it.

    Raises:
        EnvUsageError: naming the bad preset or simplification and the allowed values.
    """
    check_choice("preset", preset, PRESETS, where=env_id)
    if simplifications is None:
        return PRESETS[preset]
    items = simplifications.split(",") if isinstance(simplifications, str) else list(simplifications)
    items = [s.strip() for s in items if s.strip()]
    for item in items:
        check_choice("simplification", item, SIMPLIFICATIONS, where=env_id)
    return ",".join(items)


def start_scienceworld(step_limit: int = 1_000_000) -> Any:
    """Start a raw ``scienceworld.ScienceWorldEnv`` (one JVM); used by the adapter and by benchmarks.

    Args:
        step_limit: The wrapper's own step limit (kept high: the adapter enforces ``max_steps``).

    Returns:
        A ``scienceworld.ScienceWorldEnv`` with no task loaded.

    Raises:
        EnvRuntimeError: if the package or Java is missing.
    """
    sw = import_package("scienceworld")
    return start_java_env(lambda: sw.ScienceWorldEnv("", envStepLimit=step_limit))


class ScienceWorldEnv(Adapter):
    """A ScienceWorld task as an :class:`~envs.base.Env` (ids ``sciworld-<task>``).

    ``info`` also carries ``shortlist`` (the top ``shortlist_k`` actions), ``simplifications``,
    ``task_failure`` and ``ambiguous`` (True while the benchmark waits for an option).
    """

    accepts_free_text = True
    stable_valid_actions = False  # object aliases ("paint in wood cup ...") are drawn anew on every load

    def __init__(
        self,
        task: str,
        split: str = "train",
        *,
        preset: str = "easy",
        simplifications: str | Sequence[str] | None = None,
        seeds: Sequence[int] | range | int | None = None,
        max_steps: int | None = 30,
        shortlist_k: int = 20,
        all_tasks: bool = False,
        server: Any | None = None,
    ) -> None:
        """Validate the parameters, start the JVM and enumerate the task's variations.

        Args:
            task: One of :data:`SHORT_TASKS` (any ScienceWorld task with ``all_tasks=True``).
            split: ``"train"``, ``"dev"`` or ``"test"``: the benchmark's own variation lists.
            preset: ``"easy"`` (all simplifications) or ``"medium"`` (doors open, no electrical actions).
            simplifications: Override the preset's simplifications (see :data:`SIMPLIFICATIONS`).
            seeds: Restrict the split to these variation numbers.
            max_steps: Step limit per episode.
            shortlist_k: How many actions ``info["shortlist"]`` holds.
            all_tasks: Accept the long ScienceWorld tasks too.
            server: A raw simulator from :func:`start_scienceworld` to share instead of starting a JVM
                (~470 MB each). Every ``reset`` reloads its task, so adapters may share one server as long
                as their episodes do not interleave step by step. A shared server is not closed by ``close``.

        Raises:
            EnvUsageError: for a bad task, preset, simplification, split or seed.
            EnvRuntimeError: if ``scienceworld`` or Java is missing.
        """
        env_id = f"sciworld-{task}"
        if not all_tasks:
            check_choice(
                "ScienceWorld task", task, SHORT_TASKS, where="sciworld (pass all_tasks=True for long tasks)"
            )
        if not isinstance(shortlist_k, int) or shortlist_k < 1:
            raise EnvUsageError(f"shortlist_k must be a positive int, got {shortlist_k!r} for {env_id}.")
        self.task_name = task
        self.simplifications = resolve_simplifications(preset, simplifications, env_id)
        self.shortlist_k = shortlist_k
        check_split(split, env_id)  # before the JVM starts
        self._owns_server = server is None
        self._env: Any = start_scienceworld() if server is None else server
        try:
            if all_tasks:
                check_choice("ScienceWorld task", task, self._env.get_task_names(), where="sciworld")
            self._env.load(task, 0, self.simplifications, generateGoldPath=False)
            self._folds: dict[str, list[int]] = {
                "train": list(self._env.get_variations_train()),
                "dev": list(self._env.get_variations_dev()),
                "test": list(self._env.get_variations_test()),
            }
            self._custom = simplifications is not None and self.simplifications != PRESETS.get(preset)
            super().__init__(env_id, split, seeds=seeds, max_steps=max_steps, preset=preset)
        except EnvUsageError:
            self.close()
            raise
        self._pending: dict[str, str] = {}
        self._context = ""

    @property
    def raw(self) -> Any:
        """The underlying ``scienceworld.ScienceWorldEnv`` (for side-by-side measurements)."""
        return self._env

    def _fold_seeds(self) -> list[int]:
        return self._folds[self.split]

    def _task_type(self) -> str:
        if self._custom:
            return f"{self.task_name}/custom:{self.simplifications}"
        return f"{self.task_name}/{self.preset}"

    def _always_shown(self) -> tuple[str, ...]:
        return ("look around", "inventory")

    def shortlist(self, k: int = 20) -> tuple[str, ...]:
        """At most ``k`` valid actions ranked by overlap with the task, the room and the inventory."""
        if not self.valid_actions:
            return ()
        return shortlist_actions(
            self.valid_actions, task=self.task, observation=self._context, k=k, keep=self._always_shown()
        )

    def _frame(self, obs: str, info: dict[str, Any], *, task: str = "") -> Frame:
        raw = float(info.get("score", 0.0))
        completed = bool(info.get("_completed", False))
        failed = raw < 0
        text = canonical_text(str(obs).strip())
        invalid = any(text.startswith(m) for m in _INVALID_MARKERS)
        options = self._parse_options(text) if text.startswith(_AMBIGUOUS) else {}
        self._pending = options
        valid = tuple(options) if options else tuple(sorted(set(info.get("valid", ()))))
        self._context = f"{text}\n{info.get('look', '')}\n{info.get('inv', '')}"
        goal = task or self.task
        return Frame(
            text=text,
            valid_actions=valid,
            raw_score=raw,
            score=max(raw, 0.0) / 100.0,
            terminated=completed or failed,
            success=completed and raw >= 100,
            invalid=invalid,
            task=task,
            info={
                "task_failure": failed,
                "ambiguous": bool(options),
                "simplifications": self.simplifications,
                "shortlist": valid
                if options
                else shortlist_actions(
                    valid, task=goal, observation=self._context, k=self.shortlist_k, keep=self._always_shown()
                ),
            },
        )

    @staticmethod
    def _parse_options(text: str) -> dict[str, str]:
        """Map each option of an "Ambiguous request" prompt to the number that selects it."""
        options: dict[str, str] = {}
        for line in text.splitlines()[1:]:
            m = _OPTION.match(line.strip())
            if m:
                options[m.group(2)] = m.group(1)
        return options

    def _raw_step(self, action: str) -> tuple[str, dict[str, Any]]:
        obs, _reward, done, info = self._env.step(action)
        info = dict(info)
        info["_completed"] = bool(done)
        return str(obs), info

    def _start(self, seed: int) -> Frame:
        self._env.load(self.task_name, seed, self.simplifications, generateGoldPath=self.split == "train")
        obs, info = self._env.reset()
        info = dict(info)
        info["_completed"] = False
        task = _TASK_PREFIX.sub("", str(info.get("taskDesc", ""))).strip()
        return self._frame(obs, info, task=task)

    def _act(self, action: str) -> Frame:
        if self._pending:
            by_text = {normalise_action(k): v for k, v in self._pending.items()}
            choice = by_text.get(normalise_action(action))
            if choice is None and action.strip() in self._pending.values():
                choice = action.strip()
            if choice is not None:
                return self._frame(*self._raw_step(choice))
            self._raw_step("")  # cancel the pending question, then take the new action
        return self._frame(*self._raw_step(action))

    def _gold(self) -> list[str]:
        return [str(a) for a in self._env.get_gold_action_sequence()]

    def close(self) -> None:
        """Shut the JVM down (idempotent); a shared ``server`` is left running for its owner."""
        env, self._env = getattr(self, "_env", None), None
        if env is not None and getattr(self, "_owns_server", True):
            env.close()
