"""The gymnasium env every policy talks to: entity observations and per-unit actions over either backend.

    import gymnasium as gym, envs
    env = gym.make("perceiver_sc2/DefeatRoaches-v0", max_entities=32, enemy_bot="idle")

Observation (Dict): entities [N, F] float32 (columns: `EntitySpec.entity_features`), unit_type [N]
(an index into `envs.featurize.KNOWN_UNIT_TYPES`, 0 = padding, last = other), entity_mask [N],
scalars [S] (`EntitySpec.scalar_features`), action_mask [U, A]. Action: MultiDiscrete([A] * U), the joint
(verb, target) of each own unit (`envs.action_space`). Own units occupy slots 0..U-1 and keep their
slot while they live (`envs.featurize` has the slot rules). The economy maps (CollectMineralsAndGas,
BuildMarines) add the economy's verbs, entity columns and scalars; the combat maps' spaces are as ever.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.action_space import Verb
from envs.economy_kernels import SUPPLY_PROVIDED
from envs.engine import ENEMY_BOTS, BatchedEngine, MapSpec, map_spec
from envs.engine.economy_data import COST, PRODUCER, PRODUCT, SUPPLY_DEPOT
from envs.engine.engine import REASONS
from envs.engine.maps import LOOPS_PER_GAME_SECOND
from envs.engine.state import TRAIN_MARINE, TRAIN_SCV
from envs.engine.units import UNIT_TYPES
from envs.engine_bridge import (
    BANKED,
    DAMAGE_DEALT,
    DONE,
    FIRST_OF_TYPE_WORTH,
    IDLE_WORKERS,
    OUTCOME,
    PRODUCTION_WORTH,
    REWARD,
    SCORE,
    EngineBridge,
    depots_worth_paying,
)
from envs.errors import UserError
from envs.featurize import FEATURE_BOUND, NUM_UNIT_TYPES, EntitySpec, featurize, new_memory
from envs.raw_schema import Alliance, RawFunction, RawObs
from envs.raw_schema import FeatureUnit as FU
from envs.raw_schema import Player as PL
from envs.translate import Translator


@dataclass(frozen=True)
class EntityCaps:
    max_entities: int  # N entity slots: own units first, then enemies and neutrals
    max_units: int  # U own units that act


# Caps sized to each map's largest plausible unit count (pysc2 docs/mini_games.md; SMAC's smac_maps.py,
# Samvelyan et al. 2019). DefeatRoaches/Banelings gain 5/4 Marines a wave, so U covers two waves of
# survivors; further Marines still appear as entities but cannot be ordered. A map of the engine's
# registry without an entry here gets `default_caps`.
ENTITY_CAPS = {
    "MoveToBeacon": EntityCaps(max_entities=4, max_units=1),
    "CollectMineralShards": EntityCaps(max_entities=24, max_units=2),
    "FindAndDefeatZerglings": EntityCaps(max_entities=32, max_units=3),
    "DefeatRoaches": EntityCaps(max_entities=32, max_units=20),
    "DefeatZerglingsAndBanelings": EntityCaps(max_entities=40, max_units=20),
    "3m": EntityCaps(max_entities=8, max_units=3),
    "8m": EntityCaps(max_entities=16, max_units=8),
    "2s3z": EntityCaps(max_entities=12, max_units=5),
    "3s5z": EntityCaps(max_entities=16, max_units=8),
    "27m_vs_30m": EntityCaps(max_entities=57, max_units=27),
    # the large battles: every unit an entity (AlphaStar's encoder takes up to 512), every own unit acts
    "bio_vs_zerg_128": EntityCaps(max_entities=256, max_units=128),
    "bio_vs_zerg_250": EntityCaps(max_entities=500, max_units=250),
    # the economy maps: the resources, the start's 12 SCVs and Command Center, and room for the SCVs and
    # structures sensible play adds (the units that act and the structures that train hold action slots;
    # BuildMarines' Marines beyond U do not need to act)
    "CollectMineralsAndGas": EntityCaps(max_entities=64, max_units=40),
    "BuildMarines": EntityCaps(max_entities=64, max_units=40),
}
# pysc2 RAW_FUNCTIONS name of each economy verb: a map allows the verbs of the functions it allows
_ECONOMY_FUNCTION = {
    Verb.GATHER: RawFunction.Harvest_Gather_unit, Verb.RETURN: RawFunction.Harvest_Return_quick,
    Verb.BUILD_SUPPLY_DEPOT: RawFunction.Build_SupplyDepot_pt,
    Verb.BUILD_BARRACKS: RawFunction.Build_Barracks_pt,
    Verb.BUILD_COMMAND_CENTER: RawFunction.Build_CommandCenter_pt,
    Verb.BUILD_REFINERY: RawFunction.Build_Refinery_pt, Verb.TRAIN_SCV: RawFunction.Train_SCV_quick,
    Verb.TRAIN_MARINE: RawFunction.Train_Marine_quick,
}
BACKENDS = ("engine", "pysc2")


def default_caps(game: MapSpec) -> EntityCaps:
    """Caps for a map without an ENTITY_CAPS entry: a slot for every unit the map can hold at once, and
    an acting slot for every own unit it starts with."""
    own = sum(count for _, count in game.agent)
    return EntityCaps(max_entities=max(game.max_units, own, 1), max_units=max(own, 1))


def entity_spec(map_name: str, *, max_entities: int | None = None, max_units: int | None = None,
                grid_size: int = 8) -> EntitySpec:
    """The observation/action geometry of `map_name` with the map's caps unless overridden; a map must be in
    the engine's registry (`envs.engine.MAP_NAMES` or `ECONOMY_MAP_NAMES`), whichever backend plays it."""
    game = map_spec(map_name)
    caps = ENTITY_CAPS.get(map_name) or default_caps(game)
    try:
        return EntitySpec(
            max_entities=caps.max_entities if max_entities is None else int(max_entities),
            max_units=caps.max_units if max_units is None else int(max_units),
            grid_size=int(grid_size),
            playable=tuple(game.playable),
            time_limit_loops=int(game.time_limit_s * LOOPS_PER_GAME_SECOND),
            map_size=tuple(game.map_size),
            economy_verbs=tuple(v for v, f in _ECONOMY_FUNCTION.items() if f.name in game.econ_functions),
            unit_commands=game.unit_commands,
            fog=game.fog,
        )
    except ValueError as err:
        raise UserError(f"bad entity settings for {map_name}: {err}") from None


