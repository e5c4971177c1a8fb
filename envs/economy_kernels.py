"""Compiled economy parts of the entity observation (numba): the economy's entity columns, its scalars and
the action mask of its verbs, for the economy maps only (`EntitySpec.economy`).

A verb is legal when the game would accept it, as far as the observation tells (pysc2 raw_units and the
`player` vector; the engine's checks are in envs/engine/economy_commands.py): the right unit type,
finished, the minerals and supply, the map's allowed functions, a target of the right kind, and for a
build at a cell a site inside the playable area that overlaps no structure or resource (the footprint
test the game's placement grid makes). What the observation cannot tell - another worker already on its
way to the same site, two structures training on the last free supply in one step - the game refuses and
the env counts as rejected commands.

Three rules are the layout's, not the game's, because every unit chooses every step here where an agent
through pysc2's interface commands only the units it selects:
- A worker on its way to build, or building, may only keep at it (no-op). The game would take another
  order and leave the site half-built; sampling policies pulled their builders back to mining before any
  Supply Depot finished (docs/traces/BuildMarines_spending_reward.json).
- Minerals are spent once. The game checks a structure's cost when it is ordered and takes it when the
  worker starts building, so it accepts as many build orders as workers are given on the same minerals,
  and all but the first walk to their sites for nothing: in a sampled BuildMarines game, at step 400 one
  Barracks had been started, 4 more SCVs were walking to other sites with too little left to pay, and 6
  stood idle after theirs had failed (docs/traces/BuildMarines_workers_unpaid_405k_sampled.json).
  So a verb that costs minerals is legal only while the bank, less what the workers already on their way
  to build will pay (`spendable_minerals`), covers it; and of one step's actions the env sends those that
  cost minerals in slot order while the step's spendable minerals last, the rest becoming no-ops
  (`withhold_unaffordable`; a step's info counts them as `withheld_actions`).
- One worker a step may build: the first in slot order that is not already building. With every worker
  free to build, a worker that held back changed nothing, as another built on the same minerals a step
  later, so no worker's choice carried the cost of a needless structure: a BuildMarines policy bought a
  Supply Depot whenever it had 100 minerals, 39 in a game, and never saved the 150 of a Barracks
  (docs/traces/BuildMarines_mining_start_200k_sampled.json). A player through pysc2 also sends one
  worker at a time.

One more keeps a degenerate spend out of the choices: a Supply Depot is offered only while the supply
free, counting what the structures under way will add, is below two depots' worth (`DEPOT_HEADROOM`).
Paid for the depots its supply needed, a BuildMarines policy went on to buy one whenever it had 100
minerals, 57 in a game, and never saved the 150 of a Barracks
(docs/traces/BuildMarines_needed_depots_300k.json): once all income goes to depots, one now costs no
more than one later, so nothing taught it to save. No sensible player wants more headroom.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from envs.action_space import Verb
from envs.engine.economy_data import COST, FOOD_MAX, FOOD_PROVIDED, FOOT_H, FOOT_W, PRODUCTION_QUEUE
from envs.engine.units import UNIT_INDEX, UNIT_TYPES
from envs.raw_schema import FeatureUnit as FU
from envs.raw_schema import OrderId
from envs.raw_schema import Player as PL

_SELF, _NEUTRAL = 1, 3  # pysc2 PlayerRelative


def _sc2_id(name: str) -> int:
    return UNIT_TYPES[UNIT_INDEX[name]].sc2_id


SCV, MARINE, COMMAND_CENTER = _sc2_id("SCV"), _sc2_id("Marine"), _sc2_id("CommandCenter")
SUPPLY_DEPOT, BARRACKS, REFINERY = _sc2_id("SupplyDepot"), _sc2_id("Barracks"), _sc2_id("Refinery")
MINERAL_FIELD, GEYSER = _sc2_id("MineralField"), _sc2_id("VespeneGeyser")
# Footprint (w, h) on the placement grid by raw unit-type id; 0 for units that take no room.
FOOTPRINT = np.zeros((max(t.sc2_id for t in UNIT_TYPES) + 1, 2), np.int64)
for _t in UNIT_TYPES:
    FOOTPRINT[_t.sc2_id] = FOOT_W[UNIT_INDEX[_t.name]], FOOT_H[UNIT_INDEX[_t.name]]
# Supply provided by raw unit-type id.
SUPPLY_PROVIDED = np.zeros(FOOTPRINT.shape[0], np.int64)
for _t in UNIT_TYPES:
    SUPPLY_PROVIDED[_t.sc2_id] = FOOD_PROVIDED[UNIT_INDEX[_t.name]]
# Free supply (counting what is under way) below which a Supply Depot is offered: two depots' worth, as
# eight Barracks (the scripted player's most) and a Command Center producing use about 11 supply in the
# time a depot takes to build (Marine 400 loops, SCV 272, depot 480: envs/engine/economy_data.py).
DEPOT_HEADROOM = 2 * int(SUPPLY_PROVIDED[_sc2_id("SupplyDepot")])
# The three structures built at a cell, in the order of the BUILD_*_POINT verbs (action_space.Verb):
BUILT_AT_CELL = (SUPPLY_DEPOT, BARRACKS, COMMAND_CENTER)
BUILD_COST = np.array([COST[UNIT_INDEX[n]] for n in ("SupplyDepot", "Barracks", "CommandCenter")], np.int64)
REFINERY_COST, SCV_COST, MARINE_COST = (int(COST[UNIT_INDEX[n]]) for n in ("Refinery", "SCV", "Marine"))
# pysc2 lib/buffs.py: a worker carrying minerals / gas
CARRY_BUFFS = (271, 272, 273, 274)  # CarryMineralFieldMinerals, CarryHighYield..., CarryHarvestableVespene...
HARVEST_ORDERS = (int(OrderId.Harvest_Gather_SCV), int(OrderId.Harvest_Return_SCV))
BUILD_ORDERS = (int(OrderId.Build_SupplyDepot), int(OrderId.Build_Barracks), int(OrderId.Build_CommandCenter),
                int(OrderId.Build_Refinery))

# The structure each of BUILD_ORDERS places, and what the worker pays when it starts it.
_BUILT_BY_ORDER = (SUPPLY_DEPOT, BARRACKS, COMMAND_CENTER, REFINERY)
_ORDER_COST = np.array([*BUILD_COST, REFINERY_COST], np.int64)
# Minerals per economy verb (action_space.Verb value), 0 for the verbs that cost nothing.
VERB_COST = np.zeros(max(Verb) + 1, np.int64)
VERB_COST[[Verb.BUILD_SUPPLY_DEPOT, Verb.BUILD_BARRACKS, Verb.BUILD_COMMAND_CENTER]] = BUILD_COST
VERB_COST[[Verb.BUILD_REFINERY, Verb.TRAIN_SCV, Verb.TRAIN_MARINE]] = REFINERY_COST, SCV_COST, MARINE_COST

ECONOMY_COLUMNS = (  # entity columns after the shared ones, in the order `economy_columns` writes them
    "build_progress",  # 0..1, 1 = finished
    "carrying",  # a worker holding minerals or gas
    "order_harvest",  # current order gathers or returns cargo
    "order_build",  # current order builds a structure
    "queue",  # orders queued (a structure's training queue) / 5
    "contents",  # minerals or gas left in a resource / 1000
    "harvesters",  # assigned harvesters of an own base or refinery / 16
    "ideal_harvesters",  # / 16
)
ECONOMY_SCALARS = (  # scalars after the shared ones, in the order `economy_scalars` writes them
    "minerals",  # the bank / 500
    "vespene",  # / 500
    "food_used",  # supply used / 100
    "food_cap",  # supply provided / 100
    "idle_workers",  # / 12 (the maps' starting SCVs)
)


@njit(cache=True)
def _is_building(row):
    """A worker whose current order builds a structure (on its way, or building)."""
    order = row[FU.order_id_0]
    return row[FU.order_length] > 0 and (order == BUILD_ORDERS[0] or order == BUILD_ORDERS[1] or
                                          order == BUILD_ORDERS[2] or order == BUILD_ORDERS[3])


@njit(cache=True)
def unstarted_builds(u, n):
    """Per kind of _BUILT_BY_ORDER, the own build orders whose structure is not begun (raw rows u[:n]): a
    worker keeps its build order while it constructs, so the orders beyond the own structures under
    construction of that kind are the ones not yet begun, nor paid."""
    unstarted = np.zeros(len(_BUILT_BY_ORDER), np.int64)
    for r in range(n):
        if u[r, FU.alliance] != _SELF:
            continue
        for k in range(len(_BUILT_BY_ORDER)):
            if u[r, FU.order_length] > 0 and u[r, FU.order_id_0] == BUILD_ORDERS[k]:
                unstarted[k] += 1
            if u[r, FU.unit_type] == _BUILT_BY_ORDER[k] and u[r, FU.build_progress] < 100:
                unstarted[k] -= 1
    return np.maximum(unstarted, 0)


@njit(cache=True)
def _spendable(player, unstarted):
    return player[PL.minerals] - (unstarted * _ORDER_COST).sum()


@njit(cache=True)
def spendable_minerals(u, n, player):
    """The bank less what the own workers on their way to build will pay when they start them."""
    return _spendable(player, unstarted_builds(u, n))


@njit(cache=True)
def supply_under_way(u, n, unstarted):
    """The supply that the own structures under construction (raw rows u[:n]), and the build orders not yet
    begun (`unstarted`, as `unstarted_builds` counts them), will add when they finish."""
    coming = 0
    for r in range(n):
        t = u[r, FU.unit_type]
        if u[r, FU.alliance] == _SELF and 0 <= t < SUPPLY_PROVIDED.shape[0] and u[r, FU.build_progress] < 100:
            coming += SUPPLY_PROVIDED[t]
    for k in range(len(_BUILT_BY_ORDER)):
        coming += unstarted[k] * SUPPLY_PROVIDED[_BUILT_BY_ORDER[k]]
    return coming


@njit(cache=True)
def withhold_unaffordable(actions, cost_of_action, spendable, active, sent, withheld):
    """sent [B, U] = actions [B, U], but that in each active game b, taken in slot order, an action whose
    cost_of_action[a] exceeds what is left of spendable[b] after the earlier units' becomes a no-op (0);
    withheld [B] counts those."""
    for b in range(actions.shape[0]):
        withheld[b] = 0
        left = spendable[b]
        for unit in range(actions.shape[1]):
            a = actions[b, unit]
            sent[b, unit] = a
            if not active[b] or a < 0 or a >= cost_of_action.shape[0] or cost_of_action[a] == 0:
                continue
            if cost_of_action[a] <= left:
                left -= cost_of_action[a]
            else:
                sent[b, unit] = 0
                withheld[b] += 1


@njit(cache=True)
def economy_columns(row, f, start):
    """Write ECONOMY_COLUMNS of one raw unit row into f[start:]."""
    busy = row[FU.order_length] > 0
    order = row[FU.order_id_0]
    buff = row[FU.buff_id_0]
    f[start] = row[FU.build_progress] / 100.0
    f[start + 1] = buff == CARRY_BUFFS[0] or buff == CARRY_BUFFS[1] or buff == CARRY_BUFFS[2] or \
        buff == CARRY_BUFFS[3]
    f[start + 2] = busy and (order == HARVEST_ORDERS[0] or order == HARVEST_ORDERS[1])
    f[start + 3] = _is_building(row)
    f[start + 4] = row[FU.order_length] / PRODUCTION_QUEUE
    f[start + 5] = (row[FU.mineral_contents] + row[FU.vespene_contents]) / 1000.0
    f[start + 6] = row[FU.assigned_harvesters] / 16.0
    f[start + 7] = row[FU.ideal_harvesters] / 16.0


@njit(cache=True)
def economy_scalars(player, sc, start):
    sc[start] = player[PL.minerals] / 500.0
    sc[start + 1] = player[PL.vespene] / 500.0
    sc[start + 2] = player[PL.food_used] / 100.0
    sc[start + 3] = player[PL.food_cap] / 100.0
    sc[start + 4] = player[PL.idle_worker_count] / 12.0


@njit(cache=True)
def _site_free(u, pos, n, cx, cy, w, h, playable):
    """The footprint w x h centred at (cx, cy) lies in the playable area and overlaps no unit's footprint."""
    if cx - 0.5 * w < playable[0] or cx + 0.5 * w > playable[2] or cy - 0.5 * h < playable[1] \
            or cy + 0.5 * h > playable[3]:
        return False
    for r in range(n):
        t = u[r, FU.unit_type]
        if t < 0 or t >= FOOTPRINT.shape[0] or FOOTPRINT[t, 0] == 0:
            continue
        if abs(pos[r, 0] - cx) < 0.5 * (w + FOOTPRINT[t, 0]) - 1e-6 and \
                abs(pos[r, 1] - cy) < 0.5 * (h + FOOTPRINT[t, 1]) - 1e-6:
            return False
    return True


