"""Numba kernels for the map rules: spawning, pickups, respawns, waves, win/loss and timers.

One `tick` per game loop after the units act (map triggers fire within the loop they are met). The rules
follow pysc2 docs/mini_games.md; spawn margins (1.0 inside the playable edge) and formation spacing are
*unverified* choices.
"""

from __future__ import annotations

import math

from envs.engine.combat import TWO_PI
from envs.engine.jit import hot, kernel
from envs.engine.lookup import FAR
from envs.engine.maps import (
    CENTRE_X,
    CENTRE_Y,
    END_WHEN_AGENT_DEAD,
    ENEMY_CLUMP,
    EXCLUDE_RADIUS,
    GROUP_COUNT,
    GROUP_OWNER,
    GROUP_TYPE,
    HAS_WIN,
    LEFT_X0,
    LEFT_X1,
    LEFT_Y0,
    LEFT_Y1,
    MAX_UNITS,
    MIN_FROM_AGENT,
    MIN_SEPARATION,
    NEAR_COUNT,
    NEAR_R0,
    NEAR_R1,
    NEUTRAL_COUNT,
    NEUTRAL_TYPE,
    PLACE_CONTENTS,
    PLACE_OWNER,
    PLACE_TYPE,
    PLACE_X,
    PLACE_Y,
    PLAY_X0,
    PLAY_X1,
    PLAY_Y0,
    PLAY_Y1,
    RANDOM_SIDE,
    RESPAWN_FROM_AGENT,
    RIGHT_X0,
    RIGHT_X1,
    RIGHT_Y0,
    RIGHT_Y1,
    RULES,
    RULES_BEACON,
    RULES_ECONOMY,
    RULES_HUNT,
    RULES_SHARDS,
    RULES_WAVES,
    SHARDS_X0,
    SHARDS_X1,
    SHARDS_Y0,
    SHARDS_Y1,
    START_MINERALS,
    WAVE_EXTRA_COUNT,
    WAVE_EXTRA_TYPE,
    WIN_REWARD,
)
from envs.engine.rng import randint, uniform
from envs.engine.state import (
    ALIVE,
    CHASE_TARGET,
    CONTENTS,
    DAMAGED_AT,
    DIST_LEFT,
    DONE,
    FACING_X,
    FACING_Y,
    HEALTH,
    LOOP,
    LOOP_LIMIT,
    MINERALS,
    MOVED_AT,
    NEXT_UID,
    NUM_AGENT,
    NUM_ENEMY,
    NUM_SLOTS,
    OUTCOME,
    OWNER,
    OWNER_AGENT,
    OWNER_ENEMY,
    OWNER_NEUTRAL,
    RELOCATIONS,
    SCORE,
    SCORE_UNITS,
    SHIELD,
    SIDE,
    TAG,
    TYPE,
    WAVE,
    WEAPON_TARGET,
    WINDUP_TARGET,
    X,
    Y,
)
from envs.engine.units import MAX_HEALTH, MAX_SHIELD, RADIUS

NEVER_DAMAGED = -(1 << 40)  # DAMAGED_AT of a unit no one has hurt yet
EDGE_MARGIN = 1.0  # random spawns keep this far inside the playable area (*unverified*)
FIRST_UID = 0x4000  # tag = uid << 18 | slot: first tag 0x100000000, SC2-style (index low, recycle high)
TAG_SLOT_BITS = 18
SPAWN_TRIES = 2000  # draws per random spawn point (25 Zerglings 5 apart nearly fill their map)


