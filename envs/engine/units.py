"""The unit table: one row per unit type, turned into the type tables the numba kernels index by type.

Stats are the game's own, at "normal" game speed, as dumped from the game data in BurnySc2/sc2-techtree
(data/data.json): speeds in world units and weapon cooldowns in seconds of game time. A game second is 16
game loops (pysc2 docs/environment.md: "16 steps = 1 second of game time"), so at load time speed per
loop = speed / 16 and cooldown loops = cooldown * 16 (the Marine's 0.8608 s: 13.77 loops). Wiki figures
quoted at "faster" speed convert by its factor 1.4 (speed x 1.4, cooldown / 1.4: the Marine's 3.15 and
0.61 s).
Weapon and targeting figures the dump lacks (scan range, target priority) are the game's own XML data as
mirrored in SC2Mapster/SC2GameData (patch 5.0.14; mods/core.sc2mod holds the defaults, later mods
override them, mods/balancemulti.sc2mod last): "GameData <file>" below names the file.
Adding a unit (or a building or resource for economy maps) is one more `UnitType` row.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

LOOPS_PER_GAME_SECOND = 16  # pysc2 docs/environment.md: 16 game steps (loops) = 1 second of game time


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
    """One unit type: game data at normal speed (per game second), distances in world units."""

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
    cooldown: float = 0.0  # game seconds between attacks (the weapon's period)
    speed: float = 0.0  # world units per game second
    radius: float = 0.5
    sight: float = 9.0
    splash: float = 0.0  # splash radius from the attacker's centre to the victim's edge (Baneling)
    attr: int = 0
    flags: int = Flag.GROUND
    supply: float = 0.0
    # the weapon's MinScanRange: an idle or attack-moving unit acquires targets this far (edge to edge) or
    # within its range if longer (GameData WeaponData.xml: CWeapon default 5)
    scan_range: float = 5.0
    priority: int = 20  # AttackTargetPriority: targets of higher priority are acquired first (UnitData.xml)
    life_regen: float = 0.0  # hit points per game second (UnitData.xml LifeRegenRate)
    shield_regen: float = 0.0  # shield points per game second (UnitData.xml ShieldRegenRate) ...
    shield_regen_delay: float = 0.0  # ... this many game seconds after the last damage (ShieldRegenDelay)
    damage_point: float = 0.167  # game seconds from an attack's start to its shot (DamagePoint)
    missile_speed: float = 0.0  # world units per game second of the shot's missile, 0: hits at once
    point_blank: float = 0.0  # a target this close (edge to edge) is hit at once, without a missile


# Plain ints for the numba kernels (they read flags as compile-time constants).
FLAG_GROUND, FLAG_SUICIDE = int(Flag.GROUND), int(Flag.SUICIDE)
FLAG_MARKER, FLAG_STRUCTURE = int(Flag.NEUTRAL_MARKER), int(Flag.STRUCTURE)

_L, _A, _B, _M = Attr.LIGHT, Attr.ARMORED, Attr.BIOLOGICAL, Attr.MECHANICAL

# Combat units: every figure from BurnySc2/sc2-techtree data/data.json (max_health, max_shield, armor,
# weapons[0]: damage_per_hit, bonuses, attacks, range, cooldown; speed, radius, sight, attributes, supply)
# except the Baneling's attack, which the dump lists as no weapon: its VolatileBurst effect (16 damage,
# +19 vs Light, radius 2.2) is the game's EffectData (SC2Mapster/SC2GameData, mods/balancemulti.sc2mod).
# The dump writes the game's fixed-point values: 0.10009765625 is melee range 0.1.
MELEE = 0.10009765625
# Scan ranges: GameData WeaponData.xml (GuassRifle, NeedleSpines 5.5; PunisherGrenades,
# ParticleDisruptors 6.5; the others keep the default 5). Priorities: GameData UnitData.xml (20 for every
# unit here, 11 for structures). Regeneration: GameData UnitData.xml: Zerg units 0.2734 hit points per game
# second; Protoss shields 2 per game second after 10 game seconds without damage (Liquipedia "Plasma
# Shield" quotes the same rule). Damage points: GameData WeaponData.xml (GuassRifle 0.05, NeedleSpines
# 0.14; PsiBlades, PunisherGrenades, VolatileBurst 0; the others the CWeapon default 0.167). Missile speeds:
# GameData MoverData.xml (AcidSalivaWeapon and StalkerWeapon 18.75, NeedleSpinesWeapon 40,
# PunisherGrenadesWeapon 20); the Roach's and Hydralisk's melee weapons (RoachMelee, HydraliskMelee,
# range 0.5) hit at once.
ZERG_REGEN = 0.2734
PROTOSS_SHIELDS = {"shield_regen": 2.0, "shield_regen_delay": 10.0}
UNIT_TYPES: tuple[UnitType, ...] = (
    UnitType("Marine", 48, 45, damage=6, range=5, cooldown=0.86083984375, speed=2.25, radius=0.375, sight=9,
             attr=_L | _B, supply=1, scan_range=5.5, damage_point=0.05),
    UnitType("Marauder", 51, 125, armor=1, damage=10, bonus=10, bonus_attr=_A, range=6, cooldown=1.5,
             speed=2.25, radius=0.5625, sight=10, attr=_A | _B, supply=2, scan_range=6.5, damage_point=0.0,
             missile_speed=20.0),
    UnitType("SCV", 45, 45, damage=5, range=MELEE, cooldown=1.5, speed=2.8125, radius=0.375, sight=8,
             attr=_L | _B | _M, supply=1),
    UnitType("Zergling", 105, 35, damage=5, range=MELEE, cooldown=0.696044921875, speed=2.953125,
             radius=0.375, sight=8, attr=_L | _B, supply=0.5, life_regen=ZERG_REGEN),
    UnitType("Baneling", 9, 30, damage=16, bonus=19, bonus_attr=_L, range=0.25, speed=2.5, radius=0.375,
             sight=8, splash=2.2, attr=_B, flags=Flag.GROUND | Flag.SUICIDE, supply=0.5,
             life_regen=ZERG_REGEN, damage_point=0.0),
    UnitType("Roach", 110, 145, armor=1, damage=16, range=4, cooldown=2.0, speed=2.25, radius=0.5, sight=9,
             attr=_A | _B, supply=2, life_regen=ZERG_REGEN, missile_speed=18.75, point_blank=0.5),
    UnitType("Hydralisk", 107, 90, damage=12, range=5, cooldown=0.824951171875, speed=2.25, radius=0.625,
             sight=9, attr=_L | _B, supply=2, scan_range=5.5, life_regen=ZERG_REGEN, damage_point=0.14,
             missile_speed=40.0, point_blank=0.5),
    UnitType("Stalker", 74, 80, shield=80, armor=1, damage=13, bonus=5, bonus_attr=_A, range=6,
             cooldown=1.8701171875, speed=2.953125, radius=0.625, sight=10, attr=_A | _M, supply=2,
             scan_range=6.5, missile_speed=18.75, **PROTOSS_SHIELDS),
    UnitType("Zealot", 73, 100, shield=50, armor=1, damage=8, attacks=2, range=MELEE, cooldown=1.199951171875,
             speed=2.25, radius=0.5, sight=9, attr=_L | _B, supply=2, damage_point=0.0, **PROTOSS_SHIELDS),
    # Neutral markers of the minigames: unit-type ids and the shard radius *unverified*; the beacon's
    # radius 1.25 is the MoveToBeacon map script's.
    UnitType("Beacon", 317, 0, radius=1.25, sight=0, flags=Flag.NEUTRAL_MARKER, priority=0),
    UnitType("MineralShard", 1680, 0, radius=0.5, sight=0, flags=Flag.NEUTRAL_MARKER, priority=0),
    # Economy-map types (ids: pysc2 lib/units.py); radii and HP *unverified*, not used by any map yet.
    UnitType("MineralField", 341, 0, radius=1.125, sight=0, flags=Flag.STRUCTURE | Flag.RESOURCE, priority=0),
    UnitType("VespeneGeyser", 342, 0, radius=1.8125, sight=0, flags=Flag.STRUCTURE | Flag.RESOURCE,
             priority=0),
    UnitType("CommandCenter", 18, 1500, armor=1, radius=2.75, sight=11, attr=_A | Attr.STRUCTURE,
             flags=Flag.STRUCTURE, priority=11),
    UnitType("SupplyDepot", 19, 400, armor=1, radius=1.375, sight=9, attr=_A | Attr.STRUCTURE,
             flags=Flag.STRUCTURE, priority=11),
    UnitType("Refinery", 20, 500, armor=1, radius=1.75, sight=9, attr=_A | Attr.STRUCTURE,
             flags=Flag.STRUCTURE, priority=11),
    UnitType("Barracks", 21, 1000, armor=1, radius=1.8125, sight=9, attr=_A | Attr.STRUCTURE,
             flags=Flag.STRUCTURE, priority=11),
)

UNIT_INDEX: dict[str, int] = {u.name: i for i, u in enumerate(UNIT_TYPES)}

# Columns of the type float table type_f[type, :]: distances in world units, SPEED in world units per loop,
# WEAPON_COOLDOWN in loops; SCAN_RANGE = max(range, scan_range) for armed types, 0 for the unarmed
# LIFE_REGEN, SHIELD_REGEN, MISSILE_SPEED per loop, SHIELD_REGEN_DELAY, DAMAGE_POINT in loops
MAX_HEALTH, MAX_SHIELD, ARMOR, DAMAGE, BONUS_DAMAGE, RANGE, WEAPON_COOLDOWN, SPEED, RADIUS, SIGHT, SPLASH, \
    SUPPLY, SCAN_RANGE, LIFE_REGEN, SHIELD_REGEN, SHIELD_REGEN_DELAY, DAMAGE_POINT, MISSILE_SPEED, \
    POINT_BLANK = range(19)
NUM_TYPE_FLOATS = 19
# Columns of the type int table type_i[type, :]: ATTRIBUTES, BONUS_ATTRIBUTES are `Attr` bits, FLAGS `Flag`
SC2_ID, ATTRIBUTES, BONUS_ATTRIBUTES, ATTACKS, FLAGS, TARGET_PRIORITY = range(6)
NUM_TYPE_INTS = 6


def build_tables() -> tuple[np.ndarray, np.ndarray]:
    """Return (type_f float64 [T, NUM_TYPE_FLOATS], type_i int64 [T, NUM_TYPE_INTS]), in game loops."""
    tf = np.zeros((len(UNIT_TYPES), NUM_TYPE_FLOATS), np.float64)
    ti = np.zeros((len(UNIT_TYPES), NUM_TYPE_INTS), np.int64)
    for k, u in enumerate(UNIT_TYPES):
        scan = max(u.range, u.scan_range) if u.damage > 0 else 0.0
        per_loop = 1.0 / LOOPS_PER_GAME_SECOND
        tf[k] = (u.hp, u.shield, u.armor, u.damage, u.bonus, u.range, u.cooldown * LOOPS_PER_GAME_SECOND,
                 u.speed * per_loop, u.radius, u.sight, u.splash, u.supply, scan, u.life_regen * per_loop,
                 u.shield_regen * per_loop, u.shield_regen_delay * LOOPS_PER_GAME_SECOND,
                 u.damage_point * LOOPS_PER_GAME_SECOND, u.missile_speed * per_loop, u.point_blank)
        ti[k] = (u.sc2_id, int(u.attr), int(u.bonus_attr), u.attacks, int(u.flags), u.priority)
    return tf, ti
