"""Real StarCraft II through pysc2's SC2Env (raw interface), behind the same interface as the engine.

    backend = Pysc2Backend("DefeatRoaches", step_mul=8, seed=1)
    obs = backend.reset()                   # envs.raw_schema.RawObs
    obs = backend.step([RawCommand(...)])   # RawCommand -> RAW_FUNCTIONS call -> the game

Coordinates: `RawObs.positions`/`radii` are world units (exact from the observation proto, which this
backend asks for with `send_observation_proto=True`; else derived from raw pixels). `RawCommand`
points are raw pixels (y flipped), passed to pysc2 as they are. Without the game a `UserError` names
SC2PATH. Tests inject pysc2's `mock_sc2_env.SC2TestEnv`, built (`env=`) or as the class the backend
builds its games from instead of SC2Env (`sc2_env_cls=`).
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from envs import pysc2_compat
from envs.errors import UserError
from envs.raw_schema import (
    NUM_PLAYER_COLUMNS,
    NUM_SCORE_COLUMNS,
    NUM_UNIT_COLUMNS,
    FeatureUnit,
    RawCommand,
    RawObs,
)

__all__ = ["Pysc2Backend", "CommandRejected", "find_game", "to_function_call", "validate_commands"]

# pysc2/run_configs/platforms.py: where pysc2 looks when SC2PATH is unset, and the binary's name.
_DEFAULT_INSTALL = {"Linux": "~/StarCraftII", "Darwin": "/Applications/StarCraft II",
                    "Windows": "C:/Program Files (x86)/StarCraft II"}
_BINARY = {"Linux": "SC2_x64", "Darwin": "SC2.app/Contents/MacOS/SC2", "Windows": "SC2_x64.exe"}
# sc2_env.possible_results: s2clientprotocol Result Victory=1, Defeat=2, Tie=3, Undecided=4.
_OUTCOME = {1: 1, 2: -1, 3: 0, 4: 0}


class CommandRejected(ValueError):
    """A RawCommand that pysc2 cannot express or would refuse; the message says why."""


def _tag_argument(tag, rows: dict[int, int], num_rows: int) -> int:
    """The value to hand pysc2 for `tag`: pysc2 reads any value below len(raw_units) as a row index
    (features.transform_action, find_original_tag), so a small real tag must be sent as its row."""
    if isinstance(tag, bool) or not isinstance(tag, (int, np.integer)) or tag < 0:
        raise CommandRejected(f"tag {tag!r} is not a non-negative integer")
    tag = int(tag)
    if tag >= num_rows:
        return tag
    if tag in rows:
        return rows[tag]
    raise CommandRejected(f"tag {tag} is not in the last observation and, being below its {num_rows} "
                          f"rows, would be read by pysc2 as a row index")


def to_function_call(command: RawCommand, raw_tags, resolution: tuple[int, int], max_selected_units: int):
    """RawCommand -> pysc2 `FunctionCall` of RAW_FUNCTIONS, with tags resolved against `raw_tags` (the tag
    column of the last observation). Raises CommandRejected for what pysc2 cannot express."""
    actions = pysc2_compat.import_pysc2().actions
    try:
        function = actions.RAW_FUNCTIONS[int(command.function)]
    except (IndexError, KeyError, TypeError, ValueError):
        raise CommandRejected(f"unknown raw function id {command.function!r}") from None
    rows = {int(tag): row for row, tag in enumerate(np.asarray(raw_tags, dtype=np.int64).reshape(-1))}
    values = []
    for arg in function.args:
        if arg.name == "queued":
            values.append("queued" if command.queued else "now")
        elif arg.name == "unit_tags":
            tags = command.unit_tags
            if not isinstance(tags, (tuple, list)) or not 1 <= len(tags) <= max_selected_units:
                raise CommandRejected(
                    f"{function.name} needs 1..{max_selected_units} unit tags, got {tags!r}")
            values.append([_tag_argument(t, rows, len(rows)) for t in tags])
        elif arg.name == "target_unit_tag":
            if isinstance(command.target, (tuple, list)) or command.target is None:
                raise CommandRejected(f"{function.name} needs a target unit tag, got {command.target!r}")
            values.append(_tag_argument(command.target, rows, len(rows)))
        elif arg.name == "world":
            values.append(_pixel_point(function.name, command.target, resolution))
    if not any(arg.name == "world" or arg.name == "target_unit_tag" for arg in function.args):
        if command.target is not None:
            raise CommandRejected(f"{function.name} takes no target, got {command.target!r}")
    return function(*values)


def _pixel_point(name: str, target, resolution: tuple[int, int]) -> list[int]:
    """A raw-pixel (x, y) target as pysc2 will use it (floored), inside the raw resolution."""
    if not isinstance(target, (tuple, list)) or len(target) != 2:
        raise CommandRejected(f"{name} needs an (x, y) point, got {target!r}")
    try:
        point = [float(v) for v in target]
    except (TypeError, ValueError):
        raise CommandRejected(f"{name} needs an (x, y) point of numbers, got {target!r}") from None
    if not all(math.isfinite(v) for v in point):
        raise CommandRejected(f"{name} point {target!r} is not finite")
    pixel = [math.floor(v) for v in point]
    if not all(0 <= p < size for p, size in zip(pixel, resolution, strict=True)):
        raise CommandRejected(f"{name} point {target!r} is off the {resolution[0]}x{resolution[1]} raw grid")
    return pixel


def world_point_check(pos, map_size: tuple[int, int]) -> list[str]:
    """Problems with a world-space target point of an action proto (empty list: it is on the map)."""
    if 0 <= pos.x <= map_size[0] and 0 <= pos.y <= map_size[1]:
        return []
    return [f"world point ({pos.x}, {pos.y}) is off the {map_size[0]}x{map_size[1]} map"]


def find_game(map_name: str | None = None, *, engine_option: str = "--backend engine") -> Path:
    """The StarCraft II install directory, checked up front; UserError naming SC2PATH if unusable (and the
    caller's `engine_option`, the way to play on the embedded engine instead)."""
    system = platform.system()
    base = os.environ.get("SC2PATH") or _DEFAULT_INSTALL.get(system, "~/StarCraftII")
    base = Path(os.path.expanduser(base))
    hint = ("set SC2PATH to the StarCraft II install directory (the one holding Versions/ and Maps/), "
            f"or use the embedded engine ({engine_option})")
    binary = _BINARY.get(system, "SC2_x64")
    versions = sorted((base / "Versions").glob("Base*")) if (base / "Versions").is_dir() else []
    if not any((v / binary).exists() for v in versions):
        where = "SC2PATH=" + os.environ["SC2PATH"] if os.environ.get("SC2PATH") else f"{base} (SC2PATH unset)"
        raise UserError(f"StarCraft II not found at {where}: no Versions/Base*/{binary}; {hint}")
    if map_name is not None:
        from pysc2 import maps  # map registry only: no protobuf, so this check works in any import order
        try:
            map_path = maps.get(map_name).path
        except maps.lib.NoMapError:
            raise UserError(f"pysc2 has no map {map_name!r} (its minigames: "
                            f"{', '.join(maps.mini_games.mini_games)})") from None
        if map_path and not (base / "Maps" / map_path).exists():
            raise UserError(f"map file {base / 'Maps' / map_path} is missing: download pysc2's mini_games "
                            f"maps into {base / 'Maps'} (SC2PATH={base})")
    return base


class Pysc2Backend:
    """One agent on a pysc2 map; `reset()`/`step(commands)` return `RawObs` like `envs.engine.Engine`."""

    def __init__(self, map_name: str, *, step_mul: int = 8, seed: int | None = None,
                 game_steps_per_episode: int = 0, visualize: bool = False, env=None,
                 raw_resolution: int = 64, sc2_env_cls=None):
        if env is None and sc2_env_cls is None:
            find_game(map_name)  # before importing pysc2: "no game" wins over any import-order problem
        self._pysc2 = pysc2_compat.import_pysc2()
        self._sc2_env_cls = sc2_env_cls or self._pysc2.sc2_env.SC2Env
        self.map_name = map_name
        self._seed = seed
        self._make_args = (map_name, step_mul, game_steps_per_episode, visualize, raw_resolution)
        self._owns_env = env is None
        if env is None:
            env = self._make_env(seed)
        self._attach(env)

    def _attach(self, env) -> None:
        self.env = env
        self._features = env._features[0]  # pysc2's own obs/action transformer for agent 0
        aif = self._features._agent_interface_format
        if not (aif.use_raw_units and aif.use_raw_actions):
            raise ValueError("Pysc2Backend needs an env with use_raw_units=True and use_raw_actions=True")
        self.max_selected_units = int(aif.max_selected_units)
        self.raw_resolution = (int(aif.raw_resolution.x), int(aif.raw_resolution.y))
        size = self._features.map_size
        self.map_size = (int(size.x), int(size.y))
        self._pixel = max(self.map_size) / np.asarray(self.raw_resolution, dtype=np.float64)  # world per px
        self._last: RawObs | None = None
        self._sent: list[tuple[int, int, frozenset[int]]] = []  # (command index, ability id, tags) sent
        self._rejected: list[tuple[int, str]] = []

    def _make_env(self, seed):
        p = self._pysc2
        map_name, step_mul, game_steps_per_episode, visualize, raw_resolution = self._make_args
        aif = p.features.AgentInterfaceFormat(
            use_raw_units=True, use_raw_actions=True, raw_resolution=raw_resolution,
            send_observation_proto=True)  # exact float positions, radii and player_result
        try:
            return self._sc2_env_cls(
                map_name=map_name, players=[p.sc2_env.Agent(p.sc2_env.Race.terran)],
                agent_interface_format=aif, step_mul=step_mul, random_seed=seed,
                game_steps_per_episode=game_steps_per_episode, visualize=visualize)
        except Exception as err:  # launch failures come as several pysc2/OS types; keep it one line
            raise UserError(f"could not start StarCraft II through pysc2 ({type(err).__name__}: {err}); "
                            f"check SC2PATH={os.environ.get('SC2PATH', '<unset>')}") from err

    # --- the Engine interface ------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> RawObs:
        """New episode. A new `seed` restarts the game with it (SC2 takes its seed at game creation);
        an injected env (tests) keeps its own seeding."""
        if seed is not None and seed != self._seed and self._owns_env:
            self.env.close()
            self._seed = seed
            self._attach(self._make_env(seed))
        self._sent, self._rejected = [], []
        return self._convert(self.env.reset()[0])

    def step(self, commands: Sequence[RawCommand]) -> RawObs:
        calls, self._sent, self._rejected = [], [], []
        raw_tags = self._features._raw_tags
        for index, command in enumerate(commands):
            try:
                call = to_function_call(command, raw_tags, self.raw_resolution, self.max_selected_units)
            except CommandRejected as err:
                self._rejected.append((index, str(err)))
                continue
            calls.append(call)
            ability = int(self._pysc2.actions.RAW_FUNCTIONS[call.function].ability_id)
            self._sent.append((index, ability, frozenset(int(t) for t in command.unit_tags)))
        if not calls:
            calls = [self._pysc2.actions.RAW_FUNCTIONS.no_op()]
        return self._convert(self.env.step([calls])[0])

    def close(self) -> None:
        self.env.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- pysc2 TimeStep -> RawObs ----------------------------------------------------------------------
    def _convert(self, timestep) -> RawObs:
        obs = timestep.observation
        raw_units = np.asarray(obs["raw_units"], dtype=np.int64).reshape(-1, NUM_UNIT_COLUMNS)
        proto = obs["_response_observation"]() if "_response_observation" in obs else self._last_proto()
        positions, radii = self._positions(raw_units, proto)
        results = list(self._rejected) + self._game_rejections(obs, proto)
        self._last = RawObs(
            raw_units=raw_units.copy(), positions=positions, radii=radii,
            player=np.asarray(obs["player"], dtype=np.int64).reshape(NUM_PLAYER_COLUMNS),
            game_loop=int(np.asarray(obs["game_loop"]).reshape(-1)[0]),
            score_cumulative=np.asarray(obs["score_cumulative"], dtype=np.int64).reshape(NUM_SCORE_COLUMNS),
            reward=float(timestep.reward or 0.0), done=bool(timestep.last()),
            outcome=self._outcome(proto), action_results=sorted(results), damage_dealt=_damage_dealt(obs),
        )
        return self._last

    def _last_proto(self):
        protos = getattr(self.env, "_obs", None)  # SC2Env keeps the last ResponseObservation per agent
        return protos[0] if protos and protos[0] is not None else None

    def _positions(self, raw_units: np.ndarray, proto) -> tuple[np.ndarray, np.ndarray]:
        units = list(proto.observation.raw_data.units) if proto is not None else []
        if len(units) == len(raw_units):  # same order: pysc2 builds raw_units row by row from this list
            positions = np.array([(u.pos.x, u.pos.y) for u in units], dtype=np.float64).reshape(-1, 2)
            radii = np.array([u.radius for u in units], dtype=np.float64)
            return positions, radii
        # Pixels only (cargo rows added, or no proto): pixel centres, y flip undone, map-size scaled.
        px = raw_units[:, [FeatureUnit.x, FeatureUnit.y]].astype(np.float64) + 0.5
        positions = px * self._pixel
        positions[:, 1] = self.map_size[1] - positions[:, 1]
        return positions, raw_units[:, FeatureUnit.radius].astype(np.float64) * self._pixel[0]

    @staticmethod
    def _outcome(proto) -> int:
        if proto is None:
            return 0
        me = proto.observation.player_common.player_id
        return next((_OUTCOME.get(r.result, 0) for r in proto.player_result if r.player_id == me), 0)

    def _game_rejections(self, obs, proto) -> list[tuple[int, str]]:
        """The game's action errors, each mapped back to the command that caused it (-1 if unknown)."""
        from s2clientprotocol import error_pb2

        def reason(code: int) -> str:
            try:
                return error_pb2.ActionResult.Name(int(code))
            except ValueError:
                return f"ActionResult {int(code)}"

        if proto is None:
            return [(-1, reason(code)) for code in np.asarray(obs["action_result"]).reshape(-1)]
        out = []
        for error in proto.action_errors:
            index = next((i for i, ability, tags in self._sent
                          if error.unit_tag in tags and error.ability_id in (ability, 0)), -1)
            out.append((index, reason(error.result)))
        return out

    @property
    def last_observation(self) -> RawObs | None:
        return self._last


def validate_commands(env, commands: Sequence[RawCommand]) -> None:
    """Raise `CommandRejected` (a ValueError) on the first command pysc2 would refuse or misread.

    `env` is a Pysc2Backend or a pysc2 env (SC2Env, SC2TestEnv) that has transformed an observation;
    tags are resolved against that last observation. Each command goes through pysc2's own
    `Features.transform_action`, and the resulting action proto is checked to name exactly the
    intended ability, units, target unit and a point on the map (pysc2 maps small tags to row
    indices and does not bound-check points, so a call can be accepted yet mean something else).
    """
    pysc2 = pysc2_compat.import_pysc2()
    env = env.env if isinstance(env, Pysc2Backend) else env
    features = env._features[0]
    aif = features._agent_interface_format
    resolution = (int(aif.raw_resolution.x), int(aif.raw_resolution.y))
    size = features.map_size
    for index, command in enumerate(commands):
        try:
            call = to_function_call(command, features._raw_tags, resolution, int(aif.max_selected_units))
            action = features.transform_action(None, call, skip_available=True)
        except CommandRejected as err:
            raise CommandRejected(f"command {index} {command}: {err}") from None
        except (ValueError, KeyError, TypeError) as err:
            raise CommandRejected(f"command {index} {command}: pysc2 refused it: {err}") from err
        function = pysc2.actions.RAW_FUNCTIONS[int(command.function)]
        if function.ability_id == 0:  # no_op, raw_move_camera: no unit command to compare
            continue
        sent = action.action_raw.unit_command
        problems = []
        if sent.ability_id != function.ability_id:
            problems.append(f"ability {sent.ability_id} != {function.ability_id}")
        if list(sent.unit_tags) != [int(t) for t in command.unit_tags]:
            problems.append(f"unit tags became {list(sent.unit_tags)}")
        if sent.queue_command != bool(command.queued):
            problems.append("queued flag lost")
        if isinstance(command.target, (tuple, list)):
            problems += world_point_check(sent.target_world_space_pos, (int(size.x), int(size.y)))
        elif command.target is not None and sent.target_unit_tag != int(command.target):
            problems.append(f"target tag became {sent.target_unit_tag}")
        if problems:
            raise CommandRejected(f"command {index} {command}: " + "; ".join(problems))


def _damage_dealt(obs) -> float:
    """Enemy hit points and shields removed this episode: pysc2's score_by_vital, row damage_dealt, columns
    life + shields (pysc2 lib/features.py ScoreByVital, ScoreVitals)."""
    if "score_by_vital" not in obs:
        return 0.0
    vital = np.asarray(obs["score_by_vital"], dtype=np.float64).reshape(3, 3)
    return float(vital[0, 0] + vital[0, 1])
