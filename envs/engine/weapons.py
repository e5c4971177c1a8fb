"""Numba kernels for weapons: an attack's wind-up, its shot (at once or a missile), damage, deaths and
regeneration. Figures in envs/engine/units.py; choices where the game's behaviour is not published:

- An attack starts when the target is in range and the weapon ready; the cooldown (the weapon's period,
  plus pysc2's -1..+2 loop jitter) counts from that loop, so a unit that keeps firing shoots once per
  period. The shot lands after the weapon's damage point (Marine 0.05 game seconds, Hydralisk 0.14,
  Roach, Stalker and Zergling 0.167, Zealot, Marauder and Baneling 0), counted in whole loops (rounded
  up). Meanwhile the unit stands still: an order to move, to stop, or to attack another unit cancels
  the attack and gives its cooldown back (the attack never happened; *unverified*: the game's exact
  rule is not published). Attack-move and hold position let it finish. A shot whose target died, or
  left the weapon's range + RANGE_SLOP, is lost.
- A missile (Roach, Stalker, Hydralisk, Marauder) starts at the shooter's centre and homes on the
  target's centre at the weapon's missile speed from the loop it is fired; it hits on the loop it gets
  there (even if the shooter died meanwhile) and vanishes if the target died or vanished. The Roach and
  Hydralisk hit a target within POINT_BLANK at once (their melee weapons).
- Shields absorb first (shield armour 0); what spills over hits HP minus armour, at least 0.5 per hit.
- A Baneling's burst reaches every enemy whose edge is within 2.2 of its centre (the game's search areas
  include the victim's radius); friendly units are not hurt. The Baneling then dies (counted as a death).
- A unit that is hit while idle turns on its attacker and chases it, and so do idle allies within
  HELP_RADIUS of it (the game's call for help).
- Zerg hit points and Protoss shields regenerate (`regenerate`).
"""

from __future__ import annotations

import math

from envs.engine.grid import AGENT_GRID, ENEMY_GRID, GRID_SLACK, cell_range
from envs.engine.jit import hot, inline, kernel
from envs.engine.lookup import RANGE_EPS, RANGE_SLOP, edge_dist, hostile, radius, valid_unit
from envs.engine.maps import KILL_REWARD, LOSS_REWARD
from envs.engine.rng import uniform
from envs.engine.state import (
    ALIVE,
    CHASE_TAG,
    CHASE_TARGET,
    COOLDOWN,
    DAMAGE_DEALT,
    DAMAGED_AT,
    HEALTH,
    LOOP,
    MISSILE_OWNER,
    MISSILE_SOURCE,
    MISSILE_SOURCE_TAG,
    MISSILE_SOURCE_TYPE,
    MISSILE_TARGET,
    MISSILE_TARGET_TAG,
    MISSILES,
    NUM_AGENT,
    NUM_ENEMY,
    NUM_ORDERS,
    NUM_SLOTS,
    OWNER,
    OWNER_AGENT,
    OWNER_ENEMY,
    SCORE,
    SHIELD,
    TAG,
    TYPE,
    WINDUP,
    WINDUP_TAG,
    WINDUP_TARGET,
    X,
    Y,
)
from envs.engine.units import (
    ARMOR,
    ATTACKS,
    ATTRIBUTES,
    BONUS_ATTRIBUTES,
    BONUS_DAMAGE,
    DAMAGE,
    DAMAGE_POINT,
    FLAG_MARKER,
    FLAG_SUICIDE,
    FLAGS,
    LIFE_REGEN,
    MAX_HEALTH,
    MAX_SHIELD,
    MISSILE_SPEED,
    POINT_BLANK,
    RANGE,
    SHIELD_REGEN,
    SHIELD_REGEN_DELAY,
    SPLASH,
    WEAPON_COOLDOWN,
)

