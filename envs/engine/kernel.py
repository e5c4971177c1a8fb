"""The two numba entry points: reset some games, and step every game of a batch `step_mul` loops.

Each advances all requested games in one call and writes their observations into the batch's
`RawBuffers`, so Python touches each game only to build its RawObs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from envs.engine.arena import unpack
from envs.engine.bots import bot_orders
from envs.engine.combat import act, collide, note_moved, side_boxes
from envs.engine.commands import Commands, apply_commands
from envs.engine.economy import economy_loop, start_mining
from envs.engine.grid import AGENT_GRID, ENEMY_GRID, build, grids_on
from envs.engine.jit import hot
from envs.engine.maps import RULES, RULES_ECONOMY, WORKERS_MINING
from envs.engine.obs import write_obs
from envs.engine.reward import end_step, note_enemies
from envs.engine.rng import randint
from envs.engine.rules import FIRST_UID, initial_spawn, tick
from envs.engine.state import (
    ALIVE,
    DONE,
    LOOP,
    LOOP_LIMIT,
    NEXT_UID,
    NUM_SLOTS,
    PREV_SCORE,
    SCORE,
)
from envs.engine.weapons import fly_missiles


@hot
def sim_loop(state, tables, g, scratch):
    """One game loop: living units act in a fresh random order, missiles fly, units collide, then the
    map's triggers."""
    order = scratch.order
    n = state.game[g, NUM_SLOTS]
    for i in range(n):
        order[i] = i
    for i in range(n - 1, 0, -1):  # Fisher-Yates with the game's own generator
        j = randint(state.rng, g, i + 1)
        order[i], order[j] = order[j], order[i]
    side_boxes(state, tables, g, scratch)
    grids = scratch.grids
    if grids_on(state, tables, g, grids):
        build(state, g, grids, AGENT_GRID, scratch.sides[0], scratch.side_count[0])
        build(state, g, grids, ENEMY_GRID, scratch.sides[1], scratch.side_count[1])
    for k in range(n):
        u = order[k]
        if state.unit_i[g, u, ALIVE] == 1:
            act(state, tables, g, u, scratch)
            note_moved(state, g, u, scratch)
    fly_missiles(state, tables, g, grids)
    collide(state, tables, g, scratch.ground, scratch.ground_xyr, grids)
    if tables.map_i[RULES] == RULES_ECONOMY:  # harvest, build, train (economy.py)
        economy_loop(state, tables, g)
    state.game[g, LOOP] += 1
    tick(state, tables, g, scratch)


@njit(cache=True)
def reset_kernel(state, tables, games, seeds, reseed, loop_limit, out, scratch):
    """Start a new episode in each of `games` (reseeding game games[i] with seeds[i] if reseed[i])."""
    scratch.grids.on[0] = 0
    for i in range(games.shape[0]):
        g = games[i]
        if reseed[i] == 1:
            state.rng[g] = seeds[i]
        state.unit_f[g] = 0.0
        state.unit_i[g] = 0
        state.order_i[g] = 0
        state.order_xy[g] = 0.0
        state.missile_i[g] = -1
        state.game[g] = 0
        state.game[g, NEXT_UID] = FIRST_UID
        state.game[g, LOOP_LIMIT] = loop_limit
        initial_spawn(state, tables, g, scratch)
        if tables.map_i[WORKERS_MINING] == 1:
            start_mining(state, g)
        note_enemies(state, g)  # SMAC's reward counts from here (reward.end_step)
        write_obs(state, tables, g, out)


@njit(cache=True)
def step_kernel(state, tables, commands, bot, step_mul, active, out, scratch):
    """Apply the `Commands`, let the enemy bot order its units, advance every active unfinished game
    `step_mul` loops, and write every game's observation into `out` (`scratch`: arena.Scratch)."""
    for k in range(commands.tag_count.shape[0]):
        if commands.tag_count[k] > scratch.command_slots.shape[0]:
            raise ValueError("a command has more unit tags than the scratch space holds")
    scratch.grids.on[0] = 0
    apply_commands(state, tables, commands, scratch.command_slots)
    game = state.game
    for g in range(game.shape[0]):
        game[g, PREV_SCORE] = game[g, SCORE]
        if game[g, DONE] == 0 and active[g] == 1:
            bot_orders(state, tables, g, bot)
            for _ in range(step_mul):
                sim_loop(state, tables, g, scratch)
                if game[g, DONE] == 1:
                    break
            end_step(state, tables, g)
        write_obs(state, tables, g, out)


# Entry points for Python callers: an engine's arrays come as the buffers of its arena (arena.py), which
# numba checks faster than the arrays themselves.
@njit(cache=True)
def reset_from_python(ibuf, fbuf, layout, games, seeds, reseed, loop_limit):
    state, tables, out, scratch, _ = unpack(ibuf, fbuf, layout)
    reset_kernel(state, tables, games, seeds, reseed, loop_limit, out, scratch)


@njit(cache=True)
def step_from_python(ibuf, fbuf, layout, ints, points, n, bot, step_mul):
    """`step_kernel` for the arena's active games and n commands packed in two arrays (`pack_commands`'s
    layout), which also take the results; returns how many commands were refused."""
    state, tables, out, scratch, active = unpack(ibuf, fbuf, layout)
    tags_end = ints.shape[0] - 2 * n
    cmds = Commands(ints[:n], ints[n:2 * n], ints[2 * n:3 * n], ints[3 * n:4 * n], ints[4 * n:5 * n],
                    ints[6 * n:tags_end], ints[5 * n:6 * n], points[:n], points[n:],
                    ints[tags_end:tags_end + n], ints[tags_end + n:])
    step_kernel(state, tables, cmds, bot, step_mul, active, out, scratch)
    refused = 0
    for k in range(n):
        refused += cmds.result[k] != 0
    return refused


def pack_commands(game, code, queued, tag_start, tag_count, target_tag, tags, x, y) -> tuple:
    """Commands (sequences of n values each, `tags` of any length) as (ints, points) for
    `step_from_python`: ints holds the six int fields, the tags, then room for result and result_arg;
    points the x then the y of each. One array per type keeps numba's per-call argument checks short."""
    n = len(code)
    ints = np.zeros(8 * n + len(tags), np.int64)
    for k, field in enumerate((game, code, queued, tag_start, tag_count, target_tag)):
        ints[k * n:(k + 1) * n] = field
    ints[6 * n:6 * n + len(tags)] = tags
    points = np.empty(2 * n, np.float64)
    points[:n], points[n:] = x, y
    return ints, points


def unpack_results(ints: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(result, result_arg) of the n commands of a packed int array, after the step."""
    return ints[len(ints) - 2 * n:len(ints) - n], ints[len(ints) - n:]
