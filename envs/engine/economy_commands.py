"""Numba kernels checking and applying the economy's raw commands: harvest, build, train.

A command the game would refuse is rejected as a whole with a reason (codes below; engine.py words them)
and changes nothing. Costs: a structure's minerals are checked when ordered and paid when the worker
starts it (economy.build); a unit's minerals and supply are taken when it is queued, as the game does.
One command trains one unit, on the least busy of the structures it names (the game's behaviour for a
group of selected structures); one command builds one structure, with its first worker.
"""

from __future__ import annotations

from envs.engine.economy import food, harvestable, has_finished, placement_ok, snap
from envs.engine.economy_data import (
    BARRACKS,
    BUILD_LOOPS,
    CMD_BUILD_REFINERY,
    CMD_FIRST_ECONOMY,
    CMD_GATHER,
    CMD_RETURN,
    CMD_TRAIN_MARINE,
    CMD_TRAIN_SCV,
    COST,
    FOOD_USED,
    FOOT_H,
    FOOT_W,
    GEYSER,
    PRODUCER,
    PRODUCT,
    PRODUCTION_QUEUE,
    SCV,
    SUPPLY_DEPOT,
)
from envs.engine.jit import kernel
from envs.engine.maps import ECON_FUNCTIONS, MAP_HEIGHT
from envs.engine.orders import (
    ACCEPTED,
    BAD_TAG,
    BAD_TARGET_TAG,
    GAME_OVER,
    NOT_OWN_UNIT,
    OFF_MAP,
    QUEUE_FULL,
    decode_tag,
    push_order,
)
from envs.engine.state import (
    BUILD_LEFT,
    CARRY,
    DONE,
    GATHER,
    KIND,
    MAX_ORDERS,
    MINERALS,
    NUM_ORDERS,
    OWNER,
    OWNER_AGENT,
    PRODUCE_LEFT,
    RETURN,
    SPENT_MINERALS,
    TAG,
    TARGET,
    TYPE,
)

# --- results beyond the shared ones (orders.py); engine.REASONS words them
NOT_ENOUGH_MINERALS, NOT_ENOUGH_SUPPLY, CANT_PLACE, NEEDS_SUPPLY_DEPOT, WRONG_UNIT, NOT_HARVESTABLE, \
    NOTHING_TO_RETURN, NOT_ON_THIS_MAP, NOT_A_FREE_GEYSER, UNFINISHED = range(40, 50)
ECONOMY_REASONS = {
    NOT_ENOUGH_MINERALS: "not enough minerals",
    NOT_ENOUGH_SUPPLY: "not enough supply: build a Supply Depot",
    CANT_PLACE: "cannot place the structure there (outside the playable area or overlapping)",
    NEEDS_SUPPLY_DEPOT: "a Barracks needs a finished Supply Depot",
    WRONG_UNIT: "this unit cannot do that",
    NOT_HARVESTABLE: "target is not a mineral field or an own finished Refinery with gas",
    NOTHING_TO_RETURN: "the worker carries nothing",
    NOT_ON_THIS_MAP: "this map does not allow that function",
    NOT_A_FREE_GEYSER: "target is not a vespene geyser free of a Refinery",
    UNFINISHED: "the structure is not finished",
}
ECONOMY_TAG_REASONS = frozenset({WRONG_UNIT, NOTHING_TO_RETURN, UNFINISHED})


