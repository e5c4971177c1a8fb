"""The economy's facts: costs, build times, supply, footprints and harvest timing, as kernel tables.

Game figures are the game's own data at "normal" speed (a game second is 16 loops, pysc2
docs/environment.md), as dumped in BurnySc2/sc2-techtree data/data.json (`minerals`, `time` in game
loops, `supply`: negative = supply provided), and Liquipedia "Resources" for harvesting. Tables are
indexed by unit type index (units.UNIT_INDEX) or by order kind (state.GATHER ... TRAIN_MARINE); numba
reads these module arrays as compile-time constants.
"""

from __future__ import annotations

import numpy as np

from envs.engine.state import (
    BUILD_BARRACKS,
    BUILD_COMMAND_CENTER,
    BUILD_REFINERY,
    BUILD_SUPPLY_DEPOT,
    GATHER,
    RETURN,
    TRAIN_MARINE,
    TRAIN_SCV,
)
from envs.engine.units import UNIT_INDEX, UNIT_TYPES

# --- harvesting (Liquipedia "Resources": 5 minerals a trip; a worker holds a mineral field 2.786 game
# seconds at Normal speed, then pauses 0.5 s while the next worker may already start; 4 gas a trip)
MINERALS_PER_TRIP = 5
GAS_PER_TRIP = 4
MINE_LOOPS = 45  # 2.786 s x 16 = 44.6 loops
MINE_PAUSE_LOOPS = 8  # 0.5 s
# Inside the refinery: *unverified* (not in the public data); 2 game seconds, so that three workers keep
# a geyser busy on this engine's layout, as the game's "3 per geyser" saturation says.
GAS_LOOPS = 32
# Loops a worker spends at the Command Center turning round: stands for the game's acceleration, braking
# and turning on both legs of a trip, which the engine's constant-speed walk lacks. *Calibrated*, not
# measured: chosen so that workers 1-16 on the minigame layout mine 40-42 minerals a game minute
# (Liquipedia "Resources", Mining Rates: about 56-59 a worker per Faster minute on a base's first 16
# workers, / 1.4 for game minutes); tests/test_economy.py checks the result.
DROPOFF_LOOPS = 35
HARVEST_REACH = 0.15  # edge-to-edge distance at which a worker is at its patch or depot
HOP_RANGE = 3.0  # a worker finding its patch taken moves to a free patch this close (centre to centre)
IDEAL_PER_PATCH, IDEAL_PER_REFINERY = 2, 3  # the game's ideal_harvesters: 2 a mineral field, 3 a refinery
BASE_RADIUS = 10.0  # mineral fields this close to a Command Center count toward its harvesters
FOOD_MAX = 200  # the game's supply ceiling

# --- raw order ids per order kind (pysc2 lib/actions.py: RAW_ABILITY_ID_TO_FUNC_ID of the ability a
# unit carries out: Harvest_Gather_SCV 295 -> 359, Harvest_Return_SCV 296 -> 362, TerranBuild_* and the
# Train abilities -> the Build_*_pt / Train_*_quick ids)
ECONOMY_ORDER_IDS = {GATHER: 359, RETURN: 362, BUILD_SUPPLY_DEPOT: 222, BUILD_BARRACKS: 185,
                     BUILD_REFINERY: 214, BUILD_COMMAND_CENTER: 187, TRAIN_SCV: 520, TRAIN_MARINE: 511}
# pysc2 lib/buffs.py: the buff a worker shows while carrying
BUFF_CARRY_MINERALS, BUFF_CARRY_GAS = 271, 273