@njit(cache=True)
def _finished_own(u, r, typ):
    return u[r, FU.alliance] == _SELF and u[r, FU.unit_type] == typ and u[r, FU.build_progress] == 100


@njit(cache=True)
def economy_mask(u, pos, n, rows, player, segments, allowed, playable, sites, out):
    """The economy's part of one game's action mask out [U, A] (the combat verbs' part already written):
    structures lose the combat verbs (they neither move nor attack), and each verb the game would
    accept is set. segments: the layout's starts of GATHER, RETURN, the three cell builds, BUILD_REFINERY,
    TRAIN_SCV, TRAIN_MARINE; allowed: bit v - GATHER for each verb the map allows; sites [3, G, 2]: the
    world centre where the structure of each cell build would stand."""
    U, A = out.shape
    N, G = rows.shape[0], sites.shape[1]
    seg_gather, seg_return, seg_build, seg_refinery, seg_scv, seg_marine = segments[0], segments[1], \
        segments[2:5], segments[5], segments[6], segments[7]
    out[:, seg_gather:] = 0  # the combat part set every action from its first point verb on
    unstarted = unstarted_builds(u, n)
    minerals = _spendable(player, unstarted)
    free_food = player[PL.food_cap] - player[PL.food_used]
    cap_to_come = player[PL.food_cap] + supply_under_way(u, n, unstarted)
    depot_offered = cap_to_come - player[PL.food_used] < DEPOT_HEADROOM and cap_to_come < FOOD_MAX
    has_depot = False
    for r in range(n):
        has_depot = has_depot or _finished_own(u, r, SUPPLY_DEPOT)
    build_ok = np.zeros((3, G), np.bool_)
    for v in range(3):
        if (allowed >> (2 + v)) & 1 == 0 or minerals < BUILD_COST[v]:
            continue
        if BUILT_AT_CELL[v] == BARRACKS and not has_depot:
            continue
        if BUILT_AT_CELL[v] == SUPPLY_DEPOT and not depot_offered:
            continue
        w, h = FOOTPRINT[BUILT_AT_CELL[v], 0], FOOTPRINT[BUILT_AT_CELL[v], 1]
        for c in range(G):
            build_ok[v, c] = _site_free(u, pos, n, sites[v, c, 0], sites[v, c, 1], w, h, playable)
    gatherable = np.zeros(N, np.bool_)
    geyser_free = np.zeros(N, np.bool_)
    refinery_ok = (allowed >> 5) & 1 == 1 and minerals >= REFINERY_COST
    for j in range(N):
        r = rows[j]
        if r < 0:
            continue
        t = u[r, FU.unit_type]
        if t == MINERAL_FIELD and u[r, FU.alliance] == _NEUTRAL:
            gatherable[j] = True
        elif _finished_own(u, r, REFINERY) and u[r, FU.vespene_contents] > 0:
            gatherable[j] = True
        elif t == GEYSER and refinery_ok:
            taken = False
            for q in range(n):
                if u[q, FU.unit_type] == REFINERY and abs(pos[q, 0] - pos[r, 0]) < 0.5 and \
                        abs(pos[q, 1] - pos[r, 1]) < 0.5:
                    taken = True
            geyser_free[j] = not taken
    gather_ok = (allowed & 1) == 1
    builder_free = True  # no worker given the build verbs yet this step
    for s in range(U):
        r = rows[s]
        if r < 0:
            continue
        t = u[r, FU.unit_type]
        if t >= 0 and t < FOOTPRINT.shape[0] and FOOTPRINT[t, 0] > 0:  # a structure: trains, if anything
            out[s, 1:] = 0
            queue_free = u[r, FU.order_length] < PRODUCTION_QUEUE and free_food >= 1
            if _finished_own(u, r, COMMAND_CENTER) and (allowed >> 6) & 1 == 1:
                out[s, seg_scv] = queue_free and minerals >= SCV_COST
            elif _finished_own(u, r, BARRACKS) and (allowed >> 7) & 1 == 1:
                out[s, seg_marine] = queue_free and minerals >= MARINE_COST
            continue
        if t != SCV or u[r, FU.alliance] != _SELF:
            continue
        if _is_building(u[r]):  # keeps at its structure: no-op only (module docstring)
            out[s, 1:] = 0
            continue
        builds = builder_free  # the step's one builder (module docstring)
        builder_free = False
        for j in range(N):
            out[s, seg_gather + j] = gather_ok and gatherable[j]
            out[s, seg_refinery + j] = builds and geyser_free[j]
        buff = u[r, FU.buff_id_0]
        carrying = buff == CARRY_BUFFS[0] or buff == CARRY_BUFFS[1] or buff == CARRY_BUFFS[2] or \
            buff == CARRY_BUFFS[3]
        out[s, seg_return] = (allowed >> 1) & 1 == 1 and carrying
        for v in range(3):
            for c in range(G):
                out[s, seg_build[v] + c] = builds and build_ok[v, c]
