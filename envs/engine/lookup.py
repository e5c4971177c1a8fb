"""Small inline reads of the state that every kernel module shares: unit identity, sizes and distances."""

from __future__ import annotations

import math

from envs.engine.jit import inline
from envs.engine.state import ALIVE, OWNER, OWNER_NEUTRAL, TAG, TYPE, X, Y
from envs.engine.units import RADIUS

FAR = 1e9
RANGE_EPS = 1e-6  # float slack on range tests (a looser test shifts close fights' outcomes)
# A weapon keeps firing at its target out to range + RangeSlop: 1, the CWeapon default of the game's
# WeaponData.xml (SC2Mapster/SC2GameData mods/core.sc2mod); no minigame unit overrides it.
RANGE_SLOP = 1.0


@inline
def valid_unit(state, g, slot, tag):
    """True if `slot` (-1 for none) holds a living unit with this tag (the unit an order, engagement or
    missile refers to; a slot may be reused by a later unit)."""
    ui = state.unit_i
    return slot >= 0 and ui[g, slot, ALIVE] == 1 and ui[g, slot, TAG] == tag


@inline
def radius(state, tables, g, u):
    return tables.type_f[state.unit_i[g, u, TYPE], RADIUS]


@inline
def edge_dist(state, tables, g, a, b):
    """Distance between the edges of units a and b (weapon ranges are measured so)."""
    uf = state.unit_f
    dx = uf[g, b, X] - uf[g, a, X]
    dy = uf[g, b, Y] - uf[g, a, Y]
    return math.sqrt(dx * dx + dy * dy) - radius(state, tables, g, a) - radius(state, tables, g, b)


@inline
def hostile(state, g, a, b):
    oa = state.unit_i[g, a, OWNER]
    ob = state.unit_i[g, b, OWNER]
    return oa != ob and oa != OWNER_NEUTRAL and ob != OWNER_NEUTRAL