# --- per unit type: cost, build time, supply used and provided, footprint (the game's placement grid:
# Command Center 5x5, Barracks and Refinery 3x3 as the geyser, Supply Depot 2x2, mineral field 2x1)
_ECONOMY_TYPES = {
    # name: (minerals, build loops, food used, food provided, footprint w, h, resource contents)
    "SCV": (50, 272, 1, 0, 0, 0, 0),
    "Marine": (50, 400, 1, 0, 0, 0, 0),
    "CommandCenter": (400, 1600, 0, 15, 5, 5, 0),
    "SupplyDepot": (100, 480, 0, 8, 2, 2, 0),
    "Barracks": (150, 1040, 0, 0, 3, 3, 0),
    "Refinery": (75, 480, 0, 0, 3, 3, 0),
    "MineralField": (0, 0, 0, 0, 2, 1, 1800),
    "VespeneGeyser": (0, 0, 0, 0, 3, 3, 2250),
}
NUM_TYPES = len(UNIT_TYPES)
COST = np.zeros(NUM_TYPES, np.int64)
BUILD_LOOPS = np.zeros(NUM_TYPES, np.int64)
FOOD_USED = np.zeros(NUM_TYPES, np.int64)
FOOD_PROVIDED = np.zeros(NUM_TYPES, np.int64)
FOOT_W = np.zeros(NUM_TYPES, np.int64)
FOOT_H = np.zeros(NUM_TYPES, np.int64)
for _name, _row in _ECONOMY_TYPES.items():
    _k = UNIT_INDEX[_name]
    COST[_k], BUILD_LOOPS[_k], FOOD_USED[_k], FOOD_PROVIDED[_k], FOOT_W[_k], FOOT_H[_k], _ = _row

SCV, MARINE = UNIT_INDEX["SCV"], UNIT_INDEX["Marine"]
COMMAND_CENTER, SUPPLY_DEPOT = UNIT_INDEX["CommandCenter"], UNIT_INDEX["SupplyDepot"]
BARRACKS, REFINERY = UNIT_INDEX["Barracks"], UNIT_INDEX["Refinery"]
MINERAL_FIELD, GEYSER = UNIT_INDEX["MineralField"], UNIT_INDEX["VespeneGeyser"]
DEFAULT_CONTENTS = {name: row[6] for name, row in _ECONOMY_TYPES.items() if row[6]}

# --- per order kind: the unit type it builds or trains (-1: none) and its raw order id
NUM_KINDS = TRAIN_MARINE + 1
PRODUCT = np.full(NUM_KINDS, -1, np.int64)
PRODUCT[BUILD_SUPPLY_DEPOT], PRODUCT[BUILD_BARRACKS] = SUPPLY_DEPOT, BARRACKS
PRODUCT[BUILD_REFINERY], PRODUCT[BUILD_COMMAND_CENTER] = REFINERY, COMMAND_CENTER
PRODUCT[TRAIN_SCV], PRODUCT[TRAIN_MARINE] = SCV, MARINE
PRODUCER = np.full(NUM_KINDS, -1, np.int64)  # the type that trains it
PRODUCER[TRAIN_SCV], PRODUCER[TRAIN_MARINE] = COMMAND_CENTER, BARRACKS
PRODUCTION_QUEUE = 5  # the game's training queue per structure

# --- economy command codes inside the kernels (engine.py maps pysc2 RawFunction ids to them; the combat
# codes are commands.CMD_*), in the order of the order kinds they give, and a map's allowed set as bits
CMD_GATHER, CMD_RETURN, CMD_BUILD_SUPPLY_DEPOT, CMD_BUILD_BARRACKS, CMD_BUILD_REFINERY, \
    CMD_BUILD_COMMAND_CENTER, CMD_TRAIN_SCV, CMD_TRAIN_MARINE = range(40, 48)
CMD_FIRST_ECONOMY = CMD_GATHER
ECONOMY_FUNCTIONS = {  # pysc2 RAW_FUNCTIONS name -> (id, kernel code, argument kind)
    "Harvest_Gather_unit": (102, CMD_GATHER, "unit"),
    "Harvest_Return_quick": (103, CMD_RETURN, "quick"),
    "Build_SupplyDepot_pt": (222, CMD_BUILD_SUPPLY_DEPOT, "pt"),
    "Build_Barracks_pt": (185, CMD_BUILD_BARRACKS, "pt"),
    "Build_Refinery_pt": (214, CMD_BUILD_REFINERY, "unit"),  # pysc2: raw_cmd_unit, on a geyser
    "Build_CommandCenter_pt": (187, CMD_BUILD_COMMAND_CENTER, "pt"),
    "Train_SCV_quick": (520, CMD_TRAIN_SCV, "quick"),
    "Train_Marine_quick": (511, CMD_TRAIN_MARINE, "quick"),
}


def function_bits(names) -> int:
    """A map's allowed economy functions as a bit set over the kernel codes."""
    return sum(1 << (ECONOMY_FUNCTIONS[n][1] - CMD_FIRST_ECONOMY) for n in names)
