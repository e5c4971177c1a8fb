"""Numba kernel writing one game's raw observation in pysc2's schema into the batch buffers.

Follows pysc2 4.0.0 `features.py` (`full_unit_vec`, raw path): floats are truncated to int64, x/y are
pixels at raw_resolution 64 on the 64x64 map with y flipped, ratios are int(value / max * 255),
build_progress is 100 for finished units, and weapon cooldown and orders are given for own units only
(the game does not report them for enemies). is_on_screen is 1 for every listed unit (no camera model).
"""

from __future__ import annotations

import math

from numba import njit

from envs.engine import layout as L
from envs.engine import units as U
from envs.engine.combat import pop_order, valid_unit
from envs.raw_schema import FeatureUnit as FU
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
ORDER_FUNC_ID = L.ORDER_FUNC_ID


@njit(cache=True)
def visible_to(UF, UI, GI, TF, g, v, viewer):
    """True if unit v lies within the sight radius (centre to centre) of a living unit of `viewer`."""
    for a in range(GI[g, L.NSLOT]):
        if UI[g, a, L.ALIVE] == 1 and UI[g, a, L.OWNER] == viewer:
            s = TF[UI[g, a, L.TYPE], U.F_SIGHT]
            dx = UF[g, a, L.X] - UF[g, v, L.X]
            dy = UF[g, a, L.Y] - UF[g, v, L.Y]
            if dx * dx + dy * dy <= s * s:
                return True
    return False


@njit(cache=True)
def prune_orders(UF, UI, GI, g):
    """End current orders whose target died, vanished or jumped, so the observation shows it at once
    (a unit would drop them itself when it next acts)."""
    for u in range(GI[g, L.NSLOT]):
        while UI[g, u, L.ALIVE] == 1 and UI[g, u, L.NORD] > 0:
            kind = UI[g, u, L.ORD_KIND]
            if kind != L.O_MOVE_UNIT and kind != L.O_ATTACK_UNIT:
                break
            t = UI[g, u, L.ORD_TGT]
            if valid_unit(UI, g, t, UI[g, u, L.ORD_TAG]) and (
                    kind == L.O_ATTACK_UNIT or UI[g, t, L.GEN] == UI[g, u, L.ORD_GEN]):
                break
            pop_order(UF, UI, g, u)


@njit(cache=True)
def write_obs(UF, UI, GI, TF, TI, MF, MI, g, OU, OP, OR, ON, OPL, OSC):
    prune_orders(UF, UI, GI, g)
    fog = MI[L.PI_FOG] == 1
    map_h = MF[L.PF_MAP_H]
    n = 0
    food = 0.0
    army = 0
    for u in range(GI[g, L.NSLOT]):
        if UI[g, u, L.ALIVE] == 0:
            continue
        owner = UI[g, u, L.OWNER]
        if owner == L.OWNER_ENEMY and fog and not visible_to(UF, UI, GI, TF, g, u, L.OWNER_AGENT):
            continue
        t = UI[g, u, L.TYPE]
        row = OU[g, n]
        row[:] = 0
        hp, sh = UF[g, u, L.HP], UF[g, u, L.SH]
        hp_max, sh_max = TF[t, U.F_HP], TF[t, U.F_SHIELD]
        x, y = UF[g, u, L.X], UF[g, u, L.Y]
        row[C_TYPE] = TI[t, U.I_SC2_ID]
        row[C_HEALTH] = int(hp)
        row[C_SHIELD] = int(sh)
        row[C_BUILD] = 100
        row[C_HRATIO] = int(hp / hp_max * 255.0) if hp_max > 0.0 else 0
        row[C_SRATIO] = int(sh / sh_max * 255.0) if sh_max > 0.0 else 0
        row[C_DISPLAY] = DISPLAY_VISIBLE
        row[C_OWNER] = owner
        row[C_X] = int(math.floor(x))
        row[C_Y] = int(math.floor(map_h - y))
        f = math.atan2(UF[g, u, L.FDY], UF[g, u, L.FDX])  # radians in [0, 2 pi), truncated like pysc2
        row[C_FACING] = int(f + 2.0 * math.pi if f < 0.0 else f)
        row[C_RADIUS] = int(TF[t, U.F_RADIUS])
        row[C_CLOAK] = CLOAK_NOT_CLOAKED
        row[C_TAG] = UI[g, u, L.TAG]
        row[C_ONSCREEN] = 1
        if owner == L.OWNER_AGENT:
            row[C_ALLIANCE] = ALLIANCE_OF_OWNER_AGENT
            row[C_WCD] = int(UF[g, u, L.CD])
            nord = UI[g, u, L.NORD]
            row[C_NORD] = nord
            row[C_ACTIVE] = 1 if nord > 0 else 0
            for k in range(min(nord, 4)):
                row[C_ORDERS[k]] = ORDER_FUNC_ID[UI[g, u, L.ORD_KIND + k]]
            food += TF[t, U.F_SUPPLY]
            army += 1
        elif owner == L.OWNER_ENEMY:
            row[C_ALLIANCE] = ALLIANCE_ENEMY
        else:
            row[C_ALLIANCE] = ALLIANCE_NEUTRAL
        OP[g, n, 0] = x
        OP[g, n, 1] = y
        OR[g, n] = TF[t, U.F_RADIUS]
        n += 1
    ON[g] = n
    OPL[g, :] = 0
    OPL[g, P_ID] = 1
    OPL[g, P_FOOD_USED] = int(math.ceil(food))
    OPL[g, P_FOOD_ARMY] = int(math.ceil(food))
    OPL[g, P_FOOD_CAP] = FOOD_CAP
    OPL[g, P_ARMY] = army
    OSC[g, :] = 0
    OSC[g, 0] = GI[g, L.SCORE]
