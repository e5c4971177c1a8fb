"""Numba kernel writing one game's raw observation in pysc2's schema into the batch buffers.

Follows pysc2 4.0.0 `features.py` (`full_unit_vec`, raw path): floats are truncated to int64, x/y are
pixels at raw_resolution 64 on the 64x64 map with y flipped, ratios are int(value / max * 255),
build_progress is 100 for finished units, and weapon cooldown and orders are given for own units only
(the game does not report them for enemies). is_on_screen is 1 for every listed unit (no camera model).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from envs.engine.combat import pop_order
from envs.engine.economy_data import ECONOMY_ORDER_IDS
from envs.engine.economy_obs import economy_player, economy_row
from envs.engine.jit import kernel
from envs.engine.lookup import valid_unit
from envs.engine.maps import FOG, MAP_HEIGHT, RULES, RULES_ECONOMY
from envs.engine.state import (
    ALIVE,
    ATTACK_UNIT,
    COOLDOWN,
    FACING_X,
    FACING_Y,
    HEALTH,
    KIND,
    MOVE_UNIT,
    NUM_ORDERS,
    NUM_SLOTS,
    OWNER,
    OWNER_AGENT,
    OWNER_ENEMY,
    RELOCATIONS,
    SCORE,
    SCORE_UNITS,
    SHIELD,
    TAG,
    TARGET,
    TARGET_RELOCATIONS,
    TARGET_TAG,
    TYPE,
    X,
    Y,
)
from envs.engine.units import MAX_HEALTH, MAX_SHIELD, RADIUS, SC2_ID, SIGHT, SUPPLY
from envs.raw_schema import FeatureUnit as FU
from envs.raw_schema import OrderId
from envs.raw_schema import Player as PL

# FeatureUnit columns as plain ints (compile-time constants for numba)
C_TYPE, C_ALLIANCE, C_HEALTH, C_SHIELD = int(FU.unit_type), int(FU.alliance), int(FU.health), int(FU.shield)
C_BUILD, C_HRATIO, C_SRATIO = int(FU.build_progress), int(FU.health_ratio), int(FU.shield_ratio)
C_DISPLAY, C_OWNER, C_X, C_Y = int(FU.display_type), int(FU.owner), int(FU.x), int(FU.y)
C_FACING, C_RADIUS, C_CLOAK = int(FU.facing), int(FU.radius), int(FU.cloak)
C_WCD, C_NORD, C_TAG, C_ACTIVE, C_ONSCREEN = (int(FU.weapon_cooldown), int(FU.order_length), int(FU.tag),
                                              int(FU.active), int(FU.is_on_screen))
C_ORDERS = (int(FU.order_id_0), int(FU.order_id_1), int(FU.order_id_2), int(FU.order_id_3))
P_ID, P_FOOD_USED, P_FOOD_CAP, P_FOOD_ARMY, P_ARMY = (int(PL.player_id), int(PL.food_used), int(PL.food_cap),
                                                      int(PL.food_army), int(PL.army_count))
ALLIANCE_OF_OWNER_AGENT, ALLIANCE_NEUTRAL, ALLIANCE_ENEMY = 1, 3, 4  # pysc2 PlayerRelative
CLOAK_NOT_CLOAKED = 3  # s2clientprotocol CloakState.NotCloaked
DISPLAY_VISIBLE = 1  # s2clientprotocol DisplayType.Visible
FOOD_CAP = 200  # SC2's supply ceiling; the minigames' real cap is not modelled (*unverified*)

# raw_units order_id values per order kind (state.NO_ORDER, MOVE_POINT, MOVE_UNIT, ATTACK_POINT,
# ATTACK_UNIT, HOLD_POSITION): the specific abilities the game reports for these orders, as pysc2 numbers
# them (raw_schema.OrderId).
ORDER_FUNC_ID = (0, int(OrderId.Move_Move), int(OrderId.Move_Move), int(OrderId.Attack_Attack),
                 int(OrderId.Attack_Attack), int(OrderId.HoldPosition_Hold)) + tuple(
    ECONOMY_ORDER_IDS[k] for k in sorted(ECONOMY_ORDER_IDS))  # the economy's kinds follow (state.GATHER ...)


class RawBuffers(NamedTuple):
    """Every game's latest raw observation: rows [B, M, ...] of which the first counts[g] are valid."""

    units: np.ndarray  # int64 [B, M, 46], pysc2 FeatureUnit columns
    positions: np.ndarray  # float64 [B, M, 2], world x, y
    radii: np.ndarray  # float64 [B, M]
    counts: np.ndarray  # int64 [B]
    player: np.ndarray  # int64 [B, NUM_PLAYER_COLUMNS]
    score: np.ndarray  # int64 [B, NUM_SCORE_COLUMNS]


