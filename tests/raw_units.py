"""Hand-built raw observations in pysc2's schema, for tests of featurize and translate."""

from __future__ import annotations

import numpy as np

from envs.raw_schema import NUM_PLAYER_COLUMNS, NUM_SCORE_COLUMNS, NUM_UNIT_COLUMNS, RawObs
from envs.raw_schema import FeatureUnit as FU

MARINE, ROACH, ZERGLING, BANELING, BEACON = 48, 110, 105, 9, 317
RADIUS = {MARINE: 0.375, ROACH: 0.5, ZERGLING: 0.375, BANELING: 0.375, BEACON: 1.25}
MAX_HP = {MARINE: 45, ROACH: 145, ZERGLING: 35, BANELING: 30, BEACON: 1}


def unit(unit_type: int, alliance: int, x: float, y: float, tag: int, health: float | None = None) -> dict:
    return dict(unit_type=unit_type, alliance=alliance, x=x, y=y, tag=tag,
                health=MAX_HP.get(unit_type, 50) if health is None else health)


def raw_obs(units: list[dict], game_loop: int = 0) -> RawObs:
    """A RawObs whose rows follow pysc2's columns: pixel x/y with y flipped on a 64x64 map."""
    raw = np.zeros((len(units), NUM_UNIT_COLUMNS), dtype=np.int64)
    pos = np.zeros((len(units), 2))
    radii = np.zeros(len(units))
    for i, u in enumerate(units):
        max_hp = MAX_HP.get(u["unit_type"], 50)
        raw[i, FU.unit_type] = u["unit_type"]
        raw[i, FU.alliance] = u["alliance"]
        raw[i, FU.health] = int(u["health"])
        raw[i, FU.health_ratio] = int(255 * u["health"] / max_hp)
        raw[i, FU.x] = int(u["x"])
        raw[i, FU.y] = int(64 - u["y"])
        raw[i, FU.tag] = u["tag"]
        raw[i, FU.radius] = int(RADIUS.get(u["unit_type"], 0.5))
        pos[i] = u["x"], u["y"]
        radii[i] = RADIUS.get(u["unit_type"], 0.5)
    return RawObs(raw_units=raw, positions=pos, radii=radii, player=np.zeros(NUM_PLAYER_COLUMNS, np.int64),
                  game_loop=game_loop, score_cumulative=np.zeros(NUM_SCORE_COLUMNS, np.int64))
