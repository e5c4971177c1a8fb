"""Numba kernels for the economy maps' loop: workers harvest and build, structures train.

One `economy_loop` per game loop, after the units act and collide (kernel.sim_loop). Rules, after the
game (figures and sources in economy_data.py):
- Harvest trip: walk to the mineral field (or the own finished Refinery), wait while another worker
  holds it, hold it MINE_LOOPS (GAS_LOOPS inside a Refinery), take 5 minerals (4 gas), pause
  MINE_PAUSE_LOOPS (minerals; the field is free again meanwhile), carry it to the nearest finished Command
  Center, turn round (DROPOFF_LOOPS) and walk back. A worker that finds its field taken on arrival moves
  to a free field within HOP_RANGE that no one else is heading for, else waits - as in the game.
  While it holds cargo its order shows as Harvest_Return, as the game's does. A field that runs out
  vanishes; a worker whose field is gone takes the nearest other one.
- Harvesting and building workers walk through other units (the game's "mineral walk"): the economy
  keeps their position itself (state.HX, HY), so collisions do not push them; there is no path finding.
- Build: the worker walks to the site; on arrival the cost is paid and the structure placed if the site
  is still free and affordable (else the order fails and the worker idles); the worker stays busy for the
  whole build time (construction pauses while it is away).
- Train: the cost and supply are taken when a unit is queued (economy_commands.py); the head of a
  structure's queue finishes after the unit's build time and appears beside the structure.
"""

from __future__ import annotations

import math

from envs.engine.combat import face, pop_order
from envs.engine.economy_data import (
    BARRACKS,
    BUILD_LOOPS,
    COMMAND_CENTER,
    COST,
    DROPOFF_LOOPS,
    FOOD_MAX,
    FOOD_PROVIDED,
    FOOD_USED,
    FOOT_H,
    FOOT_W,
    GAS_LOOPS,
    GAS_PER_TRIP,
    GEYSER,
    HARVEST_REACH,
    HOP_RANGE,
    MARINE,
    MINE_LOOPS,
    MINE_PAUSE_LOOPS,
    MINERAL_FIELD,
    MINERALS_PER_TRIP,
    PRODUCT,
    REFINERY,
    SCV,
    SUPPLY_DEPOT,
)
from envs.engine.jit import hot, inline, kernel
from envs.engine.lookup import FAR, valid_unit
from envs.engine.maps import ECON_SCORE, PLAY_X0, PLAY_X1, PLAY_Y0, PLAY_Y1, SCORE_MARINES
from envs.engine.orders import push_order
from envs.engine.rules import spawn
from envs.engine.state import (
    ALIVE,
    BUILD_LEFT,
    BUSY_UNTIL,
    CARRY,
    CARRY_GAS,
    COLLECTED_MINERALS,
    COLLECTED_VESPENE,
    CONTENTS,
    DEPOT,
    DEPOT_TAG,
    DIST_LEFT,
    GATHER,
    HX,
    HY,
    KIND,
    LOOP,
    MINERALS,
    NUM_ORDERS,
    NUM_SLOTS,
    OWNER,
    OWNER_AGENT,
    OWNER_NEUTRAL,
    PHASE,
    PRODUCE_LEFT,
    RETURN,
    SCORE,
    SCORE_UNITS,
    SPENT_MINERALS,
    TAG,
    TARGET,
    TARGET_TAG,
    TIMER,
    TRAIN_MARINE,
    TRAIN_SCV,
    TYPE,
    VESPENE,
    WALKED_AT,
    X,
    Y,
)
from envs.engine.units import RADIUS, SPEED

# harvest phases (state.PHASE of a worker under a GATHER or RETURN order)
TO_RESOURCE, WAITING, GATHERING, PAUSING, TO_DEPOT, DROPPING = range(6)
# build phases (under a BUILD_* order)
WALKING, CONSTRUCTING = 0, 1
FRESH = FAR  # DIST_LEFT of a new current order (combat.pop_order and commands.give_order set it)


# ------------------------------------------------------------------ placement and supply
@inline
def snap(v, size):
    """Centre of a footprint `size` cells wide nearest to v: on a cell centre for odd sizes, on a grid
    line for even ones."""
    return math.floor(v) + 0.5 if size % 2 == 1 else math.floor(v + 0.5)


