"""TextWorldExpress adapter: twc, cookingworld, coin and mapreader behind the ``Env`` contract.

TextWorldExpress (``textworld-express``, a bundled Scala simulator driven over py4j) generates a game from
a game name, generation parameters and a seed. Its folds are seed ranges: train 0-999, dev 10000-10999,
test 20000-20999 (for twc the test fold also uses objects never seen in training). Seeds are checked
against the fold here because the simulator itself accepts any seed in any fold.

One JVM is started per adapter instance and reused across resets (starting one costs ~0.4 s). The valid
actions are sorted, because the simulator returns them in an order that changes from step to step.
Gold paths come from the simulator and are only handed out on the train split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from envs.adapter import Adapter, Frame
from envs.errors import EnvUsageError, check_choice
from envs.runtime import import_package, start_java_env

FOLDS: dict[str, range] = {"train": range(0, 1000), "dev": range(10000, 11000), "test": range(20000, 21000)}
"""TextWorldExpress's own seed folds."""


@dataclass(frozen=True)
class GameSpec:
    """One TextWorldExpress game: its generation parameters and named presets."""

    name: str
    """The simulator's game name."""
    description: str
    """One line on what the game asks."""
    params: Mapping[str, tuple[int, int]]
    """Every generation parameter the simulator accepts, with its inclusive (min, max) range."""
    presets: Mapping[str, Mapping[str, int]]
    """Named parameter sets; ``easy`` and ``medium`` at least."""


_DOORS = {"includeDoors": (0, 1), "limitInventorySize": (0, 1)}

GAMES: dict[str, GameSpec] = {
    "twc": GameSpec(
        "twc",
        "TextWorld Commonsense: pick up misplaced objects and put them where they usually belong.",
        {"numLocations": (1, 3), "numItemsToPutAway": (1, 4), **_DOORS},
        {
            "easy": {"numLocations": 1, "numItemsToPutAway": 1, "includeDoors": 0, "limitInventorySize": 0},
            "medium": {"numLocations": 2, "numItemsToPutAway": 2, "includeDoors": 0, "limitInventorySize": 0},
        },
    ),
    "cookingworld": GameSpec(
        "cookingworld",
        "CookingWorld: read the recipe, gather and prepare the ingredients, cook the meal and eat it.",
        {"numLocations": (1, 11), "numIngredients": (1, 5), "numDistractorItems": (0, 10), **_DOORS},
        {
            "easy": {
                "numLocations": 1,
                "numIngredients": 1,
                "numDistractorItems": 0,
                "includeDoors": 0,
                "limitInventorySize": 0,
            },
            "medium": {
                "numLocations": 1,
                "numIngredients": 2,
                "numDistractorItems": 2,
                "includeDoors": 0,
                "limitInventorySize": 0,
            },
        },
    ),
    "coin": GameSpec(
        "coin",
        "Coin collector: explore the rooms (opening doors) until you find the coin, then take it.",
        {"numLocations": (1, 11), "numDistractorItems": (0, 10), **_DOORS},
        {
            "easy": {"numLocations": 3, "numDistractorItems": 0, "includeDoors": 0, "limitInventorySize": 0},
            "medium": {
                "numLocations": 5,
                "numDistractorItems": 2,
                "includeDoors": 1,
                "limitInventorySize": 0,
            },
        },
    ),
    "mapreader": GameSpec(
        "mapreader",
        "Map reader: use the map to walk to the coin's room, take the coin and bring it back to the box.",
        {
            "numLocations": (1, 50),
            "maxDistanceApart": (1, 8),
            "maxDistractorItemsPerLocation": (0, 3),
            **_DOORS,
        },
        {
            "easy": {
                "numLocations": 3,
                "maxDistanceApart": 1,
                "maxDistractorItemsPerLocation": 0,
                "includeDoors": 0,
                "limitInventorySize": 0,
            },
            "medium": {
                "numLocations": 8,
                "maxDistanceApart": 3,
                "maxDistractorItemsPerLocation": 1,
                "includeDoors": 0,
                "limitInventorySize": 0,
            },
        },
    ),
}
"""The games offered, by simulator name."""


