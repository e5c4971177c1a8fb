"""Raw pysc2-schema observation -> fixed-size entity observation, for every backend.

Slots: own units occupy slots 0..U-1 (ordered by tag, so a unit keeps its slot while it lives), padding
where there are fewer; the remaining N-U slots hold any further own units, then visible enemies nearest
the own units first, then neutrals nearest first. What does not fit is dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.action_space import ActionLayout, Verb
from envs.raw_schema import ABILITY_OF_FUNCTION, Alliance, RawFunction, RawObs
from envs.raw_schema import FeatureUnit as FU

# pysc2 unit-type ids given their own embedding row (lib/units.py; REFERENCE.md section 4). Index 0 is
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

ENTITY_FEATURES = (
    "is_own",  # alliance self or ally
    "is_enemy",
    "is_neutral",
    "health_ratio",  # 0..1
    "shield_ratio",  # 0..1
    "health",  # hit points / 100
    "shield",  # shield points / 100
    "x",  # world x, -1..1 over the map
    "y",  # world y, -1..1 over the map (y up, not pysc2's flipped pixel y)
    "dx_own",  # x minus the own units' centroid, / 16
    "dy_own",  # y minus the own units' centroid, / 16
    "radius",  # world radius
    "weapon_cooldown",  # game loops until the next shot / 32
    "has_order",
    "order_move",  # current order is a move (or smart)
    "order_attack",  # current order is an attack
)
NUM_ENTITY_FEATURES = len(ENTITY_FEATURES)

FEATURE_BOUND = 8.0  # features are clipped to [-8, 8]; all are O(1) by construction

SCALAR_FEATURES = (
    "time_fraction",  # game loop / the map's time limit
    "own_units",  # own unit count / U
    "enemy_units",  # visible enemy count / N
    "dropped",  # entities that did not fit / N
)
NUM_SCALAR_FEATURES = len(SCALAR_FEATURES)

_MOVE_ABILITIES = np.array([ABILITY_OF_FUNCTION[f] for f in (RawFunction.Move_pt, RawFunction.Smart_pt)])
_ATTACK_ABILITY = ABILITY_OF_FUNCTION[RawFunction.Attack_pt]


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

    def __post_init__(self):
        if not 1 <= self.max_units <= self.max_entities:
            raise ValueError(f"need 1 <= max_units ({self.max_units}) <= max_entities ({self.max_entities})")
        if self.grid_size < 1:
            raise ValueError(f"grid_size must be >= 1, got {self.grid_size}")

    @property
    def layout(self) -> ActionLayout:
        return ActionLayout(max_entities=self.max_entities, grid_size=self.grid_size)

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


def _order_rows(raw: RawObs, spec: EntitySpec) -> tuple[np.ndarray, np.ndarray, int]:
    """Row indices of raw_units for unit slots [U] (-1 = padding) and the other slots, and the drop count."""
    units = raw.raw_units
    alliance = units[:, FU.alliance]
    own = np.flatnonzero((alliance == Alliance.self) | (alliance == Alliance.ally))
    own = own[np.argsort(units[own, FU.tag], kind="stable")]
    pos = raw.positions
    anchor = pos[own] if len(own) else np.array([spec.map_size], dtype=np.float64) / 2.0

    def nearest_first(rows: np.ndarray) -> np.ndarray:
        if len(rows) < 2:
            return rows
        d = np.min(np.linalg.norm(pos[rows, None, :] - anchor[None, :, :], axis=-1), axis=1)
        return rows[np.argsort(d, kind="stable")]

    enemies = nearest_first(np.flatnonzero(alliance == Alliance.enemy))
    neutrals = nearest_first(np.flatnonzero(alliance == Alliance.neutral))
    U, N = spec.max_units, spec.max_entities
    unit_rows = np.full(U, -1, dtype=np.int64)
    unit_rows[: min(U, len(own))] = own[:U]
    rest = np.concatenate([own[U:], enemies, neutrals])
    kept = rest[: N - U]
    return unit_rows, kept, len(rest) - len(kept)


def featurize(raw: RawObs, spec: EntitySpec) -> tuple[dict[str, np.ndarray], SlotTags]:
    """Entity observation (the gymnasium Dict of `entity_env`) and the slot-to-tag bookkeeping."""
    U, N = spec.max_units, spec.max_entities
    unit_rows, other_rows, dropped = _order_rows(raw, spec)
    rows = np.concatenate([unit_rows, other_rows])
    slots = np.flatnonzero(rows >= 0)
    rows = rows[slots]
    units = raw.raw_units[rows]
    pos = raw.positions[rows]
    alliance = units[:, FU.alliance]
    own = (alliance == Alliance.self) | (alliance == Alliance.ally)

    centroid = pos[own].mean(axis=0) if own.any() else np.array(spec.map_size) / 2.0
    half = np.array(spec.map_size, dtype=np.float64) / 2.0
    order = units[:, FU.order_id_0]
    feats = np.stack(
        [
            own,
            alliance == Alliance.enemy,
            alliance == Alliance.neutral,
            units[:, FU.health_ratio] / 255.0,
            units[:, FU.shield_ratio] / 255.0,
            units[:, FU.health] / 100.0,
            units[:, FU.shield] / 100.0,
            (pos[:, 0] - half[0]) / half[0],
            (pos[:, 1] - half[1]) / half[1],
            (pos[:, 0] - centroid[0]) / 16.0,
            (pos[:, 1] - centroid[1]) / 16.0,
            raw.radii[rows],
            units[:, FU.weapon_cooldown] / 32.0,
            units[:, FU.order_length] > 0,
            np.isin(order, _MOVE_ABILITIES) & (units[:, FU.order_length] > 0),
            (order == _ATTACK_ABILITY) & (units[:, FU.order_length] > 0),
        ],
        axis=1,
    )

    entities = np.zeros((N, NUM_ENTITY_FEATURES), dtype=np.float32)
    entities[slots] = np.clip(feats, -FEATURE_BOUND, FEATURE_BOUND)
    unit_type = np.zeros(N, dtype=np.int64)
    unit_type[slots] = _TYPE_INDEX[np.clip(units[:, FU.unit_type], 0, len(_TYPE_INDEX) - 1)]
    entity_mask = np.zeros(N, dtype=np.int8)
    entity_mask[slots] = 1
    is_enemy = np.zeros(N, dtype=np.int8)
    is_enemy[slots] = alliance == Alliance.enemy
    tags = np.zeros(N, dtype=np.int64)
    tags[slots] = units[:, FU.tag]

    num_enemies = int(np.count_nonzero(raw.raw_units[:, FU.alliance] == Alliance.enemy))
    scalars = np.array(
        [
            min(raw.game_loop / spec.time_limit_loops, 1.0),
            np.count_nonzero(unit_rows >= 0) / U,
            num_enemies / N,
            dropped / N,
        ],
        dtype=np.float32,
    ).clip(0.0, FEATURE_BOUND)
    obs = {
        "entities": entities,
        "unit_type": unit_type,
        "entity_mask": entity_mask,
        "scalars": scalars,
        "action_mask": action_mask(entity_mask[:U].astype(bool), entity_mask, is_enemy, spec.layout),
    }
    return obs, SlotTags(tags=tags, num_dropped=dropped)


def action_mask(unit_present: np.ndarray, entity_mask: np.ndarray, is_enemy: np.ndarray,
                layout: ActionLayout) -> np.ndarray:
    """[U, A] legality: absent units may only no-op; present units may stop, move to any other entity,
    attack visible enemies, and move or attack-move to any cell."""
    U = len(unit_present)
    row = np.zeros(layout.num_actions, dtype=np.int8)
    for seg in layout.segments:
        span = slice(seg.start, seg.start + seg.size)
        if seg.verb == Verb.MOVE_ENTITY:
            row[span] = entity_mask
        elif seg.verb == Verb.ATTACK_ENTITY:
            row[span] = is_enemy
        else:
            row[span] = 1
    mask = np.where(unit_present[:, None], row[None, :], 0).astype(np.int8)
    move = layout.segment(Verb.MOVE_ENTITY).start
    mask[np.arange(U), move + np.arange(U)] = 0  # a unit cannot move to itself
    mask[:, 0] = 1  # no-op is always legal
    return mask
