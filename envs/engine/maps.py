"""The maps as data: playable area, spawns, rewards, waves, timers (pysc2 docs/mini_games.md).

Each map is one `MapSpec`; `params()` turns it into the flat arrays the kernels read (`Tables.map_f`,
`Tables.map_i`, `Tables.spawn_groups`, columns named below). The map's rules (`RULES_*`) select the
triggers (beacon jump, shard pickup/respawn, zergling respawn, waves, duel win/loss); everything else
(unit groups, rectangles, rewards, limits) is plain data, so a new map with existing rules is one more
entry here. The economy maps (RULES_ECONOMY: harvesting, building, training; economy.py) start from
units at fixed spots (`placements`, economy_maps.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.engine import economy_maps as EM
from envs.engine.economy_data import DEFAULT_CONTENTS, ECONOMY_FUNCTIONS, function_bits
from envs.engine.state import OWNER_AGENT, OWNER_ENEMY, OWNER_NEUTRAL, SCORE_UNITS
from envs.engine.units import LOOPS_PER_GAME_SECOND, UNIT_INDEX, UNIT_TYPES
from envs.errors import UserError

# --- map rules
RULES_BEACON, RULES_SHARDS, RULES_HUNT, RULES_WAVES, RULES_DUEL, RULES_ECONOMY = range(6)

# --- map floats map_f[:]: rectangles (x0, y0, x1, y1) in world coordinates, y up
PLAY_X0, PLAY_Y0, PLAY_X1, PLAY_Y1 = range(4)  # the playable area
LEFT_X0, LEFT_Y0, LEFT_X1, LEFT_Y1 = range(4, 8)  # the left spawn rectangle (column maps)
RIGHT_X0, RIGHT_Y0, RIGHT_X1, RIGHT_Y1 = range(8, 12)
SHARDS_X0, SHARDS_Y0, SHARDS_X1, SHARDS_Y1 = range(12, 16)  # where mineral shards spawn
MIN_SEPARATION, MIN_FROM_AGENT, CENTRE_X, CENTRE_Y, EXCLUDE_RADIUS, RESPAWN_FROM_AGENT, MAP_HEIGHT = \
    range(16, 23)
NEAR_R0, NEAR_R1 = range(23, 25)  # the ring around the centre where the first NEAR_COUNT enemies start
REWARD_SCALE = 25  # SMAC_REWARD maps: SMAC_SCALE_RATE / SMAC's max_reward (reward.end_step)
NUM_MAP_FLOATS = 26
# --- map ints map_i[:]
RULES, KILL_REWARD, LOSS_REWARD, WIN_REWARD, TIME_LIMIT_LOOPS, END_WHEN_AGENT_DEAD, FOG, NEUTRAL_TYPE, \
    NEUTRAL_COUNT, WAVE_EXTRA_TYPE, WAVE_EXTRA_COUNT, HAS_WIN, MAX_UNITS, RANDOM_SIDE, ENEMY_CLUMP = range(15)
NEAR_COUNT, SMAC_REWARD = 15, 16
CELL_LISTS = 17  # a CELL_MODES value: whether the kernels find nearby units through grid.py's cell lists
# economy maps: the score (SCORE_COLLECTED: minerals + gas collected; SCORE_MARINES: Marines trained),
# the starting minerals, and the economy functions the map allows (economy_data.function_bits); whether
# the map allows the unit commands (move, attack, smart, stop, hold position); whether its workers start
# mining
ECON_SCORE, START_MINERALS, ECON_FUNCTIONS, UNIT_COMMANDS, WORKERS_MINING = 18, 19, 20, 21, 22
NUM_MAP_INTS = 23
SCORE_COLLECTED, SCORE_MARINES = 0, 1
# --- cell-list modes (MapSpec.cell_lists); `auto` uses them in loops with grid.CELL_LIST_MIN units or more
CELL_MODES = {"never": 0, "always": 1, "auto": 2}
# --- spawn groups spawn_groups[k, :]: (owner, unit type index, count)
GROUP_OWNER, GROUP_TYPE, GROUP_COUNT = range(3)
# --- units at fixed spots placements[k, :]: (owner, unit type index, x, y, resource contents)
PLACE_OWNER, PLACE_TYPE, PLACE_X, PLACE_Y, PLACE_CONTENTS = range(5)

Rect = tuple[float, float, float, float]  # (x0, y0, x1, y1) world coordinates, y up

# SMAC's shaped reward (oxwhirl/smac starcraft2.py defaults: reward_death_value, reward_win,
# reward_scale_rate)
SMAC_KILL, SMAC_WIN, SMAC_SCALE_RATE = 10.0, 200.0, 20.0
SMAC_STEP_MUL = 8  # SMAC's agent step (smac_maps.py SMACMap.step_mul); its episode limits count these steps


@dataclass(frozen=True)
class MapSpec:
    """A map: public facts first (others pad and scale by these), then the rule data."""

    name: str
    playable: Rect
    map_size: tuple[int, int] = (64, 64)
    time_limit_s: int = 120
    has_win: bool = False
    fog: bool = False
    max_units: int = 16  # upper bound of simultaneous units, neutrals included (for padding)
    default_bot: str = "idle"
    smac_reward: bool = False  # SMAC's reward (reward.end_step) instead of the map's score changes
    # --- rule data
    rules: int = RULES_DUEL
    agent: tuple[tuple[str, int], ...] = ()
    enemy: tuple[tuple[str, int], ...] = ()
    neutral: tuple[str, int] = ("Beacon", 0)
    kill_reward: int = 0  # score per enemy unit killed
    loss_reward: int = 0  # score per own unit lost (negative)
    win_reward: int = 0
    end_when_agent_dead: bool = True
    wave_extra: tuple[str, int] = ("Marine", 0)  # agent units added on each new wave
    random_side: bool = True  # agent left or right at random (column maps)
    enemy_clump: bool = False  # enemies in one clump rather than a column
    left: Rect = (24.0, 25.1, 28.0, 31.1)  # DefeatRoaches' spawn rectangles (its map file)
    right: Rect = (38.0, 25.0, 42.0, 31.1)
    spawn: Rect = (23.0, 21.0, 43.0, 35.0)  # where neutrals spawn (CollectMineralShards' map file)
    min_sep: float = 0.0  # minimum distance between spawned enemies / from the agent (kind-specific)
    min_from_agent: float = 0.0
    centre: tuple[float, float] = (32.0, 28.0)
    exclude_r: float = 0.0
    near: tuple[int, float, float] = (0, 0.0, 0.0)  # (n, r0, r1): n enemies start r0..r1 from the centre
    respawn_from_agent: float = 0.0
    cell_lists: str = "auto"  # a key of CELL_MODES; both ways give the same game (tests compare them)
    # economy maps: units at fixed spots (unit, owner, x, y, contents), the score, the bank at the start,
    # and the economy functions allowed (pysc2 RAW_FUNCTIONS names; none on the combat maps)
    placements: tuple[tuple[str, int, float, float, int], ...] = ()
    econ_score: int = SCORE_COLLECTED
    start_minerals: int = 0
    econ_functions: tuple[str, ...] = ()
    unit_commands: bool = True  # False: units may not move, attack, stop or hold position
    workers_mining: bool = False  # the workers start with a gather order on the field nearest each

    def smac_max_reward(self) -> float:
        """SMAC's max_reward (starcraft2.py): SMAC_KILL per enemy + SMAC_WIN + every enemy's full hit
        points and shields."""
        life = sum(n * (UNIT_TYPES[UNIT_INDEX[u]].hp + UNIT_TYPES[UNIT_INDEX[u]].shield + SMAC_KILL)
                   for u, n in self.enemy)
        return SMAC_WIN + life

    def params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Flat kernel arrays: (map_f float64 [NUM_MAP_FLOATS], map_i int64 [NUM_MAP_INTS],
        spawn_groups int64 [groups, 3], placements float64 [P, 5])."""
        mf = np.zeros(NUM_MAP_FLOATS, np.float64)
        mf[PLAY_X0:PLAY_Y1 + 1] = self.playable
        mf[LEFT_X0:LEFT_Y1 + 1] = self.left
        mf[RIGHT_X0:RIGHT_Y1 + 1] = self.right
        mf[SHARDS_X0:SHARDS_Y1 + 1] = self.spawn
        mf[MIN_SEPARATION] = self.min_sep
        mf[MIN_FROM_AGENT] = self.min_from_agent
        mf[CENTRE_X], mf[CENTRE_Y] = self.centre
        mf[EXCLUDE_RADIUS] = self.exclude_r
        mf[NEAR_R0], mf[NEAR_R1] = self.near[1:]
        mf[RESPAWN_FROM_AGENT] = self.respawn_from_agent
        mf[MAP_HEIGHT] = self.map_size[1]
        mi = np.zeros(NUM_MAP_INTS, np.int64)
        mi[RULES] = self.rules
        mi[KILL_REWARD] = self.kill_reward * SCORE_UNITS  # the score's fixed point (state.SCORE_UNITS)
        mi[LOSS_REWARD] = self.loss_reward * SCORE_UNITS
        mi[WIN_REWARD] = self.win_reward * SCORE_UNITS
        mi[TIME_LIMIT_LOOPS] = self.time_limit_s * LOOPS_PER_GAME_SECOND
        mi[END_WHEN_AGENT_DEAD] = self.end_when_agent_dead
        mi[FOG] = self.fog
        mi[NEUTRAL_TYPE] = UNIT_INDEX[self.neutral[0]]
        mi[NEUTRAL_COUNT] = self.neutral[1]
        mi[WAVE_EXTRA_TYPE] = UNIT_INDEX[self.wave_extra[0]]
        mi[WAVE_EXTRA_COUNT] = self.wave_extra[1]
        mi[HAS_WIN] = self.has_win
        mi[MAX_UNITS] = self.max_units
        mi[RANDOM_SIDE] = self.random_side
        mi[ENEMY_CLUMP] = self.enemy_clump
        mi[NEAR_COUNT] = self.near[0]
        mi[SMAC_REWARD] = self.smac_reward
        mi[CELL_LISTS] = CELL_MODES[self.cell_lists]
        mf[REWARD_SCALE] = SMAC_SCALE_RATE / self.smac_max_reward()
        mi[ECON_SCORE] = self.econ_score
        mi[START_MINERALS] = self.start_minerals
        mi[ECON_FUNCTIONS] = function_bits(self.econ_functions)
        mi[UNIT_COMMANDS] = self.unit_commands
        mi[WORKERS_MINING] = self.workers_mining
        groups = [(OWNER_AGENT, UNIT_INDEX[n], c) for n, c in self.agent]
        groups += [(OWNER_ENEMY, UNIT_INDEX[n], c) for n, c in self.enemy]
        places = [(o, UNIT_INDEX[n], x, y, c) for n, o, x, y, c in self.placements]
        return (mf, mi, np.asarray(groups, np.int64).reshape(-1, 3),
                np.asarray(places, np.float64).reshape(-1, 5))


