"""pysc2's raw interface schema, without importing pysc2.

The engine emits these columns and accepts these commands; `featurize` and `translate` read and write
them for both backends. Values follow pysc2 4.0.0 (`lib/features.py`, `lib/actions.py`, `lib/units.py`);
a test checks them against pysc2 when it is importable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


class FeatureUnit(enum.IntEnum):
    """Columns of `obs["raw_units"]`, in pysc2's order (pysc2.lib.features.FeatureUnit)."""

    unit_type = 0
    alliance = 1
    health = 2
    shield = 3
    energy = 4
    cargo_space_taken = 5
    build_progress = 6
    health_ratio = 7
    shield_ratio = 8
    energy_ratio = 9
    display_type = 10
    owner = 11
    x = 12
    y = 13
    facing = 14
    radius = 15
    cloak = 16
    is_selected = 17
    is_blip = 18
    is_powered = 19
    mineral_contents = 20
    vespene_contents = 21
    cargo_space_max = 22
    assigned_harvesters = 23
    ideal_harvesters = 24
    weapon_cooldown = 25
    order_length = 26
    order_id_0 = 27
    order_id_1 = 28
    tag = 29
    hallucination = 30
    buff_id_0 = 31
    buff_id_1 = 32
    addon_unit_type = 33
    active = 34
    is_on_screen = 35
    order_progress_0 = 36
    order_progress_1 = 37
    order_id_2 = 38
    order_id_3 = 39
    is_in_cargo = 40
    buff_duration_remain = 41
    buff_duration_max = 42
    attack_upgrade_level = 43
    armor_upgrade_level = 44
    shield_upgrade_level = 45


NUM_UNIT_COLUMNS = len(FeatureUnit)  # 46


class Alliance(enum.IntEnum):
    """pysc2.lib.features.PlayerRelative for raw units."""

    self = 1
    ally = 2
    neutral = 3
    enemy = 4


class Player(enum.IntEnum):
    """Columns of `obs["player"]` (pysc2.lib.features.Player)."""

    player_id = 0
    minerals = 1
    vespene = 2
    food_used = 3
    food_cap = 4
    food_army = 5
    food_workers = 6
    idle_worker_count = 7
    army_count = 8
    warp_gate_count = 9
    larva_count = 10


NUM_PLAYER_COLUMNS = len(Player)  # 11
NUM_SCORE_COLUMNS = 13  # pysc2.lib.features.ScoreCumulative; column 0 is the map's score


class RawFunction(enum.IntEnum):
    """Ids of pysc2.lib.actions.RAW_FUNCTIONS the project issues as commands."""

    no_op = 0
    Smart_pt = 1
    Attack_pt = 2
    Attack_unit = 3
    Smart_unit = 12
    Move_pt = 13
    Move_unit = 14
    HoldPosition_quick = 17
    Stop_quick = 101
    Harvest_Gather_unit = 102
    Harvest_Return_quick = 103
    Build_Barracks_pt = 185
    Build_CommandCenter_pt = 187
    Build_Refinery_pt = 214  # on a geyser: its target is the geyser's tag (pysc2 raw_cmd_unit)
    Build_SupplyDepot_pt = 222
    Train_Marine_quick = 511
    Train_SCV_quick = 520