def observation_space(spec: EntitySpec) -> spaces.Dict:
    N, U, A = spec.max_entities, spec.max_units, spec.layout.num_actions
    F, S = len(spec.entity_features), len(spec.scalar_features)
    return spaces.Dict(
        {
            "entities": spaces.Box(-FEATURE_BOUND, FEATURE_BOUND, (N, F), np.float32),
            "unit_type": spaces.Box(0, NUM_UNIT_TYPES - 1, (N,), np.int64),
            "entity_mask": spaces.Box(0, 1, (N,), np.int8),
            "scalars": spaces.Box(0.0, FEATURE_BOUND, (S,), np.float32),
            "action_mask": spaces.Box(0, 1, (U, A), np.int8),
        }
    )


def action_space(spec: EntitySpec) -> spaces.MultiDiscrete:
    return spaces.MultiDiscrete(np.full(spec.max_units, spec.layout.num_actions, dtype=np.int64))


# a unit type's PRODUCTION_WORTH and FIRST_OF_TYPE_WORTH by its pysc2 id (0 for the types the economy
# does not build)
_WORTH_OF_SC2_ID = {u.sc2_id: float(PRODUCTION_WORTH[k]) for k, u in enumerate(UNIT_TYPES)}
_FIRST_WORTH_OF_SC2_ID = {u.sc2_id: float(FIRST_OF_TYPE_WORTH[k]) for k, u in enumerate(UNIT_TYPES)}
_DEPOT_SC2_ID = UNIT_TYPES[SUPPLY_DEPOT].sc2_id
# a production structure's pysc2 id -> the PRODUCTION_WORTH of the one unit the verbs train there
_QUEUED_WORTH_OF_SC2_ID = {UNIT_TYPES[PRODUCER[kind]].sc2_id: float(PRODUCTION_WORTH[PRODUCT[kind]])
                           for kind in (TRAIN_SCV, TRAIN_MARINE)}


def value_bought(raw: RawObs) -> float:
    """What the player has paid for, in minerals and gas: its own units and the units queued for training
    (paid when queued) at `PRODUCTION_WORTH`, each structure type it owns, begun or finished, at the
    `FIRST_OF_TYPE_WORTH` of its first, and its Supply Depots at their price as `depots_worth_paying`
    counts them. The engine path computes the same in envs/engine_bridge.py."""
    own = raw.raw_units[raw.raw_units[:, FU.alliance] == Alliance.self]
    types, queued = own[:, FU.unit_type].tolist(), own[:, FU.order_length].tolist()
    units = sum(_WORTH_OF_SC2_ID.get(t, 0) + n * _QUEUED_WORTH_OF_SC2_ID.get(t, 0)
                for t, n in zip(types, queued, strict=True))
    other = own[(own[:, FU.build_progress] == 100) & (own[:, FU.unit_type] != _DEPOT_SC2_ID), FU.unit_type]
    other_cap = int(SUPPLY_PROVIDED[other[other < len(SUPPLY_PROVIDED)]].sum())
    depots = int((own[:, FU.unit_type] == _DEPOT_SC2_ID).sum())
    paid_depots = depots_worth_paying(depots, int(raw.player[PL.food_used]), other_cap)
    return float(units + sum(_FIRST_WORTH_OF_SC2_ID.get(t, 0) for t in set(types))
                 + COST[SUPPLY_DEPOT] * paid_depots)