@kernel
def spawn(state, tables, g, typ, owner, x, y, hp, sh):
    """Create a unit in the first free slot (hp/sh < 0: full). Returns the slot, or -1 when full."""
    uf, ui, game, tf = state.unit_f, state.unit_i, state.game, tables.type_f
    s = -1
    for k in range(tables.map_i[MAX_UNITS]):
        if ui[g, k, ALIVE] == 0:
            s = k
            break
    if s < 0:
        return -1
    ui[g, s, :] = 0
    uf[g, s, :] = 0.0
    ui[g, s, ALIVE] = 1
    ui[g, s, TYPE] = typ
    ui[g, s, OWNER] = owner
    ui[g, s, TAG] = (game[g, NEXT_UID] << TAG_SLOT_BITS) | s
    game[g, NEXT_UID] += 1
    ui[g, s, CHASE_TARGET] = -1
    ui[g, s, WEAPON_TARGET] = -1
    ui[g, s, DAMAGED_AT] = NEVER_DAMAGED
    ui[g, s, MOVED_AT] = -1
    ui[g, s, WINDUP_TARGET] = -1
    if owner == OWNER_AGENT:
        game[g, NUM_AGENT] += 1
    elif owner == OWNER_ENEMY:
        game[g, NUM_ENEMY] += 1
    uf[g, s, X] = x
    uf[g, s, Y] = y
    uf[g, s, HEALTH] = hp if hp > 0.0 else tf[typ, MAX_HEALTH]
    uf[g, s, SHIELD] = sh if sh >= 0.0 else tf[typ, MAX_SHIELD]
    uf[g, s, DIST_LEFT] = FAR
    uf[g, s, FACING_X] = 1.0  # facing east (angle 0)
    if s >= game[g, NUM_SLOTS]:
        game[g, NUM_SLOTS] = s + 1
    return s


@kernel
def rand_point(state, g, x0, y0, x1, y1):
    return x0 + (x1 - x0) * uniform(state.rng, g), y0 + (y1 - y0) * uniform(state.rng, g)


@kernel
def nearest_of(state, g, x, y, owner):
    """Centre distance from (x, y) to the nearest living unit of `owner`."""
    uf, ui = state.unit_f, state.unit_i
    best = FAR
    for u in range(state.game[g, NUM_SLOTS]):
        if ui[g, u, ALIVE] == 1 and ui[g, u, OWNER] == owner:
            best = min(best, math.hypot(uf[g, u, X] - x, uf[g, u, Y] - y))
    return best


@kernel
def free_point(state, g, x0, y0, x1, y1, min_from_agent):
    """A random point of the rectangle >= min_from_agent from the agent's units (the last draw after
    SPAWN_TRIES failures)."""
    x, y = rand_point(state, g, x0, y0, x1, y1)
    for _t in range(SPAWN_TRIES):
        if nearest_of(state, g, x, y, OWNER_AGENT) >= min_from_agent:
            break
        x, y = rand_point(state, g, x0, y0, x1, y1)
    return x, y


@kernel
def spawn_neutrals(state, tables, g, x0, y0, x1, y1):
    """The map's neutral markers at random points, each >= MIN_FROM_AGENT from the agent's units."""
    for _ in range(tables.map_i[NEUTRAL_COUNT]):
        x, y = free_point(state, g, x0, y0, x1, y1, tables.map_f[MIN_FROM_AGENT])
        spawn(state, tables, g, tables.map_i[NEUTRAL_TYPE], OWNER_NEUTRAL, x, y, -1.0, -1.0)


@kernel
def scatter_point(state, tables, g, respawn, near):
    """A random enemy spawn point inside the playable area (less EDGE_MARGIN) >= MIN_SEPARATION from the
    other enemies: in the ring NEAR_R0..NEAR_R1 around the centre if `near`, else outside EXCLUDE_RADIUS of
    it at the start or >= RESPAWN_FROM_AGENT from the agent on a respawn (FindAndDefeatZerglings). After
    SPAWN_TRIES failed draws the last draw is taken."""
    mf = tables.map_f
    m = EDGE_MARGIN
    cx, cy = mf[CENTRE_X], mf[CENTRE_Y]
    x0, y0, x1, y1 = mf[PLAY_X0] + m, mf[PLAY_Y0] + m, mf[PLAY_X1] - m, mf[PLAY_Y1] - m
    r0, r1 = mf[NEAR_R0], mf[NEAR_R1]
    x, y = 0.0, 0.0
    for _t in range(SPAWN_TRIES):
        if near:  # uniform over the ring's area
            r = math.sqrt(r0 * r0 + (r1 * r1 - r0 * r0) * uniform(state.rng, g))
            a = TWO_PI * uniform(state.rng, g)
            x, y = cx + r * math.cos(a), cy + r * math.sin(a)
            if not (x0 <= x <= x1 and y0 <= y <= y1):
                continue
        else:
            x, y = rand_point(state, g, x0, y0, x1, y1)
            if respawn:
                if nearest_of(state, g, x, y, OWNER_AGENT) < mf[RESPAWN_FROM_AGENT]:
                    continue
            elif math.hypot(x - cx, y - cy) < mf[EXCLUDE_RADIUS]:
                continue
        if nearest_of(state, g, x, y, OWNER_ENEMY) >= mf[MIN_SEPARATION]:
            break
    return x, y


