"""Scripted enemy bots (numba), deciding once per agent step before the loops run.

- idle: no orders; units stand and auto-acquire (combat.py), the minigames' faithful behaviour.
- attack_nearest: every armed unit attack-moves to the nearest agent unit it can see.
- focus_fire: the stand-in for SMAC's opponent, the game's built-in AI at difficulty 7, whose units SMAC's
  maps order to attack the agents' spawning point (oxwhirl/smac docs/smac.md). Every armed unit
  attack-moves to the agent's start (once there, to the nearest agent unit it can see) and, while agent
  units are within its reach, attacks the one of them with the least hit points + shields (the nearest on
  ties), so units within reach of the same agents fire at the same one. The SMAC maps' default.
Under fog a bot sees what its own units' sight covers. A new bot is one more branch here and one more
name in engine.ENEMY_BOTS.

Reading win rates beside SMAC's: MAPPO (Yu et al. 2022, "The Surprising Effectiveness of PPO in
Cooperative Multi-Agent Games") wins 3m, 8m and 2s3z 100% and 3s5z about 97% of SMAC's games against the
built-in AI. focus_fire is not that AI, whose unit control follows the game's own unpublished heuristics;
and the agent's side differs too (SMAC's agents move in 4 directions and attack only within 6, and SMAC
turns off their units' automatic attacks, while here units auto-acquire and take entity and point
orders; SMAC's maps are larger than the minigames' arena used here). The maps keep SMAC's unit counts,
episode limits and reward, so win rates here are of the same kind as SMAC's, not the same measurement.
"""

from __future__ import annotations

import math

from envs.engine.commands import give_order
from envs.engine.jit import kernel
from envs.engine.lookup import FAR, RANGE_EPS, edge_dist
from envs.engine.maps import (
    CENTRE_X,
    CENTRE_Y,
    FOG,
    LEFT_X0,
    LEFT_X1,
    LEFT_Y0,
    LEFT_Y1,
    RIGHT_X0,
    RIGHT_X1,
    RIGHT_Y0,
    RIGHT_Y1,
    RULES,
    RULES_DUEL,
    RULES_WAVES,
)
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
    SIDE,
    TYPE,
    X,
    Y,
)
from envs.engine.units import DAMAGE, RANGE, SIGHT

# Ranged units (weapon range above MELEE_REACH) look FOCUS_SLACK beyond their range for the weakest agent
# unit, so one a step out of reach still joins the focus (a choice: against the scripted agents it won
# more than weapon range alone, and more than attack_nearest).
MELEE_REACH, FOCUS_SLACK = 1.0, 1.0

# bot codes (engine.ENEMY_BOTS names them)
BOT_IDLE, BOT_ATTACK_NEAREST, BOT_FOCUS_FIRE = range(3)


@kernel
def agent_start(state, tables, g):
    """Where the agent's units start: the centre of its spawn rectangle on maps with sides, else the map's
    centre."""
    mf, rules = tables.map_f, tables.map_i[RULES]
    if rules == RULES_DUEL or rules == RULES_WAVES:
        if state.game[g, SIDE] == 0:
            return 0.5 * (mf[LEFT_X0] + mf[LEFT_X1]), 0.5 * (mf[LEFT_Y0] + mf[LEFT_Y1])
        return 0.5 * (mf[RIGHT_X0] + mf[RIGHT_X1]), 0.5 * (mf[RIGHT_Y0] + mf[RIGHT_Y1])
    return mf[CENTRE_X], mf[CENTRE_Y]


@kernel
def seen(state, tables, g, a):
    """True if the enemy can see agent unit a (always without fog)."""
    return tables.map_i[FOG] == 0 or visible_to(state, tables, g, a, OWNER_ENEMY)


@kernel
def nearest_agent(state, tables, g, e):
    """The visible agent unit nearest to enemy unit e (centre distance), -1 if none."""
    uf, ui = state.unit_f, state.unit_i
    near, near_d = -1, FAR
    for a in range(state.game[g, NUM_SLOTS]):
        if ui[g, a, ALIVE] == 0 or ui[g, a, OWNER] != OWNER_AGENT or not seen(state, tables, g, a):
            continue
        d = math.hypot(uf[g, a, X] - uf[g, e, X], uf[g, a, Y] - uf[g, e, Y])
        if d < near_d:
            near_d, near = d, a
    return near


@kernel
def weakest_in_range(state, tables, g, e):
    """The visible agent unit within enemy unit e's reach (weapon range, + FOCUS_SLACK for ranged units)
    with the least hit points + shields (the nearest on ties), -1 if none."""
    uf, ui = state.unit_f, state.unit_i
    reach = tables.type_f[ui[g, e, TYPE], RANGE] + RANGE_EPS
    if reach > MELEE_REACH:
        reach += FOCUS_SLACK
    best, best_life, best_d = -1, FAR, FAR
    for a in range(state.game[g, NUM_SLOTS]):
        if ui[g, a, ALIVE] == 0 or ui[g, a, OWNER] != OWNER_AGENT or not seen(state, tables, g, a):
            continue
        d = edge_dist(state, tables, g, e, a)
        if d > reach:
            continue
        life = uf[g, a, HEALTH] + uf[g, a, SHIELD]
        if life < best_life or (life == best_life and d < best_d):
            best, best_life, best_d = a, life, d
    return best


@kernel
def bot_orders(state, tables, g, bot):
    """Orders of the enemy bot `bot` (BOT_*) for this agent step."""
    if bot == BOT_IDLE:
        return
    uf, ui, tf = state.unit_f, state.unit_i, tables.type_f
    sx, sy = agent_start(state, tables, g)
    for e in range(state.game[g, NUM_SLOTS]):
        if ui[g, e, ALIVE] == 0 or ui[g, e, OWNER] != OWNER_ENEMY or tf[ui[g, e, TYPE], DAMAGE] <= 0.0:
            continue
        if bot == BOT_FOCUS_FIRE:
            t = weakest_in_range(state, tables, g, e)
            if t >= 0:
                give_order(state, g, e, ATTACK_UNIT, False, t, 0.0, 0.0)
                continue
            if math.hypot(uf[g, e, X] - sx, uf[g, e, Y] - sy) > tf[ui[g, e, TYPE], SIGHT]:
                give_order(state, g, e, ATTACK_POINT, False, -1, sx, sy)
                continue
        near = nearest_agent(state, tables, g, e)
        if near >= 0:
            give_order(state, g, e, ATTACK_POINT, False, -1, uf[g, near, X], uf[g, near, Y])
