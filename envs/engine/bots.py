"""Scripted enemy bots (numba), deciding once per agent step before the loops run.

- idle: no orders; units stand and auto-acquire (combat.py), the minigames' faithful behaviour.
- attack_nearest: every armed unit attack-moves to the nearest agent unit it can see (SMAC's opponents).
- focus_fire: all armed units attack the agent unit with the lowest HP + shield among those inside some
  enemy's weapon range; if none is in range, attack-move like attack_nearest.
Under fog a bot sees what its own units' sight covers. A new bot is one more branch here and one more
name in engine.ENEMY_BOTS.
"""

from __future__ import annotations

import math

from envs.engine.commands import give_order
from envs.engine.jit import kernel
from envs.engine.lookup import FAR, RANGE_EPS, edge_dist
from envs.engine.maps import FOG
from envs.engine.obs import visible_to
from envs.engine.state import (
    ALIVE,
    ATTACK_POINT,
    ATTACK_UNIT,
    HEALTH,
    NUM_SLOTS,
    OWNER,
    OWNER_AGENT,
    OWNER_ENEMY,
    SHIELD,
    TYPE,
    X,
    Y,
)
from envs.engine.units import DAMAGE, RANGE

# bot codes (engine.ENEMY_BOTS names them)
BOT_IDLE, BOT_ATTACK_NEAREST, BOT_FOCUS_FIRE = range(3)


@kernel
def bot_orders(state, tables, g, bot):
    """Scripted enemy: idle (no orders), attack_nearest (attack-move to the nearest visible agent unit,
    SMAC-style), focus_fire (all attack the lowest HP+shield agent unit within some enemy's range,
    else attack-move like attack_nearest)."""
    if bot == BOT_IDLE:
        return
    uf, ui, tf = state.unit_f, state.unit_i, tables.type_f
    n = state.game[g, NUM_SLOTS]
    fog = tables.map_i[FOG] == 1
    focus = -1
    if bot == BOT_FOCUS_FIRE:
        best = FAR
        for a in range(n):
            if ui[g, a, ALIVE] == 0 or ui[g, a, OWNER] != OWNER_AGENT:
                continue
            life = uf[g, a, HEALTH] + uf[g, a, SHIELD]
            if life >= best:
                continue
            for e in range(n):
                if ui[g, e, ALIVE] == 1 and ui[g, e, OWNER] == OWNER_ENEMY:
                    if edge_dist(state, tables, g, e, a) <= tf[ui[g, e, TYPE], RANGE] + RANGE_EPS:
                        best = life
                        focus = a
                        break
    for e in range(n):
        if ui[g, e, ALIVE] == 0 or ui[g, e, OWNER] != OWNER_ENEMY:
            continue
        if tf[ui[g, e, TYPE], DAMAGE] <= 0.0:
            continue
        if focus >= 0:
            give_order(state, g, e, ATTACK_UNIT, False, focus, 0.0, 0.0)
            continue
        near = -1
        near_d = FAR
        for a in range(n):
            if ui[g, a, ALIVE] == 0 or ui[g, a, OWNER] != OWNER_AGENT:
                continue
            if fog and not visible_to(state, tables, g, a, OWNER_ENEMY):
                continue
            d = math.hypot(uf[g, a, X] - uf[g, e, X], uf[g, a, Y] - uf[g, e, Y])
            if d < near_d:
                near_d = d
                near = a
        if near >= 0:
            give_order(state, g, e, ATTACK_POINT, False, -1, uf[g, near, X], uf[g, near, Y])