@kernel
def placement_ok(state, tables, g, typ, cx, cy, ignore):
    """True if typ's footprint centred at (cx, cy) lies inside the playable area and overlaps no
    structure's or resource's footprint (slot `ignore` excepted: the geyser under a Refinery)."""
    mf, uf, ui = tables.map_f, state.unit_f, state.unit_i
    w, h = FOOT_W[typ], FOOT_H[typ]
    if cx - 0.5 * w < mf[PLAY_X0] or cx + 0.5 * w > mf[PLAY_X1] or cy - 0.5 * h < mf[PLAY_Y0] \
            or cy + 0.5 * h > mf[PLAY_Y1]:
        return False
    for v in range(state.game[g, NUM_SLOTS]):
        if v == ignore or ui[g, v, ALIVE] == 0:
            continue
        vt = ui[g, v, TYPE]
        if FOOT_W[vt] == 0:
            continue
        if abs(uf[g, v, X] - cx) < 0.5 * (w + FOOT_W[vt]) - 1e-6 and \
                abs(uf[g, v, Y] - cy) < 0.5 * (h + FOOT_H[vt]) - 1e-6:
            return False
    return True


@kernel
def food(state, g):
    """(supply used, supply cap): own units plus the ones queued for training; finished Command Centers
    and Supply Depots provide, up to FOOD_MAX."""
    ui, oi = state.unit_i, state.order_i
    used, cap = 0, 0
    for u in range(state.game[g, NUM_SLOTS]):
        if ui[g, u, ALIVE] == 0 or ui[g, u, OWNER] != OWNER_AGENT:
            continue
        t = ui[g, u, TYPE]
        used += FOOD_USED[t]
        if ui[g, u, BUILD_LEFT] == 0:
            cap += FOOD_PROVIDED[t]
        for k in range(ui[g, u, NUM_ORDERS]):
            kind = oi[g, u, k, KIND]
            if kind == TRAIN_SCV or kind == TRAIN_MARINE:
                used += FOOD_USED[PRODUCT[kind]]
    return used, min(cap, FOOD_MAX)


@kernel
def has_finished(state, g, typ):
    """True if the agent owns a finished structure of this type."""
    ui = state.unit_i
    for u in range(state.game[g, NUM_SLOTS]):
        if ui[g, u, ALIVE] == 1 and ui[g, u, OWNER] == OWNER_AGENT and ui[g, u, TYPE] == typ \
                and ui[g, u, BUILD_LEFT] == 0:
            return True
    return False


@inline
def harvestable(state, g, r):
    """A mineral field, or the agent's finished Refinery with gas left."""
    ui = state.unit_i
    t = ui[g, r, TYPE]
    if t == MINERAL_FIELD:
        return ui[g, r, OWNER] == OWNER_NEUTRAL
    return t == REFINERY and ui[g, r, OWNER] == OWNER_AGENT and ui[g, r, BUILD_LEFT] == 0 \
        and ui[g, r, CONTENTS] > 0


@kernel
def nearest_of_type(state, g, x, y, typ, owner, finished):
    """Slot of the living unit of this type and owner nearest to (x, y) (finished ones only if asked);
    -1 if none."""
    uf, ui = state.unit_f, state.unit_i
    best, best_d = -1, FAR
    for v in range(state.game[g, NUM_SLOTS]):
        if ui[g, v, ALIVE] == 0 or ui[g, v, TYPE] != typ or ui[g, v, OWNER] != owner:
            continue
        if finished and ui[g, v, BUILD_LEFT] != 0:
            continue
        d = math.hypot(uf[g, v, X] - x, uf[g, v, Y] - y)
        if d < best_d:
            best, best_d = v, d
    return best


@kernel
def start_mining(state, g):
    """Give every own worker a gather order on the mineral field nearest it (the engine's hopping then
    spreads them over the free fields)."""
    uf, ui = state.unit_f, state.unit_i
    for u in range(state.game[g, NUM_SLOTS]):
        if ui[g, u, ALIVE] == 1 and ui[g, u, OWNER] == OWNER_AGENT and ui[g, u, TYPE] == SCV:
            r = nearest_of_type(state, g, uf[g, u, X], uf[g, u, Y], MINERAL_FIELD, OWNER_NEUTRAL, False)
            if r >= 0:
                push_order(state, g, u, GATHER, False, r, 0.0, 0.0)