HELP_RADIUS = 4.0  # idle allies this close to a victim join in (SC2GameData GameData.xml: CallForHelpRadius)
JITTER_LO, JITTER_HI = -1.0, 2.0  # pysc2 docs/environment.md: -1..+2 game loops on each cooldown


@kernel
def kill(state, tables, g, u):
    """Remove a unit at once and book the map's kill/loss score."""
    ui, game = state.unit_i, state.game
    ui[g, u, ALIVE] = 0
    owner = ui[g, u, OWNER]
    if owner == OWNER_ENEMY:
        game[g, SCORE] += tables.map_i[KILL_REWARD]
        game[g, NUM_ENEMY] -= 1
    elif owner == OWNER_AGENT:
        game[g, SCORE] += tables.map_i[LOSS_REWARD]
        game[g, NUM_AGENT] -= 1


@inline
def call_for_help(state, tables, g, a, victim, vx, vy, owner, attacker, atag):
    """Unit a turns on the attacker if it is the victim or an idle, unengaged armed ally near it."""
    uf, ui = state.unit_f, state.unit_i
    if ui[g, a, ALIVE] == 0 or ui[g, a, OWNER] != owner or ui[g, a, NUM_ORDERS] != 0:
        return
    if tables.type_f[ui[g, a, TYPE], DAMAGE] <= 0.0:
        return
    if valid_unit(state, g, ui[g, a, CHASE_TARGET], ui[g, a, CHASE_TAG]):
        return
    if a != victim:
        dx = uf[g, a, X] - vx
        dy = uf[g, a, Y] - vy
        if dx * dx + dy * dy > HELP_RADIUS * HELP_RADIUS:
            return
    ui[g, a, CHASE_TARGET] = attacker
    ui[g, a, CHASE_TAG] = atag


@kernel
def alert(state, tables, g, victim, attacker, grids):
    """The victim, and idle allies near it, turn on the attacker if they are idle and unengaged. With the
    grids on, the allies come from the victim's side's grid (each decides alone: the order is moot)."""
    uf, ui = state.unit_f, state.unit_i
    vx = uf[g, victim, X]
    vy = uf[g, victim, Y]
    owner = ui[g, victim, OWNER]
    atag = ui[g, attacker, TAG]
    if grids.on[0] == 1 and (owner == OWNER_AGENT or owner == OWNER_ENEMY):
        k = AGENT_GRID if owner == OWNER_AGENT else ENEMY_GRID
        r = HELP_RADIUS + GRID_SLACK
        cx0, cx1 = cell_range(grids, k, vx - r, vx + r, 0)
        cy0, cy1 = cell_range(grids, k, vy - r, vy + r, 1)
        for cy in range(cy0, cy1 + 1):
            row = cy * grids.shape[k, 0]
            for i in range(grids.start[k, row + cx0], grids.start[k, row + cx1 + 1]):
                call_for_help(state, tables, g, grids.items[k, i], victim, vx, vy, owner, attacker, atag)
        return
    for a in range(state.game[g, NUM_SLOTS]):
        call_for_help(state, tables, g, a, victim, vx, vy, owner, attacker, atag)


