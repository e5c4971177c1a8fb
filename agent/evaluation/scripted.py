"""Scripted agents that act only through the entity env's observation and action space.

Each agent maps one entity observation (the Dict of `envs.entity_env`) to per-unit actions [U]. They
are the baselines the learned agents are compared with, and a check that the action space can express
the minigames' known good play.
"""

from __future__ import annotations

import numpy as np

from envs.action_space import Verb
from envs.errors import UserError
from envs.featurize import ENTITY_FEATURES, KNOWN_UNIT_TYPES, EntitySpec

F = {name: i for i, name in enumerate(ENTITY_FEATURES)}


class Agent:
    """Base: no-op for every unit. Subclasses override `act`."""

    def __init__(self, spec: EntitySpec, seed: int = 0):
        self.spec = spec
        self.layout = spec.layout
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        pass

    def act(self, obs: dict) -> np.ndarray:
        return np.zeros(self.spec.max_units, dtype=np.int64)

    # Views of the observation the scripts share.
    def _units(self, obs: dict) -> np.ndarray:
        """Slots of own units that can act."""
        return np.flatnonzero(obs["entity_mask"][: self.spec.max_units])

    def _slots(self, obs: dict, feature: str) -> np.ndarray:
        ents = obs["entities"]
        return np.flatnonzero((obs["entity_mask"] == 1) & (ents[:, F[feature]] > 0.5))

    def _xy(self, obs: dict) -> np.ndarray:
        """World (x, y) of every slot, undoing featurize's normalisation."""
        half = np.asarray(self.spec.map_size, dtype=np.float64) / 2.0
        return obs["entities"][:, [F["x"], F["y"]]] * half + half

    def _all(self, obs: dict, verb: Verb, target: int) -> np.ndarray:
        actions = np.zeros(self.spec.max_units, dtype=np.int64)
        actions[self._units(obs)] = self.layout.encode(verb, target)
        return actions


class RandomAgent(Agent):
    """Uniform over each unit's legal actions."""

    def act(self, obs: dict) -> np.ndarray:
        mask = obs["action_mask"]
        return np.array([self.rng.choice(np.flatnonzero(row)) for row in mask], dtype=np.int64)


class MoveToBeacon(Agent):
    """Move the Marine to the beacon every step (pysc2's scripted MoveToBeacon)."""

    def act(self, obs):
        beacons = self._slots(obs, "is_neutral")
        if len(beacons) == 0:
            return super().act(obs)
        return self._all(obs, Verb.MOVE_ENTITY, int(beacons[0]))


class CollectMineralShards(Agent):
    """Each Marine moves to its nearest shard not claimed by the other Marine."""

    def act(self, obs):
        actions = super().act(obs)
        shards = list(self._slots(obs, "is_neutral"))
        xy = self._xy(obs)
        for unit in self._units(obs):
            if not shards:
                break
            nearest = min(shards, key=lambda s: np.linalg.norm(xy[s] - xy[unit]))
            shards.remove(nearest)
            actions[unit] = self.layout.encode(Verb.MOVE_ENTITY, int(nearest))
        return actions


class FocusFire(Agent):
    """All units attack the visible enemy with the least health (nearest on ties); with no enemy in
    sight, attack-move through the grid cells in a sweep (needed under fog)."""

    def __init__(self, spec: EntitySpec, seed: int = 0):
        super().__init__(spec, seed)
        self.reset()

    def reset(self):
        g = self.spec.grid_size
        # Serpentine over every other row: covers the map with Marine sight 9 on an 8x8 grid.
        rows = range(1, g, 2)
        self._sweep = [r * g + (c if i % 2 == 0 else g - 1 - c) for i, r in enumerate(rows) for c in range(g)]
        self._waypoint = 0

    def act(self, obs):
        enemies = self._slots(obs, "is_enemy")
        units = self._units(obs)
        if len(units) == 0:
            return super().act(obs)
        if len(enemies):
            return self._all(obs, Verb.ATTACK_ENTITY, self._pick(obs, enemies, units))
        xy = self._xy(obs)
        centroid = xy[units].mean(axis=0)
        cells = self.spec.cell_centres()
        if np.linalg.norm(cells[self._sweep[self._waypoint]] - centroid) < 2.0:
            self._waypoint = (self._waypoint + 1) % len(self._sweep)
        return self._all(obs, Verb.ATTACK_POINT, self._sweep[self._waypoint])

    def _pick(self, obs, enemies, units) -> int:
        ents = obs["entities"]
        xy = self._xy(obs)
        centroid = xy[units].mean(axis=0)
        health = ents[enemies, F["health"]] + ents[enemies, F["shield"]]
        dist = np.linalg.norm(xy[enemies] - centroid, axis=1)
        return int(enemies[np.lexsort((dist, health))[0]])