def resolve_params(game: str, preset: str, overrides: Mapping[str, Any]) -> dict[str, int]:
    """Merge a preset with caller overrides and validate every value.

    Args:
        game: A key of :data:`GAMES`.
        preset: A preset name of that game.
        overrides: Raw simulator parameters (e.g. ``numLocations=2``).

    Returns:
        The full parameter set, in a stable order.

    Raises:
        EnvUsageError: naming an unknown game, preset or parameter (with the allowed names) or a value
            outside its range.
    """
    check_choice("TextWorldExpress game", game, GAMES)
    spec = GAMES[game]
    check_choice("preset", preset, spec.presets, where=f"twx-{game}")
    params = dict(spec.presets[preset])
    for name, value in overrides.items():
        check_choice("parameter", name, spec.params, where=f"twx-{game}")
        lo, hi = spec.params[name]
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int) or not lo <= value <= hi:
            raise EnvUsageError(
                f"Parameter {name}={value!r} is out of range for twx-{game}: allowed values are integers "
                f"{lo}..{hi}."
            )
        params[name] = value
    return params


GOLD_SEARCH_NODES = 2000
"""States a search for the shortest coin path visits at most before keeping the simulator's own path."""


def params_string(params: Mapping[str, int]) -> str:
    """The simulator's ``gameParams`` string, e.g. ``"numLocations=1,includeDoors=0"``.

    Args:
        params: Validated parameters.

    Returns:
        Comma-separated ``name=value`` pairs.
    """
    return ",".join(f"{k}={v}" for k, v in params.items())


def start_twx(step_limit: int = 100_000) -> Any:
    """Start a raw ``TextWorldExpressEnv`` (one JVM); used by the adapter and by benchmarks.

    Args:
        step_limit: The simulator wrapper's own step limit (kept high: the adapter enforces ``max_steps``).

    Returns:
        A ``textworld_express.TextWorldExpressEnv``.

    Raises:
        EnvRuntimeError: if the package or Java is missing.
    """
    twx = import_package("textworld_express")
    return start_java_env(lambda: twx.TextWorldExpressEnv(envStepLimit=step_limit))