# ------------------------------------------------------------------ movement
@inline
def walk_to(state, tables, g, u, t, reach):
    """Step the worker toward unit t, stopping `reach` short of its edge; True when there."""
    uf, ui, tf = state.unit_f, state.unit_i, tables.type_f
    dx = uf[g, t, X] - uf[g, u, X]
    dy = uf[g, t, Y] - uf[g, u, Y]
    d = math.sqrt(dx * dx + dy * dy)
    gap = d - tf[ui[g, u, TYPE], RADIUS] - tf[ui[g, t, TYPE], RADIUS] - reach
    if gap <= 1e-9:
        return True
    face(state, g, u, dx, dy)
    step = min(tf[ui[g, u, TYPE], SPEED], gap)
    uf[g, u, X] += dx / d * step
    uf[g, u, Y] += dy / d * step
    return gap - step <= 1e-9


@inline
def set_kind(state, g, u, kind, phase):
    """Switch the worker's current harvest order between GATHER and RETURN, in place."""
    state.order_i[g, u, 0, KIND] = kind
    state.unit_i[g, u, PHASE] = phase
    if kind == RETURN:
        state.unit_i[g, u, DEPOT] = -1  # the nearest Command Center is chosen afresh each trip


@inline
def retarget(state, g, u, r):
    state.order_i[g, u, 0, TARGET] = r
    state.order_i[g, u, 0, TARGET_TAG] = state.unit_i[g, r, TAG]


# ------------------------------------------------------------------ harvesting
@kernel
def heading_for(state, g, r, me):
    """True if a worker other than `me` is walking to or waiting at resource r."""
    ui, oi = state.unit_i, state.order_i
    tag = ui[g, r, TAG]
    for w in range(state.game[g, NUM_SLOTS]):
        if w == me or ui[g, w, ALIVE] == 0 or ui[g, w, NUM_ORDERS] == 0:
            continue
        if oi[g, w, 0, KIND] == GATHER and oi[g, w, 0, TARGET] == r and oi[g, w, 0, TARGET_TAG] == tag \
                and (ui[g, w, PHASE] == TO_RESOURCE or ui[g, w, PHASE] == WAITING):
            return True
    return False


@kernel
def free_neighbour(state, g, u, r):
    """A mineral field within HOP_RANGE of r, free now and that no other worker is heading for, nearest
    to worker u; -1 if none."""
    uf, ui = state.unit_f, state.unit_i
    loop = state.game[g, LOOP]
    best, best_d = -1, FAR
    for m in range(state.game[g, NUM_SLOTS]):
        if m == r or ui[g, m, ALIVE] == 0 or ui[g, m, TYPE] != MINERAL_FIELD:
            continue
        if math.hypot(uf[g, m, X] - uf[g, r, X], uf[g, m, Y] - uf[g, r, Y]) > HOP_RANGE:
            continue
        if ui[g, m, BUSY_UNTIL] > loop or heading_for(state, g, m, u):
            continue
        d = math.hypot(uf[g, m, X] - uf[g, u, X], uf[g, m, Y] - uf[g, u, Y])
        if d < best_d:
            best, best_d = m, d
    return best


@inline
def start_gathering(state, g, u, r):
    ui = state.unit_i
    hold = MINE_LOOPS if ui[g, r, TYPE] == MINERAL_FIELD else GAS_LOOPS
    ui[g, r, BUSY_UNTIL] = state.game[g, LOOP] + hold
    ui[g, u, PHASE] = GATHERING
    ui[g, u, TIMER] = hold


@kernel
def deliver(state, tables, g, u):
    """Unload the worker's cargo into the bank; the score counts it on maps scored by collection."""
    ui, game = state.unit_i, state.game
    amount = ui[g, u, CARRY]
    if ui[g, u, CARRY_GAS] == 1:
        game[g, VESPENE] += amount
        game[g, COLLECTED_VESPENE] += amount
    else:
        game[g, MINERALS] += amount
        game[g, COLLECTED_MINERALS] += amount
    if tables.map_i[ECON_SCORE] != SCORE_MARINES:
        game[g, SCORE] += amount * SCORE_UNITS
    ui[g, u, CARRY] = 0
    ui[g, u, CARRY_GAS] = 0