@kernel
def damage(state, tables, g, source, source_tag, source_type, source_owner, victim, grids):
    """One attack of a `source_type` weapon owned by `source_owner` on the victim: ATTACKS hits of damage
    (+ bonus vs attribute), shields first. The shooter (source, source_tag) may have died since it shot.
    Returns True if the victim died."""
    uf, game, tf, ti = state.unit_f, state.game, tables.type_f, tables.type_i
    vt = state.unit_i[g, victim, TYPE]
    per_hit = tf[source_type, DAMAGE]
    bonus_attr = ti[source_type, BONUS_ATTRIBUTES]
    if bonus_attr != 0 and (ti[vt, ATTRIBUTES] & bonus_attr) != 0:
        per_hit += tf[source_type, BONUS_DAMAGE]
    armor = tf[vt, ARMOR]
    by_agent = source_owner == OWNER_AGENT and state.unit_i[g, victim, OWNER] == OWNER_ENEMY
    state.unit_i[g, victim, DAMAGED_AT] = game[g, LOOP]
    for _ in range(ti[source_type, ATTACKS]):
        sh = uf[g, victim, SHIELD]
        if sh >= per_hit:
            uf[g, victim, SHIELD] = sh - per_hit
            if by_agent:
                game[g, DAMAGE_DEALT] += int(2.0 * per_hit)
            continue
        rest = per_hit - sh
        uf[g, victim, SHIELD] = 0.0
        hp = uf[g, victim, HEALTH]
        uf[g, victim, HEALTH] = hp - max(0.5, rest - armor)
        if by_agent:  # overkill does not count: a kill takes the hit points that were left
            game[g, DAMAGE_DEALT] += int(2.0 * (sh + min(hp, max(0.5, rest - armor))))
        if uf[g, victim, HEALTH] <= 0.0:
            kill(state, tables, g, victim)
            return True
    if valid_unit(state, g, source, source_tag):
        alert(state, tables, g, victim, source, grids)
    return False


@kernel
def launch_missile(state, tables, g, a, t, grids):
    """Unit a's missile leaves for t; with no free missile row (never with one in flight per unit), the
    shot lands at once."""
    mi, ui = state.missile_i, state.unit_i
    for k in range(mi.shape[1]):
        if mi[g, k, MISSILE_TARGET] < 0:
            mi[g, k, MISSILE_SOURCE] = a
            mi[g, k, MISSILE_SOURCE_TAG] = ui[g, a, TAG]
            mi[g, k, MISSILE_SOURCE_TYPE] = ui[g, a, TYPE]
            mi[g, k, MISSILE_OWNER] = ui[g, a, OWNER]
            mi[g, k, MISSILE_TARGET] = t
            mi[g, k, MISSILE_TARGET_TAG] = ui[g, t, TAG]
            state.missile_xy[g, k, 0] = state.unit_f[g, a, X]
            state.missile_xy[g, k, 1] = state.unit_f[g, a, Y]
            state.game[g, MISSILES] += 1
            return
    damage(state, tables, g, a, ui[g, a, TAG], ui[g, a, TYPE], ui[g, a, OWNER], t, grids)


@hot
def fly_missiles(state, tables, g, grids):
    """Every missile in flight homes one loop's flight on its target; those that get there hit."""
    if state.game[g, MISSILES] == 0:
        return
    mi, mxy, uf = state.missile_i, state.missile_xy, state.unit_f
    for k in range(mi.shape[1]):
        t = mi[g, k, MISSILE_TARGET]
        if t < 0:
            continue
        if not valid_unit(state, g, t, mi[g, k, MISSILE_TARGET_TAG]):  # the target died or vanished
            mi[g, k, MISSILE_TARGET] = -1
            state.game[g, MISSILES] -= 1
            continue
        step = tables.type_f[mi[g, k, MISSILE_SOURCE_TYPE], MISSILE_SPEED]
        dx = uf[g, t, X] - mxy[g, k, 0]
        dy = uf[g, t, Y] - mxy[g, k, 1]
        d = math.sqrt(dx * dx + dy * dy)
        if d > step:
            mxy[g, k, 0] += dx / d * step
            mxy[g, k, 1] += dy / d * step
            continue
        mi[g, k, MISSILE_TARGET] = -1
        state.game[g, MISSILES] -= 1
        damage(state, tables, g, mi[g, k, MISSILE_SOURCE], mi[g, k, MISSILE_SOURCE_TAG],
               mi[g, k, MISSILE_SOURCE_TYPE], mi[g, k, MISSILE_OWNER], t, grids)