def step_info(score: float, dropped: int, illegal: int, rejected: int, done: bool, outcome: int,
              withheld: int = 0) -> dict:
    """The info of one step: raw score, entities dropped, illegal actions, rejected commands, actions
    withheld for want of minerals (the economy maps: envs/economy_kernels.py), win/loss."""
    info = {"score": float(score), "dropped": int(dropped), "illegal_actions": int(illegal),
            "rejected_commands": int(rejected), "withheld_actions": int(withheld)}
    if done and outcome != 0:
        info["won"] = outcome == 1
    return info


def check_enemy_bot(enemy_bot: str | None) -> None:
    """A UserError naming the known bots unless `enemy_bot` is one of them (None: the map's own)."""
    if enemy_bot is not None and enemy_bot not in ENEMY_BOTS:
        raise UserError(f"unknown enemy bot {enemy_bot!r}; known bots: {', '.join(ENEMY_BOTS)}")


class _EngineGame:
    """The engine backend: one game stepped through `EngineBridge` (the vector env's compiled path)."""

    def __init__(self, spec: EntitySpec, map_name: str, seed: int, step_mul: int, enemy_bot: str | None):
        self.engine = BatchedEngine(map_name, 1, [seed], step_mul=step_mul, enemy_bot=enemy_bot)
        self.bridge = EngineBridge(spec, self.engine)
        self._stepped = False

    def reset(self, seed: int | None) -> tuple[dict, dict]:
        self.bridge.reset_game(0, seed)
        self._stepped = False
        obs, _, _, info = self._result(self.bridge.observe(), 0, 0)
        return obs, info

    def step(self, action) -> tuple[dict, float, bool, dict]:
        bridge = self.bridge
        obs = bridge.step(np.asarray(action).reshape(1, -1))  # the method: a fraction of np.reshape's cost
        self._stepped = True
        return self._result(obs, int(bridge.illegal[0]), int(bridge.rejected[0]), int(bridge.withheld[0]))

    def _result(self, obs: dict, illegal: int, rejected: int, withheld: int = 0):
        reward, done, outcome, score = self.bridge.status[0, [REWARD, DONE, OUTCOME, SCORE]].tolist()
        info = step_info(score, int(self.bridge.dropped[0]), illegal, rejected, done == 1, int(outcome),
                         withheld)
        return {k: v[0] for k, v in obs.items()}, reward, done == 1, info

    @property
    def last_raw(self) -> RawObs:
        results = self.bridge.last_commands.results.tolist() if self._stepped else []
        return self.engine.observation(0, [(k, REASONS.get(code, f"rejected ({code})"))
                                           for k, code in enumerate(results) if code])

    @property
    def slot_tags(self) -> np.ndarray:
        return self.bridge.tags[0]

    @property
    def damage_dealt(self) -> float:
        return float(self.bridge.status[0, DAMAGE_DEALT])

    @property
    def idle_workers(self) -> int:
        return int(self.bridge.status[0, IDLE_WORKERS])

    @property
    def resources_banked(self) -> float:
        return float(self.bridge.status[0, BANKED])

    @property
    def value_bought(self) -> float:
        return float(self.bridge.values_bought()[0])

    def close(self):
        pass


