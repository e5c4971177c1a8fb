"""Numba kernels for the map rules: spawning, pickups, respawns, waves, win/loss and timers.

One `tick` per game loop after the units act (map triggers fire within the loop they are met).
Spawn margins (1.0 inside the playable edge) and formation spacing are *unverified* choices.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from envs.engine import layout as L
from envs.engine import units as U
from envs.engine.combat import FAR, TWO_PI
from envs.engine.rng import randint, uniform

EDGE_MARGIN = 1.0  # random spawns keep this far inside the playable area (*unverified*)
FIRST_UID = 0x4000  # tag = uid << 18 | slot: first tag 0x100000000, SC2-style (index low, recycle high)
TAG_SLOT_BITS = 18
SPAWN_TRIES = 200


@njit(cache=True)
def spawn(UF, UI, GI, TF, MI, g, typ, owner, x, y, hp, sh):
    """Create a unit in the first free slot (hp/sh < 0: full). Returns the slot, or -1 when full."""
    s = -1
    for k in range(MI[L.PI_MAX_UNITS]):
        if UI[g, k, L.ALIVE] == 0:
            s = k
            break
    if s < 0:
        return -1
    UI[g, s, :] = 0
    UF[g, s, :] = 0.0
    UI[g, s, L.ALIVE] = 1
    UI[g, s, L.TYPE] = typ
    UI[g, s, L.OWNER] = owner
    UI[g, s, L.TAG] = (GI[g, L.NEXT_UID] << TAG_SLOT_BITS) | s
    GI[g, L.NEXT_UID] += 1
    UI[g, s, L.AUTO] = -1
    UI[g, s, L.ENG] = -1
    if owner == L.OWNER_AGENT:
        GI[g, L.N_AGENT] += 1
    elif owner == L.OWNER_ENEMY:
        GI[g, L.N_ENEMY] += 1
    UF[g, s, L.X] = x
    UF[g, s, L.Y] = y
    UF[g, s, L.HP] = hp if hp > 0.0 else TF[typ, U.F_HP]
    UF[g, s, L.SH] = sh if sh >= 0.0 else TF[typ, U.F_SHIELD]
    UF[g, s, L.PREV_DIST] = FAR
    UF[g, s, L.RAD] = TF[typ, U.F_RADIUS]
    UF[g, s, L.FDX] = 1.0  # facing east (angle 0)
    if s >= GI[g, L.NSLOT]:
        GI[g, L.NSLOT] = s + 1
    return s


@njit(cache=True)
def rand_point(RNG, g, x0, y0, x1, y1):
    return x0 + (x1 - x0) * uniform(RNG, g), y0 + (y1 - y0) * uniform(RNG, g)


@njit(cache=True)
def nearest_of(UF, UI, GI, g, x, y, owner):
    """Centre distance from (x, y) to the nearest living unit of `owner`."""
    best = FAR
    for u in range(GI[g, L.NSLOT]):
        if UI[g, u, L.ALIVE] == 1 and UI[g, u, L.OWNER] == owner:
            best = min(best, math.hypot(UF[g, u, L.X] - x, UF[g, u, L.Y] - y))
    return best


@njit(cache=True)
def spawn_neutrals(UF, UI, GI, RNG, TF, MF, MI, g, x0, y0, x1, y1):
    """The map's neutral markers at random points, each >= PF_MIN_FROM_AGENT from the agent's units."""
    typ = MI[L.PI_NEUTRAL_TYPE]
    for _ in range(MI[L.PI_NEUTRAL_COUNT]):
        x, y = rand_point(RNG, g, x0, y0, x1, y1)
        for _t in range(SPAWN_TRIES):
            if nearest_of(UF, UI, GI, g, x, y, L.OWNER_AGENT) >= MF[L.PF_MIN_FROM_AGENT]:
                break
            x, y = rand_point(RNG, g, x0, y0, x1, y1)
        spawn(UF, UI, GI, TF, MI, g, typ, L.OWNER_NEUTRAL, x, y, -1.0, -1.0)


@njit(cache=True)
def spawn_scattered(UF, UI, GI, RNG, TF, MF, MI, SG, g, respawn):
    """Enemies at random points >= PF_MIN_SEP apart; outside PF_EXCLUDE_R of the centre at the start,
    >= PF_RESPAWN_FROM_AGENT from the agent on a respawn (FindAndDefeatZerglings). After SPAWN_TRIES
    failed draws the last draw is taken ("most" spawns satisfy the rule, as in the map)."""
    m = EDGE_MARGIN
    cx, cy = MF[L.PF_CENTRE_X], MF[L.PF_CENTRE_Y]
    for k in range(SG.shape[0]):
        if SG[k, L.SG_OWNER] != L.OWNER_ENEMY:
            continue
        for _ in range(SG[k, L.SG_COUNT]):
            x, y = 0.0, 0.0
            for _t in range(SPAWN_TRIES):
                x, y = rand_point(RNG, g, MF[L.PF_X0] + m, MF[L.PF_Y0] + m, MF[L.PF_X1] - m, MF[L.PF_Y1] - m)
                if respawn:
                    if nearest_of(UF, UI, GI, g, x, y, L.OWNER_AGENT) < MF[L.PF_RESPAWN_FROM_AGENT]:
                        continue
                elif math.hypot(x - cx, y - cy) < MF[L.PF_EXCLUDE_R]:
                    continue
                if nearest_of(UF, UI, GI, g, x, y, L.OWNER_ENEMY) >= MF[L.PF_MIN_SEP]:
                    break
            spawn(UF, UI, GI, TF, MI, g, SG[k, L.SG_TYPE], L.OWNER_ENEMY, x, y, -1.0, -1.0)


@njit(cache=True)
def place_group(UF, UI, GI, RNG, TF, MI, g, rect_x0, rect_y0, rect_x1, rect_y1, types, hps, shs, n, owner,
                clump, facing):
    """Units in columns filling the rectangle's height at a random x inside it (*unverified*: the map
    script's exact placement is not documented), or a 4-wide clump at the rectangle's centre."""
    if n <= 0:
        return
    rmax = 0.0
    for i in range(n):
        rmax = max(rmax, TF[types[i], U.F_RADIUS])
    h = rect_y1 - rect_y0
    cx = 0.5 * (rect_x0 + rect_x1)
    if not clump:
        cx = rect_x0 + (rect_x1 - rect_x0) * uniform(RNG, g)
    cy = 0.5 * (rect_y0 + rect_y1)
    per_col = 4 if clump else max(1, int(h / (2.0 * rmax)) + 1)
    ncol = (n + per_col - 1) // per_col
    for i in range(n):
        c = i // per_col
        r = i % per_col
        in_col = min(per_col, n - c * per_col)
        x = cx + (c - 0.5 * (ncol - 1)) * 2.0 * rmax
        if clump:
            x += 0.1 * (uniform(RNG, g) - 0.5)
            y = cy + (r - 0.5 * (in_col - 1)) * (2.0 * rmax + 0.05) + 0.1 * (uniform(RNG, g) - 0.5)
        else:
            y = cy if in_col == 1 else rect_y0 + r * h / (in_col - 1)
        s = spawn(UF, UI, GI, TF, MI, g, types[i], owner, x, y, hps[i], shs[i])
        if s >= 0:
            UF[g, s, L.FDX] = math.cos(facing)
            UF[g, s, L.FDY] = math.sin(facing)


@njit(cache=True)
def spawn_sides(UF, UI, GI, RNG, TF, MF, MI, SG, g, keep_types, keep_hp, keep_sh, n_keep):
    """Two-sided start or wave: the agent's units (kept survivors first, then the map's groups or the wave
    extras) in one rectangle, the enemy groups in the other; the side is drawn at random."""
    side = randint(RNG, g, 2) if MI[L.PI_RANDOM_SIDE] == 1 else 0
    GI[g, L.SIDE] = side
    lx0, ly0, lx1, ly1 = MF[L.PF_LX0], MF[L.PF_LY0], MF[L.PF_LX1], MF[L.PF_LY1]
    rx0, ry0, rx1, ry1 = MF[L.PF_RX0], MF[L.PF_RY0], MF[L.PF_RX1], MF[L.PF_RY1]
    n_enemy = 0
    for k in range(SG.shape[0]):
        if SG[k, L.SG_OWNER] == L.OWNER_ENEMY:
            n_enemy += SG[k, L.SG_COUNT]
    types = np.empty(MI[L.PI_MAX_UNITS], np.int64)
    hps = np.empty(MI[L.PI_MAX_UNITS], np.float64)
    shs = np.empty(MI[L.PI_MAX_UNITS], np.float64)
    for owner in (L.OWNER_AGENT, L.OWNER_ENEMY):
        # the agent's side never takes the slots the enemy wave needs
        cap = max(0, MI[L.PI_MAX_UNITS] - n_enemy) if owner == L.OWNER_AGENT else MI[L.PI_MAX_UNITS]
        n = 0
        if owner == L.OWNER_AGENT:
            for i in range(min(n_keep, cap)):
                types[n], hps[n], shs[n] = keep_types[i], keep_hp[i], keep_sh[i]
                n += 1
        if owner == L.OWNER_AGENT and n_keep > 0:
            for _ in range(MI[L.PI_WAVE_EXTRA_COUNT]):
                if n < cap:
                    types[n], hps[n], shs[n] = MI[L.PI_WAVE_EXTRA_TYPE], -1.0, -1.0
                    n += 1
        else:
            for k in range(SG.shape[0]):
                if SG[k, L.SG_OWNER] == owner:
                    for _ in range(SG[k, L.SG_COUNT]):
                        if n < cap:
                            types[n], hps[n], shs[n] = SG[k, L.SG_TYPE], -1.0, -1.0
                            n += 1
        left = (side == 0) == (owner == L.OWNER_AGENT)
        clump = owner == L.OWNER_ENEMY and MI[L.PI_ENEMY_CLUMP] == 1
        facing = 0.0 if left else math.pi
        if left:
            place_group(UF, UI, GI, RNG, TF, MI, g, lx0, ly0, lx1, ly1, types, hps, shs, n, owner, clump,
                        facing)
        else:
            place_group(UF, UI, GI, RNG, TF, MI, g, rx0, ry0, rx1, ry1, types, hps, shs, n, owner, clump,
                        facing)


@njit(cache=True)
def new_wave(UF, UI, GI, RNG, TF, MF, MI, SG, g):
    """DefeatRoaches-style wave: surviving agent units are re-created (new tags, same HP) with the extras."""
    cap = MI[L.PI_MAX_UNITS]
    kt = np.empty(cap, np.int64)
    kh = np.empty(cap, np.float64)
    ks = np.empty(cap, np.float64)
    n = 0
    for u in range(GI[g, L.NSLOT]):
        if UI[g, u, L.ALIVE] == 1 and UI[g, u, L.OWNER] == L.OWNER_AGENT:
            kt[n], kh[n], ks[n] = UI[g, u, L.TYPE], UF[g, u, L.HP], UF[g, u, L.SH]
            n += 1
            UI[g, u, L.ALIVE] = 0  # removed by the script: no loss is booked
            GI[g, L.N_AGENT] -= 1
    GI[g, L.WAVE] += 1
    spawn_sides(UF, UI, GI, RNG, TF, MF, MI, SG, g, kt, kh, ks, n)


@njit(cache=True)
def initial_spawn(UF, UI, GI, RNG, TF, MF, MI, SG, g):
    kind = MI[L.PI_KIND]
    m = EDGE_MARGIN
    x0, y0, x1, y1 = MF[L.PF_X0] + m, MF[L.PF_Y0] + m, MF[L.PF_X1] - m, MF[L.PF_Y1] - m
    if kind == L.K_BEACON or kind == L.K_SHARDS:
        for k in range(SG.shape[0]):
            if SG[k, L.SG_OWNER] == L.OWNER_AGENT:
                for _ in range(SG[k, L.SG_COUNT]):
                    x, y = rand_point(RNG, g, x0, y0, x1, y1)
                    spawn(UF, UI, GI, TF, MI, g, SG[k, L.SG_TYPE], L.OWNER_AGENT, x, y, -1.0, -1.0)
        if kind == L.K_SHARDS:
            spawn_neutrals(UF, UI, GI, RNG, TF, MF, MI, g, MF[L.PF_SX0], MF[L.PF_SY0], MF[L.PF_SX1],
                           MF[L.PF_SY1])
        else:
            spawn_neutrals(UF, UI, GI, RNG, TF, MF, MI, g, x0, y0, x1, y1)
    elif kind == L.K_HUNT:
        n_agent = 0
        for k in range(SG.shape[0]):
            if SG[k, L.SG_OWNER] == L.OWNER_AGENT:
                n_agent += SG[k, L.SG_COUNT]
        rot = TWO_PI * uniform(RNG, g)
        i = 0
        for k in range(SG.shape[0]):
            if SG[k, L.SG_OWNER] == L.OWNER_AGENT:
                for _ in range(SG[k, L.SG_COUNT]):
                    a = rot + TWO_PI * i / n_agent
                    x = MF[L.PF_CENTRE_X] + math.cos(a)
                    y = MF[L.PF_CENTRE_Y] + math.sin(a)
                    spawn(UF, UI, GI, TF, MI, g, SG[k, L.SG_TYPE], L.OWNER_AGENT, x, y, -1.0, -1.0)
                    i += 1
        spawn_scattered(UF, UI, GI, RNG, TF, MF, MI, SG, g, False)
    else:
        empty_i = np.empty(0, np.int64)
        empty_f = np.empty(0, np.float64)
        spawn_sides(UF, UI, GI, RNG, TF, MF, MI, SG, g, empty_i, empty_f, empty_f, 0)


@njit(cache=True)
def tick(UF, UI, GI, RNG, TF, MF, MI, SG, g):
    """Map triggers after one loop: pickups, respawns, waves, then win/loss/timer."""
    kind = MI[L.PI_KIND]
    n = GI[g, L.NSLOT]
    if kind == L.K_BEACON or kind == L.K_SHARDS:
        left = 0
        for s in range(n):
            if UI[g, s, L.ALIVE] == 0 or UI[g, s, L.OWNER] != L.OWNER_NEUTRAL:
                continue
            rs = TF[UI[g, s, L.TYPE], U.F_RADIUS]
            taken = False
            for a in range(n):
                if UI[g, a, L.ALIVE] == 0 or UI[g, a, L.OWNER] != L.OWNER_AGENT:
                    continue
                d = math.hypot(UF[g, a, L.X] - UF[g, s, L.X], UF[g, a, L.Y] - UF[g, s, L.Y])
                # beacon: the Marine's centre inside it; shard: the Marine touching it (REFERENCE.md sec. 2)
                reach = rs if kind == L.K_BEACON else rs + TF[UI[g, a, L.TYPE], U.F_RADIUS]
                if d < reach:
                    taken = True
                    break
            if taken:
                GI[g, L.SCORE] += 1
                if kind == L.K_BEACON:  # jump >= 5 from the Marine; the same unit, one more relocation
                    m = EDGE_MARGIN
                    x0, y0 = MF[L.PF_X0] + m, MF[L.PF_Y0] + m
                    x1, y1 = MF[L.PF_X1] - m, MF[L.PF_Y1] - m
                    x, y = rand_point(RNG, g, x0, y0, x1, y1)
                    for _t in range(SPAWN_TRIES):
                        if nearest_of(UF, UI, GI, g, x, y, L.OWNER_AGENT) >= MF[L.PF_MIN_FROM_AGENT]:
                            break
                        x, y = rand_point(RNG, g, x0, y0, x1, y1)
                    UF[g, s, L.X] = x
                    UF[g, s, L.Y] = y
                    UI[g, s, L.GEN] += 1
                    left += 1
                else:
                    UI[g, s, L.ALIVE] = 0
            else:
                left += 1
        if left == 0 and kind == L.K_SHARDS:
            spawn_neutrals(UF, UI, GI, RNG, TF, MF, MI, g, MF[L.PF_SX0], MF[L.PF_SY0], MF[L.PF_SX1],
                           MF[L.PF_SY1])
    n_agent = GI[g, L.N_AGENT]
    n_enemy = GI[g, L.N_ENEMY]
    if n_enemy == 0 and n_agent > 0:
        if kind == L.K_HUNT:
            spawn_scattered(UF, UI, GI, RNG, TF, MF, MI, SG, g, True)
        elif kind == L.K_WAVES:
            new_wave(UF, UI, GI, RNG, TF, MF, MI, SG, g)
        n_agent = GI[g, L.N_AGENT]
    if MI[L.PI_HAS_WIN] == 1 and n_enemy == 0:
        GI[g, L.DONE] = 1
        if n_agent > 0:
            GI[g, L.OUTCOME] = 1
            GI[g, L.SCORE] += MI[L.PI_WIN_REWARD]
    elif n_agent == 0 and MI[L.PI_END_WHEN_AGENT_DEAD] == 1:
        GI[g, L.DONE] = 1
        GI[g, L.OUTCOME] = -1
    elif GI[g, L.LOOP] >= GI[g, L.LOOP_LIMIT]:
        GI[g, L.DONE] = 1
