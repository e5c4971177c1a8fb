"""pysc2 agents around the engine's raw scripted players, for pysc2's `run_loop` on `EngineSC2Env` (or,
unchanged, on the real game):

    python -m envs.engine_sc2env --agent envs.pysc2_scripted.BuildMarinesRaw --map BuildMarines

Each agent sees only pysc2's observation (raw units at integer pixels, the player vector) and answers
with pysc2 FunctionCalls, one per raw command of its player.
"""

from __future__ import annotations

import math

import numpy as np

from envs import pysc2_compat
from envs.raw_schema import FeatureUnit as FU
from envs.raw_schema import RawObs
from envs.scripted_economy import BuildMarines, CollectMineralsAndGas

_p = pysc2_compat.import_pysc2()
from pysc2.agents import base_agent  # noqa: E402  (after the shims import_pysc2 installs)

_RAW = _p.actions.RAW_FUNCTIONS
MAP_H = 64.0  # the minigames' map height (pysc2 raw pixels at raw_resolution 64 are world units)


def _raw_obs(obs) -> RawObs:
    """A RawObs from pysc2's observation: positions are pixel centres (x + 0.5, map_h - y - 0.5)."""
    units = np.asarray(obs["raw_units"], np.int64)
    xy = np.stack([units[:, FU.x] + 0.5, MAP_H - units[:, FU.y] - 0.5], axis=1).astype(np.float64)
    return RawObs(units, xy.reshape(-1, 2), units[:, FU.radius].astype(np.float64),
                  np.asarray(obs["player"], np.int64), int(obs["game_loop"][0]),
                  np.asarray(obs["score_cumulative"], np.int64))


def _pixel(target) -> list[int]:
    """The integer raw pixel whose centre pysc2 sends as the world point nearest the player's target:
    pysc2 adds half a pixel (lib/transform.py PixelToCoord), and the engine snaps a structure's centre
    to its footprint's grid (economy.snap), so x rounds down and y (flipped) rounds up."""
    x, y = target
    return [int(math.floor(x - 0.5)), int(math.ceil(y - 0.5))]


class ScriptedRaw(base_agent.BaseAgent):
    """A pysc2 agent playing one of the engine's raw scripted players (`player_cls`)."""

    player_cls = None

    def reset(self):
        super().reset()
        self._player = self.player_cls()

    def step(self, obs):
        super().step(obs)
        calls = []
        for cmd in self._player(_raw_obs(obs.observation)):
            fn = _RAW[int(cmd.function)]
            args = ["queued" if cmd.queued else "now", list(cmd.unit_tags)]
            if isinstance(cmd.target, tuple):
                args.append(_pixel(cmd.target))
            elif cmd.target is not None:
                args.append(int(cmd.target))
            calls.append(fn(*args))
        return calls or _RAW.no_op()


class CollectMineralsAndGasRaw(ScriptedRaw):
    player_cls = CollectMineralsAndGas


class BuildMarinesRaw(ScriptedRaw):
    player_cls = BuildMarines