class _RawCommandGame:
    """Any backend that plays RawCommand lists and returns RawObs (the pysc2 backend)."""

    def __init__(self, spec: EntitySpec, backend):
        self.spec, self.backend = spec, backend
        self._translate = Translator(spec)
        self._memory = new_memory(spec)
        self.last_raw: RawObs | None = None
        self._obs = self._slots = None

    def reset(self, seed: int | None) -> tuple[dict, dict]:
        self._memory.clear()
        obs, _, _, info = self._observe(self.backend.reset(seed=seed), 0)
        return obs, info

    def step(self, action) -> tuple[dict, float, bool, dict]:
        action, withheld = self._translate.affordable(action, self.last_raw)
        commands, illegal = self._translate(action, self._obs["action_mask"], self._slots, self._memory)
        return self._observe(self.backend.step(commands), illegal, withheld)

    def _observe(self, raw: RawObs, illegal: int, withheld: int = 0):
        self.last_raw = raw
        self._obs, self._slots = featurize(raw, self.spec, self._memory)
        info = step_info(raw.score_cumulative[0], self._slots.num_dropped, illegal, len(raw.action_results),
                         raw.done, raw.outcome, withheld)
        return self._obs, float(raw.reward), bool(raw.done), info

    @property
    def slot_tags(self) -> np.ndarray:
        return self._slots.tags

    @property
    def damage_dealt(self) -> float:
        return self.last_raw.damage_dealt

    @property
    def idle_workers(self) -> int:
        return int(self.last_raw.player[PL.idle_worker_count])

    @property
    def resources_banked(self) -> float:
        return float(self.last_raw.player[PL.minerals] + self.last_raw.player[PL.vespene])

    @property
    def value_bought(self) -> float:
        return value_bought(self.last_raw)

    def close(self):
        if hasattr(self.backend, "close"):
            self.backend.close()


def make_game(spec: EntitySpec, map_name: str, backend: str, *, step_mul: int, enemy_bot: str | None,
              seed: int, sc2_env_cls=None):
    if backend == "engine":
        if sc2_env_cls is not None:
            raise ValueError("sc2_env_cls stands in for pysc2's SC2Env: it needs backend='pysc2'")
        return _EngineGame(spec, map_name, seed, step_mul, enemy_bot)
    if backend == "pysc2":
        if enemy_bot not in (None, "idle"):
            raise UserError("the pysc2 backend plays the maps' own (idle) enemies; drop --enemy-bot")
        from envs.pysc2_backend import Pysc2Backend

        return _RawCommandGame(spec, Pysc2Backend(map_name, step_mul=step_mul, seed=seed,
                                                  sc2_env_cls=sc2_env_cls))
    raise UserError(f"unknown backend {backend!r}; known backends: {', '.join(BACKENDS)}")


class EntityEnv(gym.Env):
    """One game as a gymnasium env. `sc2_env_cls` (pysc2 backend only) replaces pysc2's SC2Env class, which
    it must mimic (same constructor arguments); tests pass pysc2's `mock_sc2_env.SC2TestEnv`."""

    metadata = {"render_modes": []}

    def __init__(self, map_name: str, *, backend: str = "engine", max_entities: int | None = None,
                 max_units: int | None = None, enemy_bot: str | None = None, step_mul: int = 8,
                 grid_size: int = 8, sc2_env_cls=None):
        self.map_name = map_name
        self.entity_spec = entity_spec(
            map_name, max_entities=max_entities, max_units=max_units, grid_size=grid_size
        )
        self.layout = self.entity_spec.layout
        self.observation_space = observation_space(self.entity_spec)
        self.action_space = action_space(self.entity_spec)
        check_enemy_bot(enemy_bot)
        self._game_args = dict(backend=backend, step_mul=step_mul, enemy_bot=enemy_bot,
                               sc2_env_cls=sc2_env_cls)
        self._game = None
        self._stepped = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self._game is None:
            # Unseeded: draw the game's seed from the env's own (randomly seeded) generator.
            first_seed = seed if seed is not None else int(self.np_random.integers(2**31))
            self._game = make_game(self.entity_spec, self.map_name, seed=first_seed, **self._game_args)
            seed = None  # the game starts from first_seed
        self._stepped = True
        return self._game.reset(seed)

    def step(self, action):
        if not self._stepped:
            raise RuntimeError("call reset() before step()")
        obs, reward, done, info = self._game.step(action)
        return obs, reward, done, False, info

    @property
    def last_raw(self) -> RawObs | None:
        """The latest raw observation (pysc2's schema) the entity observation was made from."""
        return None if self._game is None else self._game.last_raw

    @property
    def slot_tags(self) -> np.ndarray:
        """Raw unit tag of each entity slot in the latest observation (0 = padding)."""
        return self._game.slot_tags

    @property
    def damage_dealt(self) -> float:
        """Enemy hit points and shields the own units have removed since the game (re)started."""
        return self._game.damage_dealt

    @property
    def idle_workers(self) -> int:
        """Own workers without an order (the player vector's idle_worker_count)."""
        return self._game.idle_workers

    @property
    def resources_banked(self) -> float:
        """The player's minerals and gas in the bank (what the workers brought home, less what was spent)."""
        return self._game.resources_banked

    @property
    def value_bought(self) -> float:
        """What the player has paid for (`value_bought`)."""
        return self._game.value_bought

    def close(self):
        if self._game is not None:
            self._game.close()
        self._game = None
        self._stepped = False
