"""The maps as data: playable area, spawns, rewards, waves, timers (REFERENCE.md section 2).

Each map is one `MapSpec`; `params()` turns it into the flat arrays the kernels read. The map's rule
kind selects the triggers (beacon jump, shard pickup/respawn, zergling respawn, waves, duel win/loss);
everything else (unit groups, rectangles, rewards, limits) is plain data, so a new map with an existing
rule kind is one more entry here, and a new rule (harvesting, production) is one more kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.engine import layout as L
from envs.engine.units import UNIT_INDEX
from envs.errors import UserError

LOOPS_PER_GAME_SECOND = 16  # REFERENCE.md section 1: map timers count game seconds of 16 loops

Rect = tuple[float, float, float, float]  # (x0, y0, x1, y1) world coordinates, y up


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
    # --- rule data
    kind: int = L.K_DUEL
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
    left: Rect = (24.0, 25.1, 28.0, 31.1)  # REFERENCE.md section 2, DefeatRoaches spawn rectangles
    right: Rect = (38.0, 25.0, 42.0, 31.1)
    spawn: Rect = (23.0, 21.0, 43.0, 35.0)  # neutral spawn rectangle (shards, REFERENCE.md section 2)
    min_sep: float = 0.0  # minimum distance between spawned enemies / from the agent (kind-specific)
    min_from_agent: float = 0.0
    centre: tuple[float, float] = (32.0, 28.0)
    exclude_r: float = 0.0
    respawn_from_agent: float = 0.0

    def params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flat kernel arrays: (MP_F float64 [NPF], MP_I int64 [NPI], SG int64 [groups, 3])."""
        mf = np.zeros(L.NPF, np.float64)
        mf[L.PF_X0:L.PF_Y1 + 1] = self.playable
        mf[L.PF_LX0:L.PF_LY1 + 1] = self.left
        mf[L.PF_RX0:L.PF_RY1 + 1] = self.right
        mf[L.PF_SX0:L.PF_SY1 + 1] = self.spawn
        mf[L.PF_MIN_SEP] = self.min_sep
        mf[L.PF_MIN_FROM_AGENT] = self.min_from_agent
        mf[L.PF_CENTRE_X], mf[L.PF_CENTRE_Y] = self.centre
        mf[L.PF_EXCLUDE_R] = self.exclude_r
        mf[L.PF_RESPAWN_FROM_AGENT] = self.respawn_from_agent
        mf[L.PF_MAP_H] = self.map_size[1]
        mi = np.zeros(L.NPI, np.int64)
        mi[L.PI_KIND] = self.kind
        mi[L.PI_KILL_REWARD] = self.kill_reward
        mi[L.PI_LOSS_REWARD] = self.loss_reward
        mi[L.PI_WIN_REWARD] = self.win_reward
        mi[L.PI_LOOP_LIMIT] = self.time_limit_s * LOOPS_PER_GAME_SECOND
        mi[L.PI_END_WHEN_AGENT_DEAD] = self.end_when_agent_dead
        mi[L.PI_FOG] = self.fog
        mi[L.PI_NEUTRAL_TYPE] = UNIT_INDEX[self.neutral[0]]
        mi[L.PI_NEUTRAL_COUNT] = self.neutral[1]
        mi[L.PI_WAVE_EXTRA_TYPE] = UNIT_INDEX[self.wave_extra[0]]
        mi[L.PI_WAVE_EXTRA_COUNT] = self.wave_extra[1]
        mi[L.PI_HAS_WIN] = self.has_win
        mi[L.PI_MAX_UNITS] = self.max_units
        mi[L.PI_RANDOM_SIDE] = self.random_side
        mi[L.PI_ENEMY_CLUMP] = self.enemy_clump
        groups = [(L.OWNER_AGENT, UNIT_INDEX[n], c) for n, c in self.agent]
        groups += [(L.OWNER_ENEMY, UNIT_INDEX[n], c) for n, c in self.enemy]
        return mf, mi, np.asarray(groups, np.int64).reshape(-1, 3)


_MINI = (22.0, 20.0, 44.0, 36.0)  # REFERENCE.md section 2: playable x 22-44, y 20-36

MAPS: dict[str, MapSpec] = {
    m.name: m
    for m in (
        MapSpec("MoveToBeacon", _MINI, kind=L.K_BEACON, agent=(("Marine", 1),), neutral=("Beacon", 1),
                max_units=2, end_when_agent_dead=False, min_from_agent=5.0),
        MapSpec("CollectMineralShards", _MINI, kind=L.K_SHARDS, agent=(("Marine", 2),),
                neutral=("MineralShard", 20), max_units=22, end_when_agent_dead=False, min_from_agent=2.0),
        # 3 Marines near (32, 28); 25 Zerglings >= 5 apart outside radius 10.5 ("most" in the map: all here);
        # respawns >= 9 from the Marines (REFERENCE.md section 2).
        MapSpec("FindAndDefeatZerglings", (10.0, 12.0, 54.0, 44.0), time_limit_s=180, fog=True, kind=L.K_HUNT,
                agent=(("Marine", 3),), enemy=(("Zergling", 25),), max_units=28, kill_reward=1,
                loss_reward=-1, min_sep=5.0, exclude_r=10.5, respawn_from_agent=9.0),
        # Waves keep adding Marines; slots beyond max_units are not filled (a cap no recorded score reaches:
        # 60 Marines = 10 cleared waves, GrandMaster clears ~5).
        MapSpec("DefeatRoaches", _MINI, kind=L.K_WAVES, agent=(("Marine", 9),), enemy=(("Roach", 4),),
                max_units=64, kill_reward=10, loss_reward=-1, wave_extra=("Marine", 5)),
        MapSpec("DefeatZerglingsAndBanelings", _MINI, kind=L.K_WAVES, agent=(("Marine", 9),),
                enemy=(("Zergling", 6), ("Baneling", 4)), max_units=80, kill_reward=5, loss_reward=-1,
                wave_extra=("Marine", 4), enemy_clump=True),
        # SMAC-style symmetric maps (issue 2 item 5): +10 per kill, +200 for a win, 120 s.
        MapSpec("3m", _MINI, kind=L.K_DUEL, has_win=True, agent=(("Marine", 3),), enemy=(("Marine", 3),),
                max_units=6, kill_reward=10, win_reward=200, default_bot="attack_nearest"),
        MapSpec("2s3z", _MINI, kind=L.K_DUEL, has_win=True, agent=(("Stalker", 2), ("Zealot", 3)),
                enemy=(("Stalker", 2), ("Zealot", 3)), max_units=10, kill_reward=10, win_reward=200,
                default_bot="attack_nearest"),
    )
}

MAP_NAMES: tuple[str, ...] = tuple(MAPS)


def map_spec(name: str) -> MapSpec:
    """The spec of a map by name; a UserError naming the allowed maps otherwise."""
    try:
        return MAPS[name]
    except KeyError:
        raise UserError(f"unknown map {name!r}; choose one of: {', '.join(MAP_NAMES)}") from None