@kernel
def harvest(state, tables, g, u, kind):
    """One loop of a worker under a GATHER or RETURN order."""
    uf, ui, oi = state.unit_f, state.unit_i, state.order_i
    r = oi[g, u, 0, TARGET]
    r_ok = valid_unit(state, g, r, oi[g, u, 0, TARGET_TAG]) and harvestable(state, g, r)
    if kind == GATHER:
        if not r_ok:  # its field ran out (or none was given): the nearest other one
            r = nearest_of_type(state, g, uf[g, u, X], uf[g, u, Y], MINERAL_FIELD, OWNER_NEUTRAL, False)
            if r < 0:
                pop_order(state, g, u)
                return
            retarget(state, g, u, r)
        phase = ui[g, u, PHASE]
        if phase == TO_RESOURCE:
            if walk_to(state, tables, g, u, r, HARVEST_REACH):
                if ui[g, r, BUSY_UNTIL] <= state.game[g, LOOP]:
                    start_gathering(state, g, u, r)
                else:
                    m = free_neighbour(state, g, u, r) if ui[g, r, TYPE] == MINERAL_FIELD else -1
                    if m >= 0:
                        retarget(state, g, u, m)
                    else:
                        ui[g, u, PHASE] = WAITING
        elif phase == WAITING:
            if ui[g, r, BUSY_UNTIL] <= state.game[g, LOOP]:
                start_gathering(state, g, u, r)
        elif phase == GATHERING:
            ui[g, u, TIMER] -= 1
            if ui[g, u, TIMER] <= 0:
                gas = ui[g, r, TYPE] == REFINERY
                amount = min(GAS_PER_TRIP if gas else MINERALS_PER_TRIP, ui[g, r, CONTENTS])
                ui[g, r, CONTENTS] -= amount
                ui[g, u, CARRY] = amount
                ui[g, u, CARRY_GAS] = 1 if gas else 0
                if not gas and ui[g, r, CONTENTS] <= 0:
                    ui[g, r, ALIVE] = 0  # mined out: the field vanishes
                if gas:
                    set_kind(state, g, u, RETURN, TO_DEPOT)
                else:
                    ui[g, u, PHASE] = PAUSING
                    ui[g, u, TIMER] = MINE_PAUSE_LOOPS
        elif phase == PAUSING:
            ui[g, u, TIMER] -= 1
            if ui[g, u, TIMER] <= 0:
                set_kind(state, g, u, RETURN, TO_DEPOT)
        return
    # RETURN: carry the cargo home, then go back to the field
    if ui[g, u, PHASE] == DROPPING:
        ui[g, u, TIMER] -= 1
        if ui[g, u, TIMER] <= 0:
            if not r_ok:
                d = ui[g, u, DEPOT]
                r = nearest_of_type(state, g, uf[g, d, X], uf[g, d, Y], MINERAL_FIELD, OWNER_NEUTRAL, False)
                if r < 0:
                    pop_order(state, g, u)
                    return
                retarget(state, g, u, r)
            set_kind(state, g, u, GATHER, TO_RESOURCE)
        return
    if ui[g, u, CARRY] == 0:
        set_kind(state, g, u, GATHER, TO_RESOURCE)
        return
    d = ui[g, u, DEPOT]
    if not (valid_unit(state, g, d, ui[g, u, DEPOT_TAG]) and ui[g, d, BUILD_LEFT] == 0):
        d = nearest_of_type(state, g, uf[g, u, X], uf[g, u, Y], COMMAND_CENTER, OWNER_AGENT, True)
        if d < 0:
            return  # nowhere to unload: hold the cargo
        ui[g, u, DEPOT] = d
        ui[g, u, DEPOT_TAG] = ui[g, d, TAG]
        ui[g, u, PHASE] = TO_DEPOT
    if walk_to(state, tables, g, u, d, HARVEST_REACH):
        deliver(state, tables, g, u)
        ui[g, u, PHASE] = DROPPING
        ui[g, u, TIMER] = DROPOFF_LOOPS


