"""The two numba entry points: reset some games, and step every game of a batch `step_mul` loops.

Each advances all requested games in one call and writes their observations into the batch buffers,
so Python touches each game only to build its RawObs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from envs.engine import layout as L
from envs.engine.bots import bot_orders
from envs.engine.combat import act, collide, side_boxes
from envs.engine.commands import apply_commands
from envs.engine.obs import write_obs
from envs.engine.rng import randint
from envs.engine.rules import FIRST_UID, initial_spawn, tick


@njit(cache=True)
def sim_loop(UF, UI, GI, RNG, TF, TI, MF, MI, SG, perm, ground, bb, g):
    """One game loop: living units act in a fresh random order, then collide, then the map's triggers."""
    n = GI[g, L.NSLOT]
    for i in range(n):
        perm[i] = i
    for i in range(n - 1, 0, -1):  # Fisher-Yates with the game's own generator
        j = randint(RNG, g, i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    side_boxes(UF, UI, GI, g, bb)
    for k in range(n):
        u = perm[k]
        if UI[g, u, L.ALIVE] == 1:
            act(UF, UI, GI, RNG, TF, TI, MF, MI, g, u, bb)
    collide(UF, UI, GI, RNG, TF, TI, MF, g, ground)
    GI[g, L.LOOP] += 1
    tick(UF, UI, GI, RNG, TF, MF, MI, SG, g)


@njit(cache=True)
def reset_kernel(UF, UI, GI, RNG, TF, TI, MF, MI, SG, games, seeds, reseed, loop_limit,
                 OU, OP, OR, ON, OPL, OSC):
    for i in range(games.shape[0]):
        g = games[i]
        if reseed[i] == 1:
            RNG[g] = seeds[i]
        UF[g] = 0.0
        UI[g] = 0
        GI[g] = 0
        GI[g, L.NEXT_UID] = FIRST_UID
        GI[g, L.LOOP_LIMIT] = loop_limit
        initial_spawn(UF, UI, GI, RNG, TF, MF, MI, SG, g)
        write_obs(UF, UI, GI, TF, TI, MF, MI, g, OU, OP, OR, ON, OPL, OSC)


@njit(cache=True)
def step_kernel(UF, UI, GI, RNG, TF, TI, MF, MI, SG, games, funcs, queued, tag_start, tag_count, tags, ttags,
                px, py, results, result_arg, bot, step_mul, active, OU, OP, OR, ON, OPL, OSC):
    scratch = np.empty(max(1, tags.shape[0]), np.int64)
    perm = np.empty(UI.shape[1], np.int64)
    ground = np.empty(UI.shape[1], np.int64)
    bb = np.empty(10, np.float64)
    apply_commands(UF, UI, GI, TF, TI, MF, MI, games, funcs, queued, tag_start, tag_count, tags, ttags,
                   px, py, results, result_arg, scratch)
    for g in range(UF.shape[0]):
        GI[g, L.PREV_SCORE] = GI[g, L.SCORE]
        if GI[g, L.DONE] == 0 and active[g] == 1:
            bot_orders(UF, UI, GI, TF, TI, MI, g, bot)
            for _ in range(step_mul):
                sim_loop(UF, UI, GI, RNG, TF, TI, MF, MI, SG, perm, ground, bb, g)
                if GI[g, L.DONE] == 1:
                    break
        write_obs(UF, UI, GI, TF, TI, MF, MI, g, OU, OP, OR, ON, OPL, OSC)