@kernel
def spawn_scattered(state, tables, g, respawn):
    """The enemy groups at scattered random points (`scatter_point`); at the start the first NEAR_COUNT
    of them in the ring near the centre."""
    groups = tables.spawn_groups
    i = 0
    for k in range(groups.shape[0]):
        if groups[k, GROUP_OWNER] != OWNER_ENEMY:
            continue
        for _ in range(groups[k, GROUP_COUNT]):
            near = not respawn and i < tables.map_i[NEAR_COUNT]
            x, y = scatter_point(state, tables, g, respawn, near)
            spawn(state, tables, g, groups[k, GROUP_TYPE], OWNER_ENEMY, x, y, -1.0, -1.0)
            i += 1


@kernel
def place_group(state, tables, g, rect, scratch, n, owner, clump, facing):
    """The first n units of the scratch spawn list in columns filling the rectangle (x0, y0, x1, y1)'s
    height at a random x inside it (*unverified*: the map script's exact placement is not published), or
    a 4-wide clump at the rectangle's centre."""
    if n <= 0:
        return
    types, hps, shs = scratch.spawn_type, scratch.spawn_health, scratch.spawn_shield
    rect_x0, rect_y0, rect_x1, rect_y1 = rect
    rmax = 0.0
    for i in range(n):
        rmax = max(rmax, tables.type_f[types[i], RADIUS])
    h = rect_y1 - rect_y0
    cx = 0.5 * (rect_x0 + rect_x1)
    if not clump:
        cx = rect_x0 + (rect_x1 - rect_x0) * uniform(state.rng, g)
    cy = 0.5 * (rect_y0 + rect_y1)
    per_col = 4 if clump else max(1, int(h / (2.0 * rmax)) + 1)
    ncol = (n + per_col - 1) // per_col
    for i in range(n):
        c = i // per_col
        r = i % per_col
        in_col = min(per_col, n - c * per_col)
        x = cx + (c - 0.5 * (ncol - 1)) * 2.0 * rmax
        if clump:
            x += 0.1 * (uniform(state.rng, g) - 0.5)
            y = cy + (r - 0.5 * (in_col - 1)) * (2.0 * rmax + 0.05) + 0.1 * (uniform(state.rng, g) - 0.5)
        else:
            y = cy if in_col == 1 else rect_y0 + r * h / (in_col - 1)
        s = spawn(state, tables, g, types[i], owner, x, y, hps[i], shs[i])
        if s >= 0:
            state.unit_f[g, s, FACING_X] = math.cos(facing)
            state.unit_f[g, s, FACING_Y] = math.sin(facing)