# ------------------------------------------------------------------ building and training
@kernel
def build(state, tables, g, u, kind):
    """One loop of a worker under a BUILD_* order: walk to the site, place the structure, construct."""
    uf, ui, oi, oxy, game = state.unit_f, state.unit_i, state.order_i, state.order_xy, state.game
    typ = PRODUCT[kind]
    if ui[g, u, PHASE] == CONSTRUCTING:
        s = oi[g, u, 0, TARGET]
        if not valid_unit(state, g, s, oi[g, u, 0, TARGET_TAG]):
            pop_order(state, g, u)
            return
        ui[g, s, BUILD_LEFT] -= 1
        if ui[g, s, BUILD_LEFT] <= 0:
            ui[g, s, BUILD_LEFT] = 0
            pop_order(state, g, u)
        return
    cx, cy = oxy[g, u, 0, 0], oxy[g, u, 0, 1]
    dx, dy = cx - uf[g, u, X], cy - uf[g, u, Y]
    d = math.sqrt(dx * dx + dy * dy)
    reach = tables.type_f[ui[g, u, TYPE], RADIUS] + 0.5 * max(FOOT_W[typ], FOOT_H[typ]) + HARVEST_REACH
    if d > reach + 1e-9:
        face(state, g, u, dx, dy)
        step = min(tables.type_f[ui[g, u, TYPE], SPEED], d - reach)
        uf[g, u, X] += dx / d * step
        uf[g, u, Y] += dy / d * step
        return
    geyser = oi[g, u, 0, TARGET]
    if typ == REFINERY and not (valid_unit(state, g, geyser, oi[g, u, 0, TARGET_TAG])
                                and ui[g, geyser, TYPE] == GEYSER):
        pop_order(state, g, u)
        return
    ignore = geyser if typ == REFINERY else -1
    if game[g, MINERALS] < COST[typ] or not placement_ok(state, tables, g, typ, cx, cy, ignore) or (
            typ == BARRACKS and not has_finished(state, g, SUPPLY_DEPOT)):
        pop_order(state, g, u)  # the game refuses it now: the worker idles
        return
    s = spawn(state, tables, g, typ, OWNER_AGENT, cx, cy, -1.0, -1.0)
    if s < 0:
        pop_order(state, g, u)
        return
    game[g, MINERALS] -= COST[typ]
    game[g, SPENT_MINERALS] += COST[typ]
    ui[g, s, BUILD_LEFT] = BUILD_LOOPS[typ]
    if typ == REFINERY:
        ui[g, s, CONTENTS] = ui[g, geyser, CONTENTS]
    oi[g, u, 0, TARGET] = s
    oi[g, u, 0, TARGET_TAG] = ui[g, s, TAG]
    ui[g, u, PHASE] = CONSTRUCTING


@kernel
def produce(state, tables, g, s):
    """One loop of a finished structure's training queue: the head unit appears when its time is up."""
    ui, uf, oi = state.unit_i, state.unit_f, state.order_i
    kind = oi[g, s, 0, KIND]
    if kind != TRAIN_SCV and kind != TRAIN_MARINE:
        return
    ui[g, s, PRODUCE_LEFT] -= 1
    if ui[g, s, PRODUCE_LEFT] > 0:
        return
    typ = PRODUCT[kind]
    below = tables.type_f[ui[g, s, TYPE], RADIUS] + tables.type_f[typ, RADIUS]
    spawn(state, tables, g, typ, OWNER_AGENT, uf[g, s, X], uf[g, s, Y] - below, -1.0, -1.0)
    if typ == MARINE and tables.map_i[ECON_SCORE] == SCORE_MARINES:
        state.game[g, SCORE] += SCORE_UNITS
    pop_order(state, g, s)
    if ui[g, s, NUM_ORDERS] > 0:
        ui[g, s, PRODUCE_LEFT] = BUILD_LOOPS[PRODUCT[oi[g, s, 0, KIND]]]


# ------------------------------------------------------------------ the loop
@hot
def economy_loop(state, tables, g):
    """One game loop of every economy order: production, then each worker's harvest or build step."""
    uf, ui, oi = state.unit_f, state.unit_i, state.order_i
    loop = state.game[g, LOOP]
    for u in range(state.game[g, NUM_SLOTS]):
        if ui[g, u, ALIVE] == 0 or ui[g, u, OWNER] != OWNER_AGENT or ui[g, u, NUM_ORDERS] == 0:
            continue
        kind = oi[g, u, 0, KIND]
        if kind < GATHER:
            continue
        if kind == TRAIN_SCV or kind == TRAIN_MARINE:
            if ui[g, u, BUILD_LEFT] == 0:
                produce(state, tables, g, u)
            continue
        if ui[g, u, WALKED_AT] == loop - 1:  # undo the collision pushes of this loop: it walks through
            uf[g, u, X], uf[g, u, Y] = uf[g, u, HX], uf[g, u, HY]
        if uf[g, u, DIST_LEFT] >= FRESH:  # a new current order starts at its first phase
            uf[g, u, DIST_LEFT] = 0.0
            ui[g, u, PHASE] = TO_DEPOT if kind == RETURN else TO_RESOURCE
            ui[g, u, DEPOT] = -1
        if kind == GATHER or kind == RETURN:
            harvest(state, tables, g, u, kind)
        else:
            build(state, tables, g, u, kind)
        uf[g, u, HX], uf[g, u, HY] = uf[g, u, X], uf[g, u, Y]
        ui[g, u, WALKED_AT] = loop
