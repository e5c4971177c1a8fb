"""The unit table: one row per unit type, turned into the type tables the numba kernels index by type.

Stats are StarCraft II "faster" values as Liquipedia's unit pages quote them, converted to game loops at
load time: the faster game speed runs 22.4 game loops per real second, so speed per loop = speed / 22.4
and cooldown loops = cooldown_s * 22.4.
Adding a unit (or a building or resource for economy maps) is one more `UnitType` row.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

LOOPS_PER_FASTER_SECOND = 22.4  # 16 loops per game second x the "faster" speed's 1.4 game seconds per second


class Attr(enum.IntFlag):
    """Unit attributes as bit flags (bonus damage keys on them)."""

    LIGHT = 1
    ARMORED = 2
    BIOLOGICAL = 4
    MECHANICAL = 8
    STRUCTURE = 16


class Flag(enum.IntFlag):
    """Behaviour flags."""

    GROUND = 1  # collides with other ground units
    SUICIDE = 2  # dies when it attacks (Baneling)
    NEUTRAL_MARKER = 4  # beacon / shard: no collision, cannot be damaged
    STRUCTURE = 8  # does not move
    RESOURCE = 16  # mineral field / geyser (economy maps)


@dataclass(frozen=True)
class UnitType:
    """One unit type. Speeds and cooldowns at "faster" speed, distances in world units."""

    name: str
    sc2_id: int  # pysc2 lib/units.py id, written to raw_units[:, unit_type]
    hp: float
    shield: float = 0.0
    armor: float = 0.0
    damage: float = 0.0  # per attack; 0 = no weapon
    bonus: float = 0.0  # extra damage against `bonus_attr`
    bonus_attr: int = 0
    attacks: int = 1  # hits per attack (Zealot 2)
    range: float = 0.0  # edge to edge
    cooldown_s: float = 0.0
    speed: float = 0.0
    radius: float = 0.5
    sight: float = 9.0
    splash: float = 0.0  # splash radius from the attacker's centre to the victim's edge (Baneling)
    attr: int = 0
    flags: int = Flag.GROUND
    supply: float = 0.0


# Plain ints for the numba kernels (they read flags as compile-time constants).
FLAG_GROUND, FLAG_SUICIDE = int(Flag.GROUND), int(Flag.SUICIDE)
FLAG_MARKER, FLAG_STRUCTURE = int(Flag.NEUTRAL_MARKER), int(Flag.STRUCTURE)

_L, _A, _B, _M = Attr.LIGHT, Attr.ARMORED, Attr.BIOLOGICAL, Attr.MECHANICAL

# Combat stats: Liquipedia's unit pages (faster speed). Radii and sight radii: the game data as dumped in
# BurnySc2/sc2-techtree data/data.json. Supply: the same dump, not used in combat.
UNIT_TYPES: tuple[UnitType, ...] = (
    UnitType("Marine", 48, 45, damage=6, range=5, cooldown_s=0.61, speed=3.15, radius=0.375, sight=9,
             attr=_L | _B, supply=1),
    UnitType("Marauder", 51, 125, armor=1, damage=10, bonus=10, bonus_attr=_A, range=6, cooldown_s=1.07,
             speed=3.15, radius=0.5625, sight=10, attr=_A | _B, supply=2),
    # SCV weapon stats *unverified*.
    UnitType("SCV", 45, 45, damage=5, range=0.1, cooldown_s=1.07, speed=3.94, radius=0.375, sight=8,
             attr=_L | _B | _M, supply=1),
    UnitType("Zergling", 105, 35, damage=5, range=0.1, cooldown_s=0.497, speed=4.13, radius=0.375, sight=8,
             attr=_L | _B, supply=0.5),
    UnitType("Baneling", 9, 30, damage=16, bonus=19, bonus_attr=_L, range=0.25, cooldown_s=0.0, speed=3.5,
             radius=0.375, sight=8, splash=2.2, attr=_B, flags=Flag.GROUND | Flag.SUICIDE, supply=0.5),
    UnitType("Roach", 110, 145, armor=1, damage=16, range=4, cooldown_s=1.43, speed=3.15, radius=0.5, sight=9,
             attr=_A | _B, supply=2),
    UnitType("Hydralisk", 107, 90, damage=12, range=5, cooldown_s=0.59, speed=3.15, radius=0.625, sight=9,
             attr=_L | _B, supply=2),
    UnitType("Stalker", 74, 80, shield=80, armor=1, damage=13, bonus=5, bonus_attr=_A, range=6,
             cooldown_s=1.34, speed=4.13, radius=0.625, sight=10, attr=_A | _M, supply=2),
    UnitType("Zealot", 73, 100, shield=50, armor=1, damage=8, attacks=2, range=0.1, cooldown_s=0.86,
             speed=3.15, radius=0.5, sight=9, attr=_L | _B, supply=2),
    # Neutral markers of the minigames: unit-type ids and the shard radius *unverified*; the beacon's
    # radius 1.25 is the MoveToBeacon map script's.
    UnitType("Beacon", 317, 0, radius=1.25, sight=0, flags=Flag.NEUTRAL_MARKER),
    UnitType("MineralShard", 1680, 0, radius=0.5, sight=0, flags=Flag.NEUTRAL_MARKER),
    # Economy-map types (ids: pysc2 lib/units.py); radii and HP *unverified*, not used by any map yet.
    UnitType("MineralField", 341, 0, radius=1.125, sight=0, flags=Flag.STRUCTURE | Flag.RESOURCE),
    UnitType("VespeneGeyser", 342, 0, radius=1.8125, sight=0, flags=Flag.STRUCTURE | Flag.RESOURCE),
    UnitType("CommandCenter", 18, 1500, armor=1, radius=2.75, sight=11, attr=_A | Attr.STRUCTURE,
             flags=Flag.STRUCTURE),
    UnitType("SupplyDepot", 19, 400, armor=1, radius=1.375, sight=9, attr=_A | Attr.STRUCTURE,
             flags=Flag.STRUCTURE),
    UnitType("Refinery", 20, 500, armor=1, radius=1.75, sight=9, attr=_A | Attr.STRUCTURE,
             flags=Flag.STRUCTURE),
    UnitType("Barracks", 21, 1000, armor=1, radius=1.8125, sight=9, attr=_A | Attr.STRUCTURE,
             flags=Flag.STRUCTURE),
)

UNIT_INDEX: dict[str, int] = {u.name: i for i, u in enumerate(UNIT_TYPES)}

# Columns of the type float table type_f[type, :]: distances in world units, SPEED in world units per loop,
# WEAPON_COOLDOWN in loops
MAX_HEALTH, MAX_SHIELD, ARMOR, DAMAGE, BONUS_DAMAGE, RANGE, WEAPON_COOLDOWN, SPEED, RADIUS, SIGHT, SPLASH, \
    SUPPLY = range(12)
NUM_TYPE_FLOATS = 12
# Columns of the type int table type_i[type, :]: ATTRIBUTES, BONUS_ATTRIBUTES are `Attr` bits, FLAGS `Flag`
SC2_ID, ATTRIBUTES, BONUS_ATTRIBUTES, ATTACKS, FLAGS = range(5)
NUM_TYPE_INTS = 5


def build_tables() -> tuple[np.ndarray, np.ndarray]:
    """Return (type_f float64 [T, NUM_TYPE_FLOATS], type_i int64 [T, NUM_TYPE_INTS]), in game loops."""
    tf = np.zeros((len(UNIT_TYPES), NUM_TYPE_FLOATS), np.float64)
    ti = np.zeros((len(UNIT_TYPES), NUM_TYPE_INTS), np.int64)
    for k, u in enumerate(UNIT_TYPES):
        tf[k] = (u.hp, u.shield, u.armor, u.damage, u.bonus, u.range, u.cooldown_s * LOOPS_PER_FASTER_SECOND,
                 u.speed / LOOPS_PER_FASTER_SECOND, u.radius, u.sight, u.splash, u.supply)
        ti[k] = (u.sc2_id, int(u.attr), int(u.bonus_attr), u.attacks, int(u.flags))
    return tf, ti