class TextWorldExpressEnv(Adapter):
    """A TextWorldExpress game as an :class:`~envs.base.Env` (ids ``twx-<game>``).

    ``info`` also carries ``game``, ``params`` (the full generation parameters) and ``task_failure``.
    ``task_type`` is ``"<game>/<preset>"``, or ``"<game>/custom:<params>"`` when parameters were overridden.
    """

    def __init__(
        self,
        game: str,
        split: str = "train",
        *,
        preset: str = "easy",
        seeds: Sequence[int] | range | int | None = None,
        max_steps: int | None = 30,
        **game_params: Any,
    ) -> None:
        """Validate the parameters, start the JVM and load the game generator.

        Args:
            game: ``"twc"``, ``"cookingworld"``, ``"coin"`` or ``"mapreader"``.
            split: ``"train"`` (seeds 0-999), ``"dev"`` (10000-10999) or ``"test"`` (20000-20999).
            preset: ``"easy"`` or ``"medium"`` (see :data:`GAMES`).
            seeds: Restrict the split to these seeds (e.g. ``range(0, 300)``).
            max_steps: Step limit per episode.
            **game_params: Raw simulator parameters overriding the preset (e.g. ``numItemsToPutAway=2``).

        Raises:
            EnvUsageError: for a bad game, preset, parameter, split or seed.
            EnvRuntimeError: if ``textworld-express`` or Java is missing.
        """
        self.game = game
        self.params = resolve_params(game, preset, game_params)
        self._custom = bool(game_params) and self.params != dict(GAMES[game].presets[preset])
        super().__init__(f"twx-{game}", split, seeds=seeds, max_steps=max_steps, preset=preset)
        self._env: Any = start_twx()  # after every check above, so bad input never starts a JVM
        try:
            self._env.load(game, params_string(self.params))
        except ValueError as exc:  # the simulator's own parameter check (should not trigger after ours)
            self.close()
            raise EnvUsageError(f"TextWorldExpress rejected the parameters for {self.env_id}: {exc}") from exc
        self._infos: dict[str, Any] = {}
        self._taken: list[str] = []  # the actions of the episode in progress, to restore it after a gold search
        self._canonical: dict[int, list[str]] = {}

    @property
    def raw(self) -> Any:
        """The underlying ``textworld_express.TextWorldExpressEnv`` (for side-by-side measurements)."""
        return self._env

    def _fold_seeds(self) -> range:
        return FOLDS[self.split]

    def _task_type(self) -> str:
        if self._custom:
            return f"{self.game}/custom:{params_string(self.params)}"
        return f"{self.game}/{self.preset}"

    def _frame(self, obs: str, infos: dict[str, Any]) -> Frame:
        success = bool(infos.get("tasksuccess"))
        failure = bool(infos.get("taskfailure"))
        return Frame(
            text=str(obs).strip(),
            valid_actions=tuple(sorted(set(infos.get("validActions", ())) - {""})),
            raw_score=float(infos.get("scoreRaw", 0.0)),
            score=max(float(infos.get("score", 0.0)), 0.0),
            terminated=success or failure,
            success=success,
            task=str(infos.get("taskDescription", "")),
            info={"game": self.game, "params": dict(self.params), "task_failure": failure},
        )

    def _start(self, seed: int) -> Frame:
        obs, infos = self._env.reset(seed=seed, gameFold=self.split, generateGoldPath=self.split == "train")
        self._infos = infos
        self._taken = []
        return self._frame(obs, infos)

    def _act(self, action: str) -> Frame:
        obs, _reward, _done, infos = self._env.step(action)
        self._infos = infos
        self._taken.append(action)
        return self._frame(obs, infos)

    def _gold(self) -> list[str]:
        gold = [str(a) for a in self._env.getGoldActionSequence()]
        if self.game != "coin" or self.seed is None:
            return gold
        if self.seed not in self._canonical:  # the simulator's coin path is a random walk, another at each reset
            self._canonical[self.seed] = self._shortest(self.seed, gold)
            self._restore(self.seed)
        return list(self._canonical[self.seed])

    def _replay(self, seed: int, actions: Sequence[str]) -> tuple[str, dict[str, Any]]:
        obs, infos = self._env.reset(seed=seed, gameFold=self.split, generateGoldPath=False)
        for action in actions:
            obs, _reward, _done, infos = self._env.step(action)
        return str(obs), infos

    def _restore(self, seed: int) -> None:
        """Bring the simulator back to the episode in progress after a search reset it."""
        _, self._infos = self._replay(seed, self._taken)

    def _shortest(self, seed: int, gold: Sequence[str], limit: int = GOLD_SEARCH_NODES) -> list[str]:
        """The shortest winning sequence of valid actions (breadth first, actions in sorted order, so the same for
        every run), or ``gold`` itself when none is found within ``limit`` states."""
        start_obs, start = self._replay(seed, [])
        valid = tuple(sorted(set(start.get("validActions", ())) - {""}))
        frontier: list[tuple[list[str], tuple[str, ...]]] = [([], valid)]  # each path with the actions valid after it
        seen = {(start_obs, valid)}
        while frontier and len(seen) < limit:
            following: list[tuple[list[str], tuple[str, ...]]] = []
            for path, offered in frontier:
                for action in offered:
                    obs, after = self._replay(seed, [*path, action])
                    if after.get("tasksuccess"):
                        return [*path, action]
                    reached = tuple(sorted(set(after.get("validActions", ())) - {""}))
                    if (obs, reached) not in seen and not after.get("taskfailure"):
                        seen.add((obs, reached))
                        following.append(([*path, action], reached))
            frontier = following
        return list(gold)

    def close(self) -> None:
        """Shut the JVM down (idempotent)."""
        env, self._env = getattr(self, "_env", None), None
        if env is not None:
            env.close()