class OrderId(enum.IntEnum):
    """Values of raw_units' order_id_0..3: pysc2 reports an order as RAW_ABILITY_ID_TO_FUNC_ID[ability],
    the smallest raw function id of the order's ability (pysc2 4.0.0 lib/features.py `raw_order`,
    lib/actions.py). The game reports the specific ability a unit carries out, not the generic one it was
    ordered with (s2client-proto AbilityData.remaps_to_ability_id; python-sc2 sc2/game_data.py tells
    `exact_id` from the generic `id`): an attack order shows as Attack_Attack (4), a move as Move_Move
    (547). Names are pysc2's RAW_FUNCTIONS names without the _pt/_unit/_quick suffix."""

    Smart = 1  # ability 1
    Attack = 2  # generic Attack 3674
    Attack_Attack = 4  # ability 23
    Attack_AttackBuilding = 6  # 2048
    Attack_Redirect = 8  # 1682
    Scan_Move = 10  # 19: attack-move
    Move = 13  # generic Move 3794
    HoldPosition = 17  # generic HoldPosition 3793
    Attack_Battlecruiser = 539  # 3771
    HoldPosition_Battlecruiser = 542  # 3778
    HoldPosition_Hold = 543  # 18
    Move_Battlecruiser = 545  # 3776
    Move_Move = 547  # 16
    Build_Barracks = 185  # 321
    Build_CommandCenter = 187  # 318
    Build_Refinery = 214  # 320
    Build_SupplyDepot = 222  # 319
    Harvest_Gather_SCV = 359  # 295
    Harvest_Return_SCV = 362  # 296
    Train_Marine = 511  # 560
    Train_SCV = 520  # 524


# The orders by what they do, generic and specific: every ability pysc2 generalises to Attack (3674) or
# Move (3794), and Smart (a right-click, which the game resolves to a move or an attack).
ATTACK_ORDERS = frozenset({OrderId.Attack, OrderId.Attack_Attack, OrderId.Attack_AttackBuilding,
                           OrderId.Attack_Redirect, OrderId.Scan_Move, OrderId.Attack_Battlecruiser})
MOVE_ORDERS = frozenset({OrderId.Smart, OrderId.Move, OrderId.Move_Battlecruiser, OrderId.Move_Move})


POINT_FUNCTIONS = frozenset({RawFunction.Smart_pt, RawFunction.Attack_pt, RawFunction.Move_pt,
                             RawFunction.Build_Barracks_pt, RawFunction.Build_CommandCenter_pt,
                             RawFunction.Build_SupplyDepot_pt})
UNIT_FUNCTIONS = frozenset(
    {RawFunction.Attack_unit, RawFunction.Smart_unit, RawFunction.Move_unit, RawFunction.Harvest_Gather_unit,
     RawFunction.Build_Refinery_pt}
)
QUICK_FUNCTIONS = frozenset(
    {RawFunction.HoldPosition_quick, RawFunction.Stop_quick, RawFunction.Harvest_Return_quick,
     RawFunction.Train_Marine_quick, RawFunction.Train_SCV_quick}
)


class RawCommand(NamedTuple):
    """One raw action in pysc2's form: `RAW_FUNCTIONS[function](queued, unit_tags, target)`.

    `target` is a unit tag for *_unit functions, an (x, y) point in pysc2's raw pixel space (y flipped,
    raw_resolution 64 on a 64x64 map) for *_pt functions, and None otherwise.
    """

    function: int
    queued: bool = False
    unit_tags: tuple[int, ...] = ()
    target: int | tuple[float, float] | None = None


MAX_SELECTED_UNITS = 30  # pysc2 AgentInterfaceFormat default


@dataclass
class RawObs:
    """One player's raw observation, identical in form for every backend.

    `raw_units` rows are the visible units; `positions` and `radii` hold the same rows' exact world
    values where the backend knows them (the engine does; pysc2 gives pixel-rounded values).
    """

    raw_units: np.ndarray  # int64 [n, 46], FeatureUnit columns
    positions: np.ndarray  # float64 [n, 2], world (x, y), y up
    radii: np.ndarray  # float64 [n]
    player: np.ndarray  # int64 [11], Player columns
    game_loop: int
    score_cumulative: np.ndarray  # int64 [13]; column 0 is the map's score
    reward: float = 0.0  # score change since the previous observation; 0 on reset
    done: bool = False  # the episode ended (timer, all own units dead, win or loss)
    outcome: int = 0  # 1 win, -1 loss, 0 undecided or a map without wins
    action_results: list[tuple[int, str]] = field(default_factory=list)  # rejected commands: (index, why)
    damage_dealt: float = 0.0  # enemy hit points + shields removed this episode (score_by_vital damage_dealt)
