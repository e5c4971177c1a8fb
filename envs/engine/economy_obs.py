"""Numba kernels writing the economy's raw-observation columns and player vector (pysc2 4.0.0
lib/features.py: build_progress and order_progress in percent, mineral_contents, vespene_contents,
assigned_harvesters and ideal_harvesters for own bases and refineries, the carry buff of a worker;
the `player` vector's minerals, vespene, food and idle workers; `score_cumulative`'s collected and spent
resources)."""

from __future__ import annotations

import math

from envs.engine.economy import food
from envs.engine.economy_data import (
    BASE_RADIUS,
    BUFF_CARRY_GAS,
    BUFF_CARRY_MINERALS,
    BUILD_LOOPS,
    COMMAND_CENTER,
    GEYSER,
    IDEAL_PER_PATCH,
    IDEAL_PER_REFINERY,
    MARINE,
    MINERAL_FIELD,
    PRODUCT,
    REFINERY,
    SCV,
)
from envs.engine.jit import kernel
from envs.engine.state import (
    ALIVE,
    BUILD_LEFT,
    CARRY,
    CARRY_GAS,
    COLLECTED_MINERALS,
    COLLECTED_VESPENE,
    CONTENTS,
    GATHER,
    KIND,
    MINERALS,
    NUM_ORDERS,
    NUM_SLOTS,
    OWNER,
    OWNER_AGENT,
    PRODUCE_LEFT,
    RETURN,
    SPENT_MINERALS,
    SPENT_VESPENE,
    TARGET,
    TYPE,
    VESPENE,
    X,
    Y,
)
from envs.raw_schema import FeatureUnit as FU
from envs.raw_schema import Player as PL

C_BUILD, C_MINERALS, C_VESPENE = int(FU.build_progress), int(FU.mineral_contents), int(FU.vespene_contents)
C_ASSIGNED, C_IDEAL, C_BUFF = int(FU.assigned_harvesters), int(FU.ideal_harvesters), int(FU.buff_id_0)
C_PROGRESS = int(FU.order_progress_0)
P_MINERALS, P_VESPENE, P_FOOD_USED, P_FOOD_CAP = (int(PL.minerals), int(PL.vespene), int(PL.food_used),
                                                  int(PL.food_cap))
P_FOOD_ARMY, P_FOOD_WORKERS, P_IDLE, P_ARMY = (int(PL.food_army), int(PL.food_workers),
                                               int(PL.idle_worker_count), int(PL.army_count))
# pysc2 lib/features.py ScoreCumulative columns
S_COLLECTED_MINERALS, S_COLLECTED_VESPENE, S_SPENT_MINERALS, S_SPENT_VESPENE = 7, 8, 11, 12


@kernel
def harvesters(state, g, r):
    """Workers whose harvest order targets resource r (a field or a refinery)."""
    ui, oi = state.unit_i, state.order_i
    n = 0
    for w in range(state.game[g, NUM_SLOTS]):
        if ui[g, w, ALIVE] == 1 and ui[g, w, NUM_ORDERS] > 0 and oi[g, w, 0, TARGET] == r:
            kind = oi[g, w, 0, KIND]
            n += 1 if kind == GATHER or kind == RETURN else 0
    return n


@kernel
def base_harvesters(state, g, cc):
    """(assigned, ideal) harvesters of a Command Center: workers on the mineral fields near it, and two a
    field."""
    uf, ui = state.unit_f, state.unit_i
    assigned, fields = 0, 0
    for m in range(state.game[g, NUM_SLOTS]):
        if ui[g, m, ALIVE] == 1 and ui[g, m, TYPE] == MINERAL_FIELD and \
                math.hypot(uf[g, m, X] - uf[g, cc, X], uf[g, m, Y] - uf[g, cc, Y]) <= BASE_RADIUS:
            fields += 1
            assigned += harvesters(state, g, m)
    return assigned, IDEAL_PER_PATCH * fields


@kernel
def economy_row(state, g, u, row):
    """The economy columns of unit u's raw_units row (the rest written by obs.write_obs)."""
    ui = state.unit_i
    t = ui[g, u, TYPE]
    left = ui[g, u, BUILD_LEFT]
    if left > 0:
        row[C_BUILD] = int((1.0 - left / BUILD_LOOPS[t]) * 100.0)
    if t == MINERAL_FIELD:
        row[C_MINERALS] = ui[g, u, CONTENTS]
    elif t == GEYSER or t == REFINERY:
        row[C_VESPENE] = ui[g, u, CONTENTS]
    if ui[g, u, OWNER] != OWNER_AGENT:
        return
    if left == 0 and t == COMMAND_CENTER:
        row[C_ASSIGNED], row[C_IDEAL] = base_harvesters(state, g, u)
    elif left == 0 and t == REFINERY:
        row[C_ASSIGNED], row[C_IDEAL] = harvesters(state, g, u), IDEAL_PER_REFINERY
    if ui[g, u, CARRY] > 0:
        row[C_BUFF] = BUFF_CARRY_GAS if ui[g, u, CARRY_GAS] == 1 else BUFF_CARRY_MINERALS
    if ui[g, u, NUM_ORDERS] > 0:
        kind = state.order_i[g, u, 0, KIND]
        product = PRODUCT[kind] if kind < PRODUCT.shape[0] else -1
        if product >= 0 and ui[g, u, PRODUCE_LEFT] > 0 and (product == SCV or product == MARINE):
            row[C_PROGRESS] = int((1.0 - ui[g, u, PRODUCE_LEFT] / BUILD_LOOPS[product]) * 100.0)


@kernel
def economy_player(state, g, player, score):
    """The economy entries of the player vector and score_cumulative."""
    ui, game = state.unit_i, state.game
    used, cap = food(state, g)
    workers, army, idle = 0, 0, 0
    for u in range(game[g, NUM_SLOTS]):
        if ui[g, u, ALIVE] == 1 and ui[g, u, OWNER] == OWNER_AGENT:
            t = ui[g, u, TYPE]
            if t == SCV:
                workers += 1
                idle += 1 if ui[g, u, NUM_ORDERS] == 0 else 0
            elif t == MARINE:
                army += 1
    player[P_MINERALS] = game[g, MINERALS]
    player[P_VESPENE] = game[g, VESPENE]
    player[P_FOOD_USED] = used
    player[P_FOOD_CAP] = cap
    player[P_FOOD_ARMY] = army
    player[P_FOOD_WORKERS] = workers
    player[P_IDLE] = idle
    player[P_ARMY] = army
    score[S_COLLECTED_MINERALS] = game[g, COLLECTED_MINERALS]
    score[S_COLLECTED_VESPENE] = game[g, COLLECTED_VESPENE]
    score[S_SPENT_MINERALS] = game[g, SPENT_MINERALS]
    score[S_SPENT_VESPENE] = game[g, SPENT_VESPENE]
