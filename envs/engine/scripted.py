"""Raw-command scripted players for the engine's maps (in the spirit of pysc2/agents/scripted_agent.py).

Each is a callable `policy(obs: RawObs) -> list[RawCommand]` that reads only the raw observation.
Points are sent in pysc2's raw pixel space with float precision (x, map_h - y).
"""

from __future__ import annotations

import numpy as np

from envs.raw_schema import MAX_SELECTED_UNITS, RawCommand, RawFunction
from envs.raw_schema import FeatureUnit as FU

MAP_H = 64.0  # every minigame map is 64x64 (pysc2 mini_games)
SELF, NEUTRAL, ENEMY = 1, 3, 4  # pysc2 PlayerRelative


def _tags(rows) -> list[int]:
    return [int(t) for t in rows[:, FU.tag]]


def _chunked(fn, tags, target, queued=False) -> list[RawCommand]:
    return [RawCommand(fn, queued, tuple(tags[i:i + MAX_SELECTED_UNITS]), target)
            for i in range(0, len(tags), MAX_SELECTED_UNITS)]


def _px(pos) -> tuple[float, float]:
    return float(pos[0]), MAP_H - float(pos[1])


def move_to_beacon(obs) -> list[RawCommand]:
    """Move the army onto the beacon's centre every step."""
    al = obs.raw_units[:, FU.alliance]
    mine, beacon = np.flatnonzero(al == SELF), np.flatnonzero(al == NEUTRAL)
    if len(mine) == 0 or len(beacon) == 0:
        return []
    return _chunked(RawFunction.Move_pt, _tags(obs.raw_units[mine]), _px(obs.positions[beacon[0]]))


def collect_shards(obs) -> list[RawCommand]:
    """Each Marine walks to the nearest shard not already picked by an earlier Marine."""
    al = obs.raw_units[:, FU.alliance]
    mine, shards = np.flatnonzero(al == SELF), np.flatnonzero(al == NEUTRAL)
    if len(mine) == 0 or len(shards) == 0:
        return []
    free = list(shards)
    out = []
    for m in mine:
        if not free:
            break
        d = np.linalg.norm(obs.positions[free] - obs.positions[m], axis=1)
        k = free.pop(int(np.argmin(d)))
        tag = int(obs.raw_units[m, FU.tag])
        out.append(RawCommand(RawFunction.Move_pt, False, (tag,), _px(obs.positions[k])))
    return out


def focus_fire(obs) -> list[RawCommand]:
    """All units attack one enemy: the one with the smallest raw y (pysc2's DefeatRoaches agent)."""
    al = obs.raw_units[:, FU.alliance]
    mine, enemy = np.flatnonzero(al == SELF), np.flatnonzero(al == ENEMY)
    if len(mine) == 0 or len(enemy) == 0:
        return []
    target = enemy[np.argmin(obs.raw_units[enemy, FU.y])]
    return _chunked(RawFunction.Attack_unit, _tags(obs.raw_units[mine]), int(obs.raw_units[target, FU.tag]))


def local_focus_fire(obs) -> list[RawCommand]:
    """Large battles: each unit attacks the weakest enemy within LOCAL_REACH of it (the nearest on ties),
    else its nearest enemy; units with the same target share a command."""
    al = obs.raw_units[:, FU.alliance]
    mine, enemy = np.flatnonzero(al == SELF), np.flatnonzero(al == ENEMY)
    if len(mine) == 0 or len(enemy) == 0:
        return []
    dist = np.linalg.norm(obs.positions[mine, None, :] - obs.positions[None, enemy, :], axis=2)
    life = obs.raw_units[enemy, FU.health] + obs.raw_units[enemy, FU.shield]
    key = np.where(dist <= LOCAL_REACH, life[None, :] + dist * 1e-3, 1e6 + dist)
    target = enemy[np.argmin(key, axis=1)]
    out = []
    for t in np.unique(target):
        out += _chunked(RawFunction.Attack_unit, _tags(obs.raw_units[mine[target == t]]),
                        int(obs.raw_units[t, FU.tag]))
    return out


LOCAL_REACH = 6.0  # centre to centre: a Marine's range 5 plus two small radii
SWEEP = ((18.0, 18.0), (32.0, 17.0), (46.0, 18.0), (47.0, 28.0), (46.0, 38.0), (32.0, 39.0), (18.0, 38.0),
         (17.0, 28.0))  # a loop around FindAndDefeatZerglings' playable area, inside sight of its edges
SWEEP_LOOPS = 160  # 10 game seconds per waypoint: about one leg at Marine speed


def hunt(obs) -> list[RawCommand]:
    """FindAndDefeatZerglings: all attack the visible Zergling nearest to the army's centre, else
    attack-move along a loop of waypoints (the leg chosen by the game clock)."""
    al = obs.raw_units[:, FU.alliance]
    mine, enemy = np.flatnonzero(al == SELF), np.flatnonzero(al == ENEMY)
    if len(mine) == 0:
        return []
    centre = obs.positions[mine].mean(axis=0)
    tags = _tags(obs.raw_units[mine])
    if len(enemy):
        k = enemy[np.argmin(np.linalg.norm(obs.positions[enemy] - centre, axis=1))]
        return _chunked(RawFunction.Attack_unit, tags, int(obs.raw_units[k, FU.tag]))
    waypoint = SWEEP[(obs.game_loop // SWEEP_LOOPS) % len(SWEEP)]
    return _chunked(RawFunction.Attack_pt, tags, _px(waypoint))


SCRIPTED = {
    "MoveToBeacon": move_to_beacon,
    "CollectMineralShards": collect_shards,
    "FindAndDefeatZerglings": hunt,
    "DefeatRoaches": focus_fire,
    "DefeatZerglingsAndBanelings": focus_fire,
    "3m": focus_fire,
    "8m": focus_fire,
    "2s3z": focus_fire,
    "3s5z": focus_fire,
    "27m_vs_30m": focus_fire,
    "bio_vs_zerg_128": local_focus_fire,
    "bio_vs_zerg_250": local_focus_fire,
}