_MINI = (22.0, 20.0, 44.0, 36.0)  # the single-screen minigames' playable area (their map files)


def _smac(name: str, limit_steps: int, agent: tuple[tuple[str, int], ...],
          enemy: tuple[tuple[str, int], ...] | None = None, **kwargs) -> MapSpec:
    """A SMAC-style map (the enemy the same units as the agent unless given); `limit_steps` is its episode
    limit in SMAC agent steps (every SMAC limit is a whole number of game seconds)."""
    enemy = agent if enemy is None else enemy
    seconds = limit_steps * SMAC_STEP_MUL // LOOPS_PER_GAME_SECOND
    kwargs.setdefault("playable", _MINI)
    return MapSpec(name, time_limit_s=seconds, has_win=True, smac_reward=True, rules=RULES_DUEL,
                   agent=agent, enemy=enemy, max_units=sum(n for _, n in agent + enemy),
                   default_bot="focus_fire", **kwargs)


# The large battles' arena: a 64 x 64 map, nearly all playable, the two armies in columns 28 apart.
_ARENA = dict(playable=(4.0, 4.0, 60.0, 60.0), left=(14.0, 17.0, 18.0, 47.0), right=(46.0, 17.0, 50.0, 47.0))


def _economy(name: str, seconds: int, resources: tuple, score: int, functions: tuple[str, ...],
             max_units: int, **rules) -> MapSpec:
    """An economy minigame (economy_maps.py): 12 SCVs and a Command Center, these resources, 50 minerals
    (pysc2 docs/mini_games.md)."""
    own = [("CommandCenter", OWNER_AGENT, *EM.COMMAND_CENTER_AT, 0)]
    own += [("SCV", OWNER_AGENT, x, y, 0) for x, y in EM.SCV_SPOTS]
    neutral = [(n, OWNER_NEUTRAL, x, y, c or DEFAULT_CONTENTS[n]) for n, x, y, c in resources]
    return MapSpec(name, EM.PLAYABLE, time_limit_s=seconds, rules=RULES_ECONOMY, max_units=max_units,
                   end_when_agent_dead=False, placements=tuple(own + neutral), econ_score=score,
                   start_minerals=50, econ_functions=functions, **rules)