@kernel
def economy_command(state, tables, cmds, k, slots):
    """Check command k (an economy CMD_* code) and apply it if the game would; returns (result, offending
    tag or 0)."""
    g, f, queued = cmds.game[k], cmds.code[k], cmds.queued[k] == 1
    ui, game = state.unit_i, state.game
    if game[g, DONE] == 1:
        return GAME_OVER, 0
    if (tables.map_i[ECON_FUNCTIONS] >> (f - CMD_FIRST_ECONOMY)) & 1 == 0:
        return NOT_ON_THIS_MAP, 0
    kind = f - CMD_FIRST_ECONOMY + GATHER  # the order kinds follow the codes' order
    train = f == CMD_TRAIN_SCV or f == CMD_TRAIN_MARINE
    n = cmds.tag_count[k]
    for i in range(n):
        tag = cmds.tags[cmds.tag_start[k] + i]
        s = decode_tag(state, g, tag)
        if s < 0:
            return BAD_TAG, tag
        if ui[g, s, OWNER] != OWNER_AGENT:
            return NOT_OWN_UNIT, tag
        need = PRODUCER[kind] if train else SCV
        if ui[g, s, TYPE] != need:
            return WRONG_UNIT, tag
        if ui[g, s, BUILD_LEFT] != 0:
            return UNFINISHED, tag
        if f == CMD_RETURN and ui[g, s, CARRY] == 0:
            return NOTHING_TO_RETURN, tag
        if queued and not train and ui[g, s, NUM_ORDERS] >= MAX_ORDERS:
            return QUEUE_FULL, tag
        slots[i] = s
    if train:
        return train_unit(state, g, kind, slots, n)
    if f == CMD_GATHER:
        t = decode_tag(state, g, cmds.target_tag[k])
        if t < 0:
            return BAD_TARGET_TAG, cmds.target_tag[k]
        if not harvestable(state, g, t):
            return NOT_HARVESTABLE, 0
        for i in range(n):
            u = slots[i]
            # a worker with cargo takes it home first (its trip then goes on to t)
            carrying = ui[g, u, CARRY] > 0 and not queued
            push_order(state, g, u, RETURN if carrying else GATHER, queued, t, 0.0, 0.0)
        return ACCEPTED, 0
    if f == CMD_RETURN:
        for i in range(n):
            u = slots[i]
            t = -1
            if ui[g, u, NUM_ORDERS] > 0 and (state.order_i[g, u, 0, KIND] == GATHER or
                                             state.order_i[g, u, 0, KIND] == RETURN):
                t = state.order_i[g, u, 0, TARGET]  # back to the same field afterwards
            push_order(state, g, u, RETURN, queued, t, 0.0, 0.0)
        return ACCEPTED, 0
    # build
    typ = PRODUCT[kind]
    geyser = -1
    if f == CMD_BUILD_REFINERY:
        geyser = decode_tag(state, g, cmds.target_tag[k])
        if geyser < 0:
            return BAD_TARGET_TAG, cmds.target_tag[k]
        if ui[g, geyser, TYPE] != GEYSER:
            return NOT_A_FREE_GEYSER, 0
        cx, cy = state.unit_f[g, geyser, 0], state.unit_f[g, geyser, 1]
    else:
        h = tables.map_f[MAP_HEIGHT]
        wx, wy = cmds.x[k], h - cmds.y[k]  # raw pixels, y flipped (pysc2 lib/features.py)
        if not (0.0 <= wx < h and 0.0 <= wy < h):
            return OFF_MAP, 0
        cx, cy = snap(wx, FOOT_W[typ]), snap(wy, FOOT_H[typ])
    if game[g, MINERALS] < COST[typ]:
        return NOT_ENOUGH_MINERALS, 0
    if typ == BARRACKS and not has_finished(state, g, SUPPLY_DEPOT):
        return NEEDS_SUPPLY_DEPOT, 0
    if not placement_ok(state, tables, g, typ, cx, cy, geyser):
        return NOT_A_FREE_GEYSER if geyser >= 0 else CANT_PLACE, 0
    push_order(state, g, slots[0], kind, queued, geyser, cx, cy)
    return ACCEPTED, 0


@kernel
def train_unit(state, g, kind, slots, n):
    """Queue one unit of this kind on the named structure with the shortest queue, paying for it."""
    ui, game = state.unit_i, state.game
    typ = PRODUCT[kind]
    best, best_n = -1, PRODUCTION_QUEUE
    for i in range(n):
        s = slots[i]
        if ui[g, s, NUM_ORDERS] < best_n:
            best, best_n = s, ui[g, s, NUM_ORDERS]
    if best < 0:
        return QUEUE_FULL, ui[g, slots[0], TAG]
    if game[g, MINERALS] < COST[typ]:
        return NOT_ENOUGH_MINERALS, 0
    used, cap = food(state, g)
    if used + FOOD_USED[typ] > cap:
        return NOT_ENOUGH_SUPPLY, 0
    game[g, MINERALS] -= COST[typ]
    game[g, SPENT_MINERALS] += COST[typ]
    push_order(state, g, best, kind, True, -1, 0.0, 0.0)
    if ui[g, best, NUM_ORDERS] == 1:
        ui[g, best, PRODUCE_LEFT] = BUILD_LOOPS[typ]
    return ACCEPTED, 0