@kernel
def shoot(state, tables, g, a, t, grids):
    """The shot of unit a's attack on t lands or leaves: damage, a missile, or a Baneling's burst."""
    uf, ui, tf, ti = state.unit_f, state.unit_i, tables.type_f, tables.type_i
    at, atag, owner = ui[g, a, TYPE], ui[g, a, TAG], ui[g, a, OWNER]
    if (ti[at, FLAGS] & FLAG_SUICIDE) != 0:
        splash = tf[at, SPLASH]
        ax = uf[g, a, X]
        ay = uf[g, a, Y]
        for v in range(state.game[g, NUM_SLOTS]):
            if ui[g, v, ALIVE] == 0 or not hostile(state, g, a, v):
                continue
            if (ti[ui[g, v, TYPE], FLAGS] & FLAG_MARKER) != 0:
                continue
            dx = uf[g, v, X] - ax
            dy = uf[g, v, Y] - ay
            if math.sqrt(dx * dx + dy * dy) - radius(state, tables, g, v) <= splash + RANGE_EPS:
                damage(state, tables, g, a, atag, at, owner, v, grids)
        kill(state, tables, g, a)
    elif tf[at, MISSILE_SPEED] > 0.0 and edge_dist(state, tables, g, a, t) > tf[at, POINT_BLANK] + RANGE_EPS:
        launch_missile(state, tables, g, a, t, grids)
    else:
        damage(state, tables, g, a, atag, at, owner, t, grids)


@hot
def start_attack(state, tables, g, a, t, grids):
    """Unit a, in range of t with its weapon ready, starts an attack: the cooldown runs from now, the shot
    comes after the damage point (at once if it is 0)."""
    uf, ui, tf = state.unit_f, state.unit_i, tables.type_f
    at = ui[g, a, TYPE]
    uf[g, a, COOLDOWN] = tf[at, WEAPON_COOLDOWN] + JITTER_LO + (JITTER_HI - JITTER_LO) * uniform(state.rng, g)
    if tf[at, DAMAGE_POINT] <= 0.0:
        shoot(state, tables, g, a, t, grids)
        return
    uf[g, a, WINDUP] = tf[at, DAMAGE_POINT]
    ui[g, a, WINDUP_TARGET] = t
    ui[g, a, WINDUP_TAG] = ui[g, t, TAG]


@hot
def wind_up(state, tables, g, a, grids):
    """One loop of the attack under way; on its last, the shot (lost if the target died or got away)."""
    uf, ui = state.unit_f, state.unit_i
    uf[g, a, WINDUP] -= 1.0
    if uf[g, a, WINDUP] > 0.0:
        return
    uf[g, a, WINDUP] = 0.0
    t = ui[g, a, WINDUP_TARGET]
    ui[g, a, WINDUP_TARGET] = -1
    reach = tables.type_f[ui[g, a, TYPE], RANGE] + RANGE_EPS + RANGE_SLOP
    if valid_unit(state, g, t, ui[g, a, WINDUP_TAG]) and edge_dist(state, tables, g, a, t) <= reach:
        shoot(state, tables, g, a, t, grids)


@inline
def cancel_attack(state, g, a):
    """An order interrupts the attack under way: no shot, and the weapon is ready again."""
    if state.unit_f[g, a, WINDUP] > 0.0:
        state.unit_f[g, a, WINDUP] = 0.0
        state.unit_f[g, a, COOLDOWN] = 0.0
        state.unit_i[g, a, WINDUP_TARGET] = -1


@inline
def regenerate(state, tables, g, u):
    """Zerg hit points grow every loop; shields once SHIELD_REGEN_DELAY loops passed without damage."""
    uf, tf, t = state.unit_f, tables.type_f, state.unit_i[g, u, TYPE]
    uf[g, u, HEALTH] = min(uf[g, u, HEALTH] + tf[t, LIFE_REGEN], tf[t, MAX_HEALTH])
    if state.game[g, LOOP] - state.unit_i[g, u, DAMAGED_AT] >= tf[t, SHIELD_REGEN_DELAY]:
        uf[g, u, SHIELD] = min(uf[g, u, SHIELD] + tf[t, SHIELD_REGEN], tf[t, MAX_SHIELD])
