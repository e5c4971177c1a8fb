"""The engine's state: a `State` of named arrays, one row per game, and the names of their columns.

The simulation is struct-of-arrays (what lets numba run it fast): a few dense arrays with a leading games
axis B and a unit-slot axis M, whose columns are named by the module-level ints below (numba reads them
as compile-time constants). The read-only data the kernels consult (unit types, map rules) is `Tables`.

    state.unit_f[g, u, HEALTH]          unit u of game g: floats
    state.unit_i[g, u, OWNER]           unit u of game g: ints
    state.order_i[g, u, k, KIND]        the k-th queued order of unit u (0 is the current one)
    state.order_xy[g, u, k, 0 | 1]      its target point (world x, y)
    state.game[g, LOOP]                 game g: ints
    state.missile_i[g, k, MISSILE_TARGET]   missile k in flight: ints
    state.missile_xy[g, k, 0 | 1]           its position
    state.rng[g]                        game g's random generator (rng.py)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

MAX_ORDERS = 8  # order queue capacity (SC2 queues more; raw_units shows 4 order ids)

# --- unit floats unit_f[g, u, :]
# FACING_X, FACING_Y: the facing direction (turned into an angle only when observed).
# DIST_LEFT: distance to the move point left after the unit's last step (FAR after a new order); a mover
# pushed back from a nearby point is blocked there (combat.move_to_point).
# COOLDOWN: loops until the weapon may start its next attack; WINDUP: loops until the attack under way
# lands (0: none under way; weapons.py).
X, Y, HEALTH, SHIELD, COOLDOWN, FACING_X, FACING_Y, DIST_LEFT, WINDUP = range(9)
# economy (economy.py): where a harvesting or building worker really is (it walks through other units)
HX, HY = 9, 10
NUM_UNIT_FLOATS = 11

# --- unit ints unit_i[g, u, :]
# RELOCATIONS: how often the unit was moved by the map (a beacon's jumps): a move order on it ends then.
# CHASE_TARGET, CHASE_TAG: the attacker an idle unit turned on (slot, tag), -1 when none (combat.alert).
# WEAPON_TARGET, WEAPON_TAG: the target the unit's weapon is engaged with (slot, tag), -1 when none: it
# keeps firing at it out to weapon range + RANGE_SLOP (combat.py).
# DAMAGED_AT: the game loop the unit last took damage (shields regenerate some time after it).
# WINDUP_TARGET, WINDUP_TAG: the target of the attack under way (slot, tag), -1 when none.
# MOVED_AT: the game loop the unit last walked (collisions: a unit that walks into an enemy yields to it).
ALIVE, TYPE, OWNER, TAG, RELOCATIONS, NUM_ORDERS, CHASE_TARGET, CHASE_TAG, WEAPON_TARGET, WEAPON_TAG, \
    DAMAGED_AT, WINDUP_TARGET, WINDUP_TAG, MOVED_AT = range(14)
# --- economy unit ints (economy.py): a worker's harvest PHASE and its TIMER (loops left in it), the
# CARRY it holds (minerals or gas, CARRY_GAS 1 for gas), the DEPOT (slot, tag) it returns to, and
# WALKED_AT, the loop the economy last moved it (its own position HX, HY is then current); a structure's
# BUILD_LEFT (loops until finished, 0 = done) and PRODUCE_LEFT (loops left on the unit it trains); a
# resource's CONTENTS and BUSY_UNTIL (the loop its current gatherer lets go).
PHASE, TIMER, CARRY, CARRY_GAS, DEPOT, DEPOT_TAG, WALKED_AT, BUILD_LEFT, PRODUCE_LEFT, CONTENTS, \
    BUSY_UNTIL = range(14, 25)
NUM_UNIT_INTS = 25

# --- order ints order_i[g, u, k, :]: the order's kind, its target unit (slot and tag; the slot may be
# reused later) and the target's RELOCATIONS when ordered
KIND, TARGET, TARGET_TAG, TARGET_RELOCATIONS = range(4)
NUM_ORDER_INTS = 4

# --- order kinds
NO_ORDER, MOVE_POINT, MOVE_UNIT, ATTACK_POINT, ATTACK_UNIT, HOLD_POSITION = range(6)
# economy order kinds (economy.py): harvest (gather, carry back), build a structure, train a unit
GATHER, RETURN, BUILD_SUPPLY_DEPOT, BUILD_BARRACKS, BUILD_REFINERY, BUILD_COMMAND_CENTER, TRAIN_SCV, \
    TRAIN_MARINE = range(6, 14)

# --- missile ints missile_i[g, k, :]: who shot it (slot, tag, unit type, owner: the shooter may die
# before it lands) and its target (slot, tag); MISSILE_TARGET -1 marks a free row. missile_xy[g, k, :] is
# where it is.
MISSILE_SOURCE, MISSILE_SOURCE_TAG, MISSILE_SOURCE_TYPE, MISSILE_OWNER, MISSILE_TARGET, MISSILE_TARGET_TAG = \
    range(6)
NUM_MISSILE_INTS = 6

# --- game ints game[g, :]
# NUM_SLOTS: slots in use (units live in slots 0..NUM_SLOTS-1; dead ones leave holes).
# NUM_AGENT / NUM_ENEMY: living units per side, kept by spawn/kill (the triggers read them every loop).
# SIDE: which spawn rectangle the agent got (0 left, 1 right); WAVE: waves started so far.
# SCORE: the map's score, PREV_SCORE: the score when the last agent step began (an observation's reward is
# the difference), both in fixed point: SCORE_UNITS to a point, so that SMAC's fractional reward fits.
# DAMAGE_DEALT: hit points and shields the agent's units took from enemies this episode, counted in half
# points (SC2's smallest hit is 0.5), rounded down; the game reports it in score_by_vital.
# MISSILES: missiles in flight.
# STEP_ENEMIES, ENEMY_LIFE: the living enemies at the end of the last agent step, and their hit points +
# shields in SCORE_UNITS (reward.end_step pays SMAC's reward on their change).
LOOP, NUM_SLOTS, NEXT_UID, SCORE, PREV_SCORE, DONE, OUTCOME, SIDE, WAVE, LOOP_LIMIT, NUM_AGENT, NUM_ENEMY, \
    DAMAGE_DEALT, MISSILES, STEP_ENEMIES, ENEMY_LIFE = range(16)
# economy game ints (economy.py): the bank, and what was collected and spent this episode
MINERALS, VESPENE, COLLECTED_MINERALS, COLLECTED_VESPENE, SPENT_MINERALS, SPENT_VESPENE = range(16, 22)
NUM_GAME_INTS = 22
SCORE_UNITS = 1 << 20  # a point; fixed point rather than one more State array, which every kernel call passes

# --- owners (pysc2's raw owner column)
OWNER_AGENT, OWNER_ENEMY, OWNER_NEUTRAL = 1, 2, 16


class State(NamedTuple):
    """Everything that changes during a game, for B games of up to M units each."""

    unit_f: np.ndarray  # float64 [B, M, NUM_UNIT_FLOATS]
    unit_i: np.ndarray  # int64 [B, M, NUM_UNIT_INTS]
    order_i: np.ndarray  # int64 [B, M, MAX_ORDERS, NUM_ORDER_INTS]
    order_xy: np.ndarray  # float64 [B, M, MAX_ORDERS, 2]
    missile_i: np.ndarray  # int64 [B, M, NUM_MISSILE_INTS]: room for one missile in flight per unit
    missile_xy: np.ndarray  # float64 [B, M, 2]
    game: np.ndarray  # int64 [B, NUM_GAME_INTS]
    rng: np.ndarray  # uint64 [B]

    @staticmethod
    def zeros(num_games: int, max_units: int) -> State:
        B, M = num_games, max_units
        return State(np.zeros((B, M, NUM_UNIT_FLOATS)), np.zeros((B, M, NUM_UNIT_INTS), np.int64),
                     np.zeros((B, M, MAX_ORDERS, NUM_ORDER_INTS), np.int64), np.zeros((B, M, MAX_ORDERS, 2)),
                     np.full((B, M, NUM_MISSILE_INTS), -1, np.int64), np.zeros((B, M, 2)),
                     np.zeros((B, NUM_GAME_INTS), np.int64), np.zeros(B, np.uint64))


class Tables(NamedTuple):
    """What the kernels read and never write: the unit types (units.py) and the map (maps.py)."""

    type_f: np.ndarray  # float64 [T, units.NUM_TYPE_FLOATS]
    type_i: np.ndarray  # int64 [T, units.NUM_TYPE_INTS]
    map_f: np.ndarray  # float64 [maps.NUM_MAP_FLOATS]
    map_i: np.ndarray  # int64 [maps.NUM_MAP_INTS]
    spawn_groups: np.ndarray  # int64 [groups, 3]: maps.GROUP_OWNER, GROUP_TYPE, GROUP_COUNT
    placements: np.ndarray  # float64 [P, 5]: units at fixed spots (maps.PLACE_OWNER, PLACE_TYPE, ...)
