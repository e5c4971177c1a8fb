"""The gymnasium env every policy talks to: entity observations and per-unit actions over either backend.

    import gymnasium as gym, envs
    env = gym.make("perceiver_sc2/DefeatRoaches-v0", max_entities=32, enemy_bot="idle")

Observation (Dict): entities [N, F] float32 (columns: `envs.featurize.ENTITY_FEATURES`), unit_type [N]
(an index into `envs.featurize.KNOWN_UNIT_TYPES`, 0 = padding, last = other), entity_mask [N],
scalars [S] (`SCALAR_FEATURES`), action_mask [U, A]. Action: MultiDiscrete([A] * U), the joint
(verb, target) of each own unit (`envs.action_space`). Own units occupy slots 0..U-1.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.errors import UserError
from envs.featurize import (
    FEATURE_BOUND,
    NUM_ENTITY_FEATURES,
    NUM_SCALAR_FEATURES,
    NUM_UNIT_TYPES,
    EntitySpec,
    featurize,
)
from envs.raw_schema import RawObs
from envs.translate import Translator

LOOPS_PER_GAME_SECOND = 16  # REFERENCE.md section 1: minigame timers count "normal" seconds


@dataclass(frozen=True)
class MapDefaults:
    max_entities: int
    max_units: int


# Entity caps sized to each map's largest plausible unit count (REFERENCE.md section 2): own units
# first, then enemies and neutrals. DefeatRoaches/Banelings gain 5/4 Marines a wave, so U covers
# two waves of survivors; further Marines still appear as entities but cannot be ordered.
MAP_DEFAULTS = {
    "MoveToBeacon": MapDefaults(max_entities=4, max_units=1),
    "CollectMineralShards": MapDefaults(max_entities=24, max_units=2),
    "FindAndDefeatZerglings": MapDefaults(max_entities=32, max_units=3),
    "DefeatRoaches": MapDefaults(max_entities=32, max_units=20),
    "DefeatZerglingsAndBanelings": MapDefaults(max_entities=40, max_units=20),
    "3m": MapDefaults(max_entities=8, max_units=3),
    "2s3z": MapDefaults(max_entities=12, max_units=5),
}
BACKENDS = ("engine", "pysc2")


def entity_spec(map_name: str, *, max_entities: int | None = None, max_units: int | None = None,
                grid_size: int = 8) -> EntitySpec:
    """The observation/action geometry of `map_name` with the map's default caps unless overridden."""
    from envs.engine import map_spec

    if map_name not in MAP_DEFAULTS:
        raise UserError(f"unknown map {map_name!r}; known maps: {', '.join(MAP_DEFAULTS)}")
    defaults = MAP_DEFAULTS[map_name]
    game = map_spec(map_name)
    try:
        return EntitySpec(
            max_entities=defaults.max_entities if max_entities is None else int(max_entities),
            max_units=defaults.max_units if max_units is None else int(max_units),
            grid_size=int(grid_size),
            playable=tuple(game.playable),
            time_limit_loops=int(game.time_limit_s * LOOPS_PER_GAME_SECOND),
            map_size=tuple(game.map_size),
        )
    except ValueError as err:
        raise UserError(f"bad entity settings for {map_name}: {err}") from None


def observation_space(spec: EntitySpec) -> spaces.Dict:
    N, U, A = spec.max_entities, spec.max_units, spec.layout.num_actions
    return spaces.Dict(
        {
            "entities": spaces.Box(-FEATURE_BOUND, FEATURE_BOUND, (N, NUM_ENTITY_FEATURES), np.float32),
            "unit_type": spaces.Box(0, NUM_UNIT_TYPES - 1, (N,), np.int64),
            "entity_mask": spaces.Box(0, 1, (N,), np.int8),
            "scalars": spaces.Box(0.0, FEATURE_BOUND, (NUM_SCALAR_FEATURES,), np.float32),
            "action_mask": spaces.Box(0, 1, (U, A), np.int8),
        }
    )


def action_space(spec: EntitySpec) -> spaces.MultiDiscrete:
    return spaces.MultiDiscrete(np.full(spec.max_units, spec.layout.num_actions, dtype=np.int64))


def step_info(raw: RawObs, num_dropped: int, num_illegal: int) -> dict:
    """The info of one step: raw score, entities dropped, illegal actions, rejected commands, win/loss."""
    info = {
        "score": float(raw.score_cumulative[0]),
        "dropped": num_dropped,
        "illegal_actions": num_illegal,
        "rejected_commands": len(raw.action_results),
    }
    if raw.done and raw.outcome != 0:
        info["won"] = raw.outcome == 1
    return info


def make_backend(map_name: str, backend: str, *, step_mul: int, enemy_bot: str | None, seed: int | None):
    if backend == "engine":
        from envs.engine import ENEMY_BOTS, Engine

        if enemy_bot is not None and enemy_bot not in ENEMY_BOTS:
            raise UserError(f"unknown enemy bot {enemy_bot!r}; known bots: {', '.join(ENEMY_BOTS)}")
        kwargs = {} if enemy_bot is None else {"enemy_bot": enemy_bot}
        return Engine(map_name, seed=seed, step_mul=step_mul, **kwargs)
    if backend == "pysc2":
        if enemy_bot not in (None, "idle"):
            raise UserError("the pysc2 backend plays the maps' own (idle) enemies; drop --enemy-bot")
        from envs.pysc2_backend import Pysc2Backend

        return Pysc2Backend(map_name, step_mul=step_mul, seed=seed)
    raise UserError(f"unknown backend {backend!r}; known backends: {', '.join(BACKENDS)}")


class EntityEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, map_name: str, *, backend: str = "engine", max_entities: int | None = None,
                 max_units: int | None = None, enemy_bot: str | None = None, step_mul: int = 8,
                 grid_size: int = 8):
        self.map_name = map_name
        self.entity_spec = entity_spec(
            map_name, max_entities=max_entities, max_units=max_units, grid_size=grid_size
        )
        self.layout = self.entity_spec.layout
        self.observation_space = observation_space(self.entity_spec)
        self.action_space = action_space(self.entity_spec)
        self._translate = Translator(self.entity_spec)
        self._backend_args = dict(backend=backend, step_mul=step_mul, enemy_bot=enemy_bot)
        self._backend = None
        self._obs = self._slots = None
        self.last_raw: RawObs | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self._backend is None:
            # Unseeded: draw the game's seed from the env's own (randomly seeded) generator.
            first_seed = seed if seed is not None else int(self.np_random.integers(2**31))
            self._backend = make_backend(self.map_name, seed=first_seed, **self._backend_args)
            raw = self._backend.reset()
        else:
            raw = self._backend.reset(seed=seed)
        return self._observe(raw), step_info(raw, self._slots.num_dropped, 0)

    def step(self, action):
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        commands, illegal = self._translate(action, self._obs["action_mask"], self._slots)
        raw = self._backend.step(commands)
        obs = self._observe(raw)
        return obs, float(raw.reward), bool(raw.done), False, step_info(raw, self._slots.num_dropped, illegal)

    def _observe(self, raw: RawObs) -> dict:
        self.last_raw = raw
        self._obs, self._slots = featurize(raw, self.entity_spec)
        return self._obs

    @property
    def slot_tags(self) -> np.ndarray:
        """Raw unit tag of each entity slot in the latest observation (0 = padding)."""
        return self._slots.tags

    def close(self):
        if self._backend is not None and hasattr(self._backend, "close"):
            self._backend.close()
        self._backend = None
