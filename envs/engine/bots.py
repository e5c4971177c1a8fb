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

from numba import njit

from envs.engine import layout as L
from envs.engine import units as U
from envs.engine.combat import FAR, RANGE_EPS, edge_dist
from envs.engine.commands import give_order
from envs.engine.obs import visible_to


@njit(cache=True)
def bot_orders(UF, UI, GI, TF, TI, MI, g, bot):
    """Scripted enemy: idle (no orders), attack_nearest (attack-move to the nearest visible agent unit,
    SMAC-style), focus_fire (all attack the lowest HP+shield agent unit within some enemy's range,
    else attack-move like attack_nearest)."""
    if bot == L.BOT_IDLE:
        return
    n = GI[g, L.NSLOT]
    fog = MI[L.PI_FOG] == 1
    focus = -1
    if bot == L.BOT_FOCUS_FIRE:
        best = FAR
        for a in range(n):
            if UI[g, a, L.ALIVE] == 0 or UI[g, a, L.OWNER] != L.OWNER_AGENT:
                continue
            life = UF[g, a, L.HP] + UF[g, a, L.SH]
            if life >= best:
                continue
            for e in range(n):
                if UI[g, e, L.ALIVE] == 1 and UI[g, e, L.OWNER] == L.OWNER_ENEMY:
                    if edge_dist(UF, TF, UI, g, e, a) <= TF[UI[g, e, L.TYPE], U.F_RANGE] + RANGE_EPS:
                        best = life
                        focus = a
                        break
    for e in range(n):
        if UI[g, e, L.ALIVE] == 0 or UI[g, e, L.OWNER] != L.OWNER_ENEMY:
            continue
        if TF[UI[g, e, L.TYPE], U.F_DAMAGE] <= 0.0:
            continue
        if focus >= 0:
            give_order(UF, UI, g, e, L.O_ATTACK_UNIT, False, focus, UI[g, focus, L.TAG], UI[g, focus, L.GEN],
                       0.0, 0.0)
            continue
        near = -1
        near_d = FAR
        for a in range(n):
            if UI[g, a, L.ALIVE] == 0 or UI[g, a, L.OWNER] != L.OWNER_AGENT:
                continue
            if fog and not visible_to(UF, UI, GI, TF, g, a, L.OWNER_ENEMY):
                continue
            d = math.hypot(UF[g, a, L.X] - UF[g, e, L.X], UF[g, a, L.Y] - UF[g, e, L.Y])
            if d < near_d:
                near_d = d
                near = a
        if near >= 0:
            give_order(UF, UI, g, e, L.O_ATTACK_PT, False, -1, 0, 0, UF[g, near, L.X], UF[g, near, L.Y])