@kernel
def visible_to(state, tables, g, v, viewer):
    """True if unit v lies within the sight radius (centre to centre) of a living unit of `viewer`."""
    uf, ui = state.unit_f, state.unit_i
    for a in range(state.game[g, NUM_SLOTS]):
        if ui[g, a, ALIVE] == 1 and ui[g, a, OWNER] == viewer:
            s = tables.type_f[ui[g, a, TYPE], SIGHT]
            dx = uf[g, a, X] - uf[g, v, X]
            dy = uf[g, a, Y] - uf[g, v, Y]
            if dx * dx + dy * dy <= s * s:
                return True
    return False


@kernel
def prune_orders(state, g):
    """End current orders whose target died, vanished or jumped, so the observation shows it at once
    (a unit would drop them itself when it next acts)."""
    ui, oi = state.unit_i, state.order_i
    for u in range(state.game[g, NUM_SLOTS]):
        while ui[g, u, ALIVE] == 1 and ui[g, u, NUM_ORDERS] > 0:
            kind = oi[g, u, 0, KIND]
            if kind != MOVE_UNIT and kind != ATTACK_UNIT:
                break
            t = oi[g, u, 0, TARGET]
            if valid_unit(state, g, t, oi[g, u, 0, TARGET_TAG]) and (
                    kind == ATTACK_UNIT or ui[g, t, RELOCATIONS] == oi[g, u, 0, TARGET_RELOCATIONS]):
                break
            pop_order(state, g, u)


@kernel
def write_obs(state, tables, g, out):
    """Game g's raw observation into row g of the `RawBuffers` `out`."""
    prune_orders(state, g)
    uf, ui, tf, oi = state.unit_f, state.unit_i, tables.type_f, state.order_i
    fog = tables.map_i[FOG] == 1
    economy = tables.map_i[RULES] == RULES_ECONOMY
    map_h = tables.map_f[MAP_HEIGHT]
    n = 0
    food = 0.0
    army = 0
    for u in range(state.game[g, NUM_SLOTS]):
        if ui[g, u, ALIVE] == 0:
            continue
        owner = ui[g, u, OWNER]
        if owner == OWNER_ENEMY and fog and not visible_to(state, tables, g, u, OWNER_AGENT):
            continue
        t = ui[g, u, TYPE]
        row = out.units[g, n]
        row[:] = 0
        hp, sh = uf[g, u, HEALTH], uf[g, u, SHIELD]
        hp_max, sh_max = tf[t, MAX_HEALTH], tf[t, MAX_SHIELD]
        x, y = uf[g, u, X], uf[g, u, Y]
        row[C_TYPE] = tables.type_i[t, SC2_ID]
        row[C_HEALTH] = int(hp)
        row[C_SHIELD] = int(sh)
        row[C_BUILD] = 100
        row[C_HRATIO] = int(hp / hp_max * 255.0) if hp_max > 0.0 else 0
        row[C_SRATIO] = int(sh / sh_max * 255.0) if sh_max > 0.0 else 0
        row[C_DISPLAY] = DISPLAY_VISIBLE
        row[C_OWNER] = owner
        row[C_X] = int(math.floor(x))
        row[C_Y] = int(math.floor(map_h - y))
        f = math.atan2(uf[g, u, FACING_Y], uf[g, u, FACING_X])  # radians in [0, 2 pi), truncated like pysc2
        row[C_FACING] = int(f + 2.0 * math.pi if f < 0.0 else f)
        row[C_RADIUS] = int(tf[t, RADIUS])
        row[C_CLOAK] = CLOAK_NOT_CLOAKED
        row[C_TAG] = ui[g, u, TAG]
        row[C_ONSCREEN] = 1
        if owner == OWNER_AGENT:
            row[C_ALLIANCE] = ALLIANCE_OF_OWNER_AGENT
            row[C_WCD] = int(uf[g, u, COOLDOWN])
            nord = ui[g, u, NUM_ORDERS]
            row[C_NORD] = nord
            row[C_ACTIVE] = 1 if nord > 0 else 0
            for k in range(min(nord, 4)):
                row[C_ORDERS[k]] = ORDER_FUNC_ID[oi[g, u, k, KIND]]
            food += tf[t, SUPPLY]
            army += 1
        elif owner == OWNER_ENEMY:
            row[C_ALLIANCE] = ALLIANCE_ENEMY
        else:
            row[C_ALLIANCE] = ALLIANCE_NEUTRAL
        if economy:  # build progress, contents, harvesters, production (economy_obs.py)
            economy_row(state, g, u, row)
        out.positions[g, n, 0] = x
        out.positions[g, n, 1] = y
        out.radii[g, n] = tf[t, RADIUS]
        n += 1
    out.counts[g] = n
    player = out.player
    player[g, :] = 0
    player[g, P_ID] = 1
    player[g, P_FOOD_USED] = int(math.ceil(food))
    player[g, P_FOOD_ARMY] = int(math.ceil(food))
    player[g, P_FOOD_CAP] = FOOD_CAP
    player[g, P_ARMY] = army
    out.score[g, :] = 0
    out.score[g, 0] = round(state.game[g, SCORE] / SCORE_UNITS)  # whole on pysc2's maps, not SMAC's
    if economy:  # minerals, gas, supply, idle workers (economy_obs.py)
        economy_player(state, g, player[g], out.score[g])