@kernel
def spawn_sides(state, tables, g, scratch, n_keep):
    """Two-sided start or wave: the agent's units (the n_keep survivors at the head of the scratch spawn
    list, then the map's groups or the wave extras) in one rectangle, the enemy groups in the other; the
    side is drawn at random."""
    mf, mi, groups = tables.map_f, tables.map_i, tables.spawn_groups
    side = randint(state.rng, g, 2) if mi[RANDOM_SIDE] == 1 else 0
    state.game[g, SIDE] = side
    left = (mf[LEFT_X0], mf[LEFT_Y0], mf[LEFT_X1], mf[LEFT_Y1])
    right = (mf[RIGHT_X0], mf[RIGHT_Y0], mf[RIGHT_X1], mf[RIGHT_Y1])
    n_enemy = 0
    for k in range(groups.shape[0]):
        if groups[k, GROUP_OWNER] == OWNER_ENEMY:
            n_enemy += groups[k, GROUP_COUNT]
    max_units = mi[MAX_UNITS]
    types, hps, shs = scratch.spawn_type, scratch.spawn_health, scratch.spawn_shield
    for owner in (OWNER_AGENT, OWNER_ENEMY):
        # the agent's side never takes the slots the enemy wave needs
        cap = max(0, max_units - n_enemy) if owner == OWNER_AGENT else max_units
        n = min(n_keep, cap) if owner == OWNER_AGENT else 0
        if owner == OWNER_AGENT and n_keep > 0:
            for _ in range(mi[WAVE_EXTRA_COUNT]):
                if n < cap:
                    types[n], hps[n], shs[n] = mi[WAVE_EXTRA_TYPE], -1.0, -1.0
                    n += 1
        else:
            for k in range(groups.shape[0]):
                if groups[k, GROUP_OWNER] == owner:
                    for _ in range(groups[k, GROUP_COUNT]):
                        if n < cap:
                            types[n], hps[n], shs[n] = groups[k, GROUP_TYPE], -1.0, -1.0
                            n += 1
        on_left = (side == 0) == (owner == OWNER_AGENT)
        clump = owner == OWNER_ENEMY and mi[ENEMY_CLUMP] == 1
        place_group(state, tables, g, left if on_left else right, scratch, n, owner, clump,
                    0.0 if on_left else math.pi)


@kernel
def new_wave(state, tables, g, scratch):
    """DefeatRoaches-style wave: surviving agent units are re-created (new tags, same HP) with the extras."""
    uf, ui, game = state.unit_f, state.unit_i, state.game
    n = 0
    for u in range(game[g, NUM_SLOTS]):
        if ui[g, u, ALIVE] == 1 and ui[g, u, OWNER] == OWNER_AGENT:
            scratch.spawn_type[n] = ui[g, u, TYPE]
            scratch.spawn_health[n] = uf[g, u, HEALTH]
            scratch.spawn_shield[n] = uf[g, u, SHIELD]
            n += 1
            ui[g, u, ALIVE] = 0  # removed by the script: no loss is booked
            game[g, NUM_AGENT] -= 1
    game[g, WAVE] += 1
    spawn_sides(state, tables, g, scratch, n)


@kernel
def place_fixed(state, tables, g):
    """The map's units at fixed spots (the economy maps' base and resources) and its starting bank."""
    p = tables.placements
    for k in range(p.shape[0]):
        s = spawn(state, tables, g, int(p[k, PLACE_TYPE]), int(p[k, PLACE_OWNER]), p[k, PLACE_X],
                  p[k, PLACE_Y], -1.0, -1.0)
        if s >= 0:
            state.unit_i[g, s, CONTENTS] = int(p[k, PLACE_CONTENTS])
    state.game[g, MINERALS] = tables.map_i[START_MINERALS]


@kernel
def initial_spawn(state, tables, g, scratch):
    mf, mi, groups = tables.map_f, tables.map_i, tables.spawn_groups
    rules = mi[RULES]
    place_fixed(state, tables, g)
    if rules == RULES_ECONOMY:
        return
    m = EDGE_MARGIN
    x0, y0, x1, y1 = mf[PLAY_X0] + m, mf[PLAY_Y0] + m, mf[PLAY_X1] - m, mf[PLAY_Y1] - m
    if rules == RULES_BEACON or rules == RULES_SHARDS:
        for k in range(groups.shape[0]):
            if groups[k, GROUP_OWNER] == OWNER_AGENT:
                for _ in range(groups[k, GROUP_COUNT]):
                    x, y = rand_point(state, g, x0, y0, x1, y1)
                    spawn(state, tables, g, groups[k, GROUP_TYPE], OWNER_AGENT, x, y, -1.0, -1.0)
        if rules == RULES_SHARDS:
            spawn_neutrals(state, tables, g, mf[SHARDS_X0], mf[SHARDS_Y0], mf[SHARDS_X1], mf[SHARDS_Y1])
        else:
            spawn_neutrals(state, tables, g, x0, y0, x1, y1)
    elif rules == RULES_HUNT:
        n_agent = 0
        for k in range(groups.shape[0]):
            if groups[k, GROUP_OWNER] == OWNER_AGENT:
                n_agent += groups[k, GROUP_COUNT]
        rot = TWO_PI * uniform(state.rng, g)
        i = 0
        for k in range(groups.shape[0]):
            if groups[k, GROUP_OWNER] == OWNER_AGENT:
                for _ in range(groups[k, GROUP_COUNT]):
                    a = rot + TWO_PI * i / n_agent
                    x = mf[CENTRE_X] + math.cos(a)
                    y = mf[CENTRE_Y] + math.sin(a)
                    spawn(state, tables, g, groups[k, GROUP_TYPE], OWNER_AGENT, x, y, -1.0, -1.0)
                    i += 1
        spawn_scattered(state, tables, g, False)
    else:
        spawn_sides(state, tables, g, scratch, 0)