class FocusFireColumnEnd(FocusFire):
    """Focus fire that breaks ties by the topmost enemy (largest world y, pysc2's DefeatRoachesRaw
    picks the smallest raw y): starting at the end of the Roach column keeps the other Roaches, which
    only join when a Roach near them is shot, out of the fight for longer."""

    def _pick(self, obs, enemies, units) -> int:
        ents = obs["entities"]
        health = ents[enemies, F["health"]] + ents[enemies, F["shield"]]
        return int(enemies[np.lexsort((-self._xy(obs)[enemies, 1], health))[0]])


class SplitOnBanelings(FocusFire):
    """Focus fire, but while Banelings live each Marine shoots its own nearest Baneling, so the
    Marines spread their fire and kill the Banelings before they connect."""

    BANELING_TYPE = 9  # pysc2/lib/units.py Zerg.Baneling

    def act(self, obs):
        baneling_index = KNOWN_UNIT_TYPES.index(self.BANELING_TYPE) + 1
        banelings = np.flatnonzero((obs["unit_type"] == baneling_index) & (obs["entity_mask"] == 1))
        if len(banelings) == 0:
            return super().act(obs)
        actions = super().act(obs)
        xy = self._xy(obs)
        for unit in self._units(obs):
            nearest = banelings[np.argmin(np.linalg.norm(xy[banelings] - xy[unit], axis=1))]
            actions[unit] = self.layout.encode(Verb.ATTACK_ENTITY, int(nearest))
        return actions


class LocalFocusFire(Agent):
    """Large battles: each unit attacks the weakest enemy within REACH of it (the nearest on ties), else
    its nearest enemy - focus fire where the armies touch, with every unit busy."""

    REACH = 6.0  # centre to centre: a Marine's range 5 plus two small radii

    def act(self, obs):
        enemies, units = self._slots(obs, "is_enemy"), self._units(obs)
        if len(units) == 0 or len(enemies) == 0:
            return super().act(obs)
        ents, xy = obs["entities"], self._xy(obs)
        dist = np.linalg.norm(xy[units, None, :] - xy[None, enemies, :], axis=2)  # [units, enemies]
        life = ents[enemies, F["health"]] + ents[enemies, F["shield"]]
        # rank by life within reach, by distance beyond it: in reach first, then weakest, then nearest
        key = np.where(dist <= self.REACH, life[None, :] + dist * 1e-3, 1e6 + dist)
        actions = super().act(obs)
        actions[units] = self.layout.encode(Verb.ATTACK_ENTITY, 0) + enemies[np.argmin(key, axis=1)]
        return actions


SCRIPTED_AGENTS = {
    "MoveToBeacon": MoveToBeacon,
    "CollectMineralShards": CollectMineralShards,
    "FindAndDefeatZerglings": FocusFire,
    "DefeatRoaches": FocusFireColumnEnd,
    "DefeatZerglingsAndBanelings": SplitOnBanelings,
    "3m": FocusFire,
    "8m": FocusFire,
    "2s3z": FocusFire,
    "3s5z": FocusFire,
    "27m_vs_30m": FocusFire,
    "bio_vs_zerg_128": LocalFocusFire,
    "bio_vs_zerg_250": LocalFocusFire,
}


def scripted_agent(map_name: str, spec: EntitySpec, seed: int = 0) -> Agent:
    """The scripted agent for `map_name`."""
    if map_name not in SCRIPTED_AGENTS:
        raise UserError(f"no scripted agent for {map_name}; maps with one: {', '.join(SCRIPTED_AGENTS)}")
    return SCRIPTED_AGENTS[map_name](spec, seed)
