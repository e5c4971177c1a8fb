"""Raw pysc2-schema observation -> fixed-size entity observation, for every backend.

Slots. Own units (alliance self or ally) that act hold the action slots 0..U-1 (structures that train
nothing, a Supply Depot or a Refinery, have no verb and hold none): a unit keeps its slot for as
long as it is in the observation; one that is gone frees its slot (left empty, where only the no-op is
legal), and own units without a slot take the lowest free slots in tag order. The assignment is per
game, kept across the steps of an episode in an `envs.unit_memory.UnitMemory` and cleared on reset.
Slots U..N-1 hold, in this order: the visible enemies nearest first, the neutrals nearest first
(distance to the nearest own unit, or to the map centre when there is none), then the own units that
got no action slot (they cannot act), in tag order, then the own structures that train nothing. What
does not fit is dropped and counted: those structures first, then own units without an action slot
(highest tags first), then neutrals, then enemies (farthest first).

Features: `EntitySpec.entity_features` per slot (padding is all zero), `EntitySpec.scalar_features` per
game: `ENTITY_FEATURES` and `SCALAR_FEATURES` on the combat maps; the economy maps' one-hot of the last
verb covers their verbs too, and their economy columns and scalars follow (`envs.economy_kernels`); on a
map with fog one scalar per point-target cell follows, the game time since an own unit last saw the
cell's centre over the time limit (1: not seen this episode). The columns after the first 16 and the
cell scalars come from what the env commanded and observed (`envs.unit_memory`), so they need no
backend support.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from envs.action_space import ECONOMY_VERBS, ActionLayout, Verb, layout_verbs
from envs.economy_kernels import BUILT_AT_CELL, ECONOMY_COLUMNS, ECONOMY_SCALARS, FOOTPRINT
from envs.entity_kernels import ORDER_ATTACK, ORDER_MOVE, featurize_batch, num_columns, passive_types
from envs.raw_schema import ATTACK_ORDERS, MOVE_ORDERS, NUM_PLAYER_COLUMNS, NUM_UNIT_COLUMNS, OrderId, RawObs
from envs.unit_memory import UnitMemory

# pysc2 unit-type ids (pysc2/lib/units.py) given their own embedding row. Index 0 is
# the padding slot and the last index the "other" bucket for any id not listed, so new units never
# raise an index error. Beacon and shard ids are the engine's (unverified against the game).
KNOWN_UNIT_TYPES = (
    48,  # Marine
    51,  # Marauder
    45,  # SCV
    105,  # Zergling
    9,  # Baneling
    110,  # Roach
    107,  # Hydralisk
    74,  # Stalker
    73,  # Zealot
    18,  # CommandCenter
    19,  # SupplyDepot
    20,  # Refinery
    21,  # Barracks
    341,  # MineralField
    342,  # VespeneGeyser
    1680,  # mineral shard (CollectMineralShards), unverified
    317,  # beacon (MoveToBeacon), unverified
)
NUM_UNIT_TYPES = len(KNOWN_UNIT_TYPES) + 2  # + padding + other
OTHER_UNIT_TYPE = NUM_UNIT_TYPES - 1
_TYPE_INDEX = np.full(4096, OTHER_UNIT_TYPE, dtype=np.int64)
_TYPE_INDEX[list(KNOWN_UNIT_TYPES)] = np.arange(1, len(KNOWN_UNIT_TYPES) + 1)

# What each raw_units order id does (entity_kernels.ORDER_MOVE / ORDER_ATTACK, 0 for anything else): the
# generic ids and the specific ones the game reports both count.
_ORDER_KIND = np.zeros(max(OrderId) + 1, np.int8)
_ORDER_KIND[list(MOVE_ORDERS)] = ORDER_MOVE
_ORDER_KIND[list(ATTACK_ORDERS)] = ORDER_ATTACK

def entity_features(economy: bool) -> tuple[str, ...]:
    """The entity feature columns, in the order entity_kernels.featurize_batch writes them."""
    verbs = tuple(f"last_{verb.name.lower()}" for verb in layout_verbs(economy))
    names = _SHARED_FEATURES[:16] + verbs + _SHARED_FEATURES[16:]
    return names + ECONOMY_COLUMNS if economy else names


_SHARED_FEATURES = (
    "is_own",  # alliance self or ally
    "is_enemy",
    "is_neutral",
    "health_ratio",  # 0..1
    "shield_ratio",  # 0..1
    "health",  # hit points / 100
    "shield",  # shield points / 100
    "x",  # world x, -1..1 over the map
    "y",  # world y, -1..1 over the map (y up, not pysc2's flipped pixel y)
    "dx_own",  # x minus the own units' centroid, / 16 (entity_kernels.OFFSET_SCALE)
    "dy_own",  # y minus the own units' centroid, / 16
    "radius",  # world radius
    "weapon_cooldown",  # game loops until the next shot / 32
    "has_order",
    "order_move",  # current order is a move (or smart)
    "order_attack",  # current order is an attack
    # What the env commanded (`envs.unit_memory`), for the own units in slots 0..U-1, else 0 (after a
    # one-hot over the layout's verbs of the unit's previous action, `entity_features`):
    "order_dx",  # the unit's current order's target (the entity while visible, else the point) minus
    "order_dy",  # the unit's position, / 16; 0 without an order given by the env (raw order_length 0 ends it)
    "targeted_by",  # for every entity: own units whose orders (current or queued) target it, / U
    "queued_moves",  # moves queued behind the unit's current order / unit_memory.QUEUE_LIMIT
    "end_dx",  # where the unit's last order (queued or current) aims minus its position, / 16; 0 without
    "end_dy",  # an order
)
ENTITY_FEATURES = entity_features(economy=False)  # the combat maps'
NUM_ENTITY_FEATURES = len(ENTITY_FEATURES)
for _economy in (False, True):
    assert len(entity_features(_economy)) == num_columns(len(layout_verbs(_economy)), _economy), \
        "entity_features must name every column the kernel writes"

FEATURE_BOUND = 8.0  # features are clipped to [-8, 8]; all are O(1) by construction

SCALAR_FEATURES = (  # order as written by entity_kernels.featurize_batch
    "time_fraction",  # game loop / the map's time limit
    "own_units",  # own unit count / U
    "enemy_units",  # visible enemy count / N
    "dropped",  # entities that did not fit / N
)
NUM_SCALAR_FEATURES = len(SCALAR_FEATURES)


def fog_cell_count(fog: bool, grid_size: int) -> int:
    """Point-target cells whose time since seen is observed: all of them on a map with fog, else 0."""
    return grid_size ** 2 if fog else 0


def scalar_features(economy: bool, fog_cells: int = 0) -> tuple[str, ...]:
    """The scalar features of an economy map or not, with `fog_cells` cells on a map with fog (else 0)."""
    names = SCALAR_FEATURES + ECONOMY_SCALARS if economy else SCALAR_FEATURES
    return names + tuple(f"unseen_cell_{k}" for k in range(fog_cells))


@dataclass(frozen=True)
class EntitySpec:
    """Everything that fixes the shape and geometry of the entity observation and action space."""

    max_entities: int  # N entity slots
    max_units: int  # U own units that act
    grid_size: int  # point targets: grid_size x grid_size cells over the playable area
    playable: tuple[float, float, float, float]  # world x0, y0, x1, y1
    time_limit_loops: int
    map_size: tuple[int, int] = (64, 64)
    raw_resolution: int = 64
    # the economy verbs the map allows (their layout and features exist only when it allows any)
    economy_verbs: tuple[Verb, ...] = ()
    unit_commands: bool = True  # whether the map allows stop, move and attack (MapSpec.unit_commands)
    fog: bool = False  # enemies out of the own units' sight are hidden (MapSpec.fog)

    def __post_init__(self):
        if not 1 <= self.max_units <= self.max_entities:
            raise ValueError(f"need 1 <= max_units ({self.max_units}) <= max_entities ({self.max_entities})")
        if self.grid_size < 1:
            raise ValueError(f"grid_size must be >= 1, got {self.grid_size}")

    @property
    def economy(self) -> bool:
        return bool(self.economy_verbs)

    @cached_property
    def layout(self) -> ActionLayout:
        return ActionLayout(max_entities=self.max_entities, grid_size=self.grid_size, economy=self.economy)

    @property
    def entity_features(self) -> tuple[str, ...]:
        return entity_features(self.economy)

    @property
    def fog_cells(self) -> int:
        return fog_cell_count(self.fog, self.grid_size)

    @property
    def scalar_features(self) -> tuple[str, ...]:
        return scalar_features(self.economy, self.fog_cells)

    @cached_property
    def kernel_params(self) -> tuple[np.ndarray, np.ndarray]:
        """The constants `entity_kernels.featurize_batch` reads, packed once per spec."""
        layout = self.layout
        starts = [layout.segment(v).start for v in (Verb.MOVE_ENTITY, Verb.ATTACK_ENTITY, Verb.MOVE_POINT)]
        allowed = sum(1 << (v - Verb.GATHER) for v in self.economy_verbs)
        economy = [layout.segment(v).start if self.economy else 0 for v in ECONOMY_VERBS]
        ints = [self.max_units, *starts, layout.num_actions, len(layout.verbs), int(self.economy), allowed,
                *economy, int(self.unit_commands), layout.segment(Verb.QUEUE_MOVE_ENTITY).start]
        floats = [*self.map_size, self.time_limit_loops, FEATURE_BOUND, *self.playable]
        return np.array(ints, np.int64), np.array(floats, np.float64)

    def target_pixels(self) -> np.ndarray:
        """[G, 2] the raw point sent for each cell: the centre of the raw pixel holding the cell's centre
        (pysc2 floors a raw point to its pixel and hands the game that pixel's centre: lib/features.py
        transform_action, lib/transform.py PixelToCoord)."""
        return np.floor(world_to_raw(self.cell_centres(), self)) + 0.5

    @cached_property
    def passive_types(self) -> np.ndarray:
        """By pysc2 unit type id: the own units that take no action slot (`entity_kernels.passive_types`)."""
        return passive_types(self.unit_commands, self.economy_verbs)

    @cached_property
    def build_sites(self) -> np.ndarray:
        """[3, G, 2] where the game places each cell build's structure (BUILT_AT_CELL): the world point of
        the cell's raw target, snapped to the structure's footprint on the placement grid (a footprint of
        odd size centres on a cell, an even one on a grid line)."""
        w, h = self.map_size
        px, py = self.target_pixels().T
        world = np.stack([px * w / self.raw_resolution, h - py * h / self.raw_resolution], axis=-1)
        sites = np.zeros((3, len(world), 2))
        for k, typ in enumerate(BUILT_AT_CELL):
            for axis in (0, 1):
                odd = FOOTPRINT[typ, axis] % 2 == 1
                v = world[:, axis]
                sites[k, :, axis] = np.floor(v) + 0.5 if odd else np.floor(v + 0.5)
        return sites

    def cell_centres(self) -> np.ndarray:
        """World (x, y) of every point-target cell, row-major from the lowest x and y: [G, 2]."""
        x0, y0, x1, y1 = self.playable
        g = self.grid_size
        xs = x0 + (np.arange(g) + 0.5) * (x1 - x0) / g
        ys = y0 + (np.arange(g) + 0.5) * (y1 - y0) / g
        gy, gx = np.meshgrid(ys, xs, indexing="ij")
        return np.stack([gx.ravel(), gy.ravel()], axis=1)


@dataclass
class SlotTags:
    """What `translate` needs from the observation the actions were chosen on."""

    tags: np.ndarray  # int64 [N], 0 for padding
    num_dropped: int


def new_memory(spec: EntitySpec, num_games: int = 1) -> UnitMemory:
    """Empty per-game memory (slots, last actions, orders, cells seen) for `num_games` games of this spec."""
    return UnitMemory(num_games, spec.max_units, spec.max_entities, spec.fog_cells)


def world_to_raw(xy: np.ndarray, spec: EntitySpec) -> np.ndarray:
    """World (x, y) -> pysc2 raw pixel coordinates (y flipped, scaled to raw_resolution)."""
    w, h = spec.map_size
    res = spec.raw_resolution
    return np.stack([xy[..., 0] * res / w, (h - xy[..., 1]) * res / h], axis=-1)


def featurize(raw: RawObs, spec: EntitySpec, memory: UnitMemory | None = None,
              ) -> tuple[dict[str, np.ndarray], SlotTags]:
    """Entity observation (the gymnasium Dict of `entity_env`) and the slot-to-tag bookkeeping.

    `memory` (one game's) carries the slots and the commanded orders from the previous observation of
    the same episode and is updated in place; without it, `raw` is featurized as an episode's first."""
    memory = new_memory(spec) if memory is None else memory
    n = len(raw.raw_units)
    obs = empty_observation(spec, batch=1)
    tags = np.zeros((1, spec.max_entities), np.int64)
    scratch = np.array([n, raw.game_loop, 0])  # count, game loop, dropped (out)
    player = np.zeros((1, NUM_PLAYER_COLUMNS), np.int64)
    player[0, : len(raw.player)] = raw.player
    featurize_batch(raw.raw_units.reshape(1, n, NUM_UNIT_COLUMNS), raw.positions.reshape(1, n, 2),
                    raw.radii.reshape(1, n), scratch[0:1], scratch[1:2], player, *featurize_tables(spec),
                    memory.arrays(), obs["entities"], obs["unit_type"], obs["entity_mask"], obs["scalars"],
                    obs["action_mask"], tags, scratch[2:3])
    return {k: v[0] for k, v in obs.items()}, SlotTags(tags=tags[0], num_dropped=int(scratch[2]))


def empty_observation(spec: EntitySpec, batch: int, zeroed: bool = True) -> dict[str, np.ndarray]:
    """Observation arrays for `batch` games, in the dtypes of the observation space (unzeroed for the
    featurize kernel, which writes every element)."""
    N, U, A = spec.max_entities, spec.max_units, spec.layout.num_actions
    new = np.zeros if zeroed else np.empty
    return {
        "entities": new((batch, N, len(spec.entity_features)), np.float32),
        "unit_type": new((batch, N), np.int64),
        "entity_mask": new((batch, N), np.int8),
        "scalars": new((batch, len(spec.scalar_features)), np.float32),
        "action_mask": new((batch, U, A), np.int8),
    }


def featurize_tables(spec: EntitySpec) -> tuple[np.ndarray, ...]:
    """The constant inputs of `entity_kernels.featurize_batch`: int params, float params, unit-type index,
    order kind of each order id, build sites, the unit types that take no action slot."""
    int_params, float_params = spec.kernel_params
    return int_params, float_params, _TYPE_INDEX, _ORDER_KIND, spec.build_sites, spec.passive_types