@kernel
def pickups(state, tables, g, rules):
    """Beacon and shard maps: score each marker an agent unit reaches; the beacon jumps, a shard goes.
    Returns how many markers are left."""
    uf, ui, tf, mf = state.unit_f, state.unit_i, tables.type_f, tables.map_f
    n = state.game[g, NUM_SLOTS]
    left = 0
    for s in range(n):
        if ui[g, s, ALIVE] == 0 or ui[g, s, OWNER] != OWNER_NEUTRAL:
            continue
        rs = tf[ui[g, s, TYPE], RADIUS]
        taken = False
        for a in range(n):
            if ui[g, a, ALIVE] == 0 or ui[g, a, OWNER] != OWNER_AGENT:
                continue
            d = math.hypot(uf[g, a, X] - uf[g, s, X], uf[g, a, Y] - uf[g, s, Y])
            # beacon: the Marine's centre inside it; shard: the Marine touching it (pysc2 mini_games.md:
            # the Marine "reaches" the beacon, "collects" a shard)
            reach = rs if rules == RULES_BEACON else rs + tf[ui[g, a, TYPE], RADIUS]
            if d < reach:
                taken = True
                break
        if not taken:
            left += 1
            continue
        state.game[g, SCORE] += SCORE_UNITS
        if rules == RULES_BEACON:  # jump >= 5 from the Marine; the same unit, one more relocation
            m = EDGE_MARGIN
            x, y = free_point(state, g, mf[PLAY_X0] + m, mf[PLAY_Y0] + m, mf[PLAY_X1] - m, mf[PLAY_Y1] - m,
                              mf[MIN_FROM_AGENT])
            uf[g, s, X] = x
            uf[g, s, Y] = y
            ui[g, s, RELOCATIONS] += 1
            left += 1
        else:
            ui[g, s, ALIVE] = 0
    return left


@hot
def tick(state, tables, g, scratch):
    """Map triggers after one loop: pickups, respawns, waves, then win/loss/timer."""
    mf, mi, game = tables.map_f, tables.map_i, state.game
    rules = mi[RULES]
    if rules == RULES_BEACON or rules == RULES_SHARDS:
        left = pickups(state, tables, g, rules)
        if left == 0 and rules == RULES_SHARDS:
            spawn_neutrals(state, tables, g, mf[SHARDS_X0], mf[SHARDS_Y0], mf[SHARDS_X1], mf[SHARDS_Y1])
    n_agent = game[g, NUM_AGENT]
    n_enemy = game[g, NUM_ENEMY]
    if n_enemy == 0 and n_agent > 0:
        if rules == RULES_HUNT:
            spawn_scattered(state, tables, g, True)
        elif rules == RULES_WAVES:
            new_wave(state, tables, g, scratch)
        n_agent = game[g, NUM_AGENT]
    if mi[HAS_WIN] == 1 and n_enemy == 0:
        game[g, DONE] = 1
        if n_agent > 0:
            game[g, OUTCOME] = 1
            game[g, SCORE] += mi[WIN_REWARD]
    elif n_agent == 0 and mi[END_WHEN_AGENT_DEAD] == 1:
        game[g, DONE] = 1
        game[g, OUTCOME] = -1
    elif game[g, LOOP] >= game[g, LOOP_LIMIT]:
        game[g, DONE] = 1