# BuildMarines "limits the available actions of the units ... Actions that are not required for building
# Marines have been removed" (pysc2 docs/mini_games.md): no unit commands (move, attack, stop). Which
# economy functions it keeps is not listed: *our reading*, no Refinery and no Command Center. Its SCVs
# start mining (*unverified*: the docs say only that they stand beside the Command Center, and an agent
# without the unit commands could not send an idle worker back to work but by a build or gather verb).
_BUILD_MARINES_FUNCTIONS = ("Harvest_Gather_unit", "Harvest_Return_quick", "Build_SupplyDepot_pt",
                            "Build_Barracks_pt", "Train_SCV_quick", "Train_Marine_quick")

MAPS: dict[str, MapSpec] = {
    m.name: m
    for m in (
        MapSpec("MoveToBeacon", _MINI, rules=RULES_BEACON, agent=(("Marine", 1),), neutral=("Beacon", 1),
                max_units=2, end_when_agent_dead=False, min_from_agent=5.0),
        MapSpec("CollectMineralShards", _MINI, rules=RULES_SHARDS, agent=(("Marine", 2),),
                neutral=("MineralShard", 20), max_units=22, end_when_agent_dead=False, min_from_agent=2.0),
        # pysc2 docs/mini_games.md: 3 Marines at the centre (32, 28); 25 Zerglings >= 5 apart: 2 within the
        # Marines' sight (7.5 to 9.5 from the centre), 23 outside it (>= 10.5); when all are dead, 25 more
        # >= 9 from every Marine.
        MapSpec("FindAndDefeatZerglings", (10.0, 12.0, 54.0, 44.0), time_limit_s=180, fog=True,
                rules=RULES_HUNT, agent=(("Marine", 3),), enemy=(("Zergling", 25),), max_units=28,
                kill_reward=1, loss_reward=-1, min_sep=5.0, exclude_r=10.5, near=(2, 7.5, 9.5),
                respawn_from_agent=9.0),
        # Waves keep adding Marines; slots beyond max_units are not filled (a cap no recorded score reaches:
        # 60 Marines = 10 cleared waves, GrandMaster clears ~5).
        MapSpec("DefeatRoaches", _MINI, rules=RULES_WAVES, agent=(("Marine", 9),), enemy=(("Roach", 4),),
                max_units=64, kill_reward=10, loss_reward=-1, wave_extra=("Marine", 5)),
        MapSpec("DefeatZerglingsAndBanelings", _MINI, rules=RULES_WAVES, agent=(("Marine", 9),),
                enemy=(("Zergling", 6), ("Baneling", 4)), max_units=80, kill_reward=5, loss_reward=-1,
                wave_extra=("Marine", 4), enemy_clump=True),
        # SMAC's symmetric maps (Samvelyan et al. 2019; oxwhirl/smac smac_maps.py): n units a side, SMAC's
        # reward, episode limits of 60 (3m), 120 (8m, 2s3z) and 150 (3s5z) agent steps of 8 loops, and an
        # enemy that attack-moves to the agent's start and focuses fire (bots.py, the built-in AI's
        # stand-in). The sides and their spawn rectangles are DefeatRoaches', not SMAC's map files'.
        _smac("3m", 60, (("Marine", 3),)),
        _smac("8m", 120, (("Marine", 8),)),
        _smac("2s3z", 120, (("Stalker", 2), ("Zealot", 3))),
        _smac("3s5z", 150, (("Stalker", 3), ("Zealot", 5))),
        # SMAC's 27m_vs_30m: 27 Marines against 30, 180 agent steps (smac_maps.py).
        _smac("27m_vs_30m", 180, (("Marine", 27),), (("Marine", 30),)),
        # Large battles (this project's maps, SMAC's reward and enemy): Terran bio against a Zerg army of
        # the same unit count, 128 and 250 units a side, 240 agent steps (120 game seconds).
        _smac("bio_vs_zerg_128", 240, (("Marine", 96), ("Marauder", 32)),
              (("Zergling", 48), ("Roach", 56), ("Baneling", 24)), **_ARENA),
        _smac("bio_vs_zerg_250", 240, (("Marine", 190), ("Marauder", 60)),
              (("Zergling", 90), ("Roach", 110), ("Baneling", 50)), **_ARENA),
        # Slots: resources, the Command Centers, up to 60 SCVs and 30 other structures (a cap no sensible
        # play reaches in 420 s); BuildMarines adds room for 250 Marines (the human record is 138).
        _economy("CollectMineralsAndGas", 420, EM.COLLECT_RESOURCES, SCORE_COLLECTED,
                 tuple(ECONOMY_FUNCTIONS), max_units=116),
        _economy("BuildMarines", 900, EM.BUILD_MARINES_RESOURCES, SCORE_MARINES, _BUILD_MARINES_FUNCTIONS,
                 max_units=340, unit_commands=False, workers_mining=True),
    )
}

# MAP_NAMES are the combat maps; the economy minigames play by other rules (harvest, build, train), with
# their own scripted agents and tests, so they are listed apart; the entity env, EngineSC2Env and
# training take either.
ECONOMY_MAP_NAMES: tuple[str, ...] = tuple(name for name, m in MAPS.items() if m.rules == RULES_ECONOMY)
MAP_NAMES: tuple[str, ...] = tuple(name for name in MAPS if name not in ECONOMY_MAP_NAMES)


def map_spec(name: str) -> MapSpec:
    """The spec of a map by name; a UserError naming the allowed maps otherwise."""
    try:
        return MAPS[name]
    except KeyError:
        raise UserError(f"unknown map {name!r}; choose one of: {', '.join(MAPS)}") from None
