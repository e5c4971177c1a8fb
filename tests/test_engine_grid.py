"""Cell lists (envs/engine/grid.py): a game found through the grids is the game found by scanning every
unit - same targets, same shots, same positions, bit for bit - on seeded large fights."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from envs.engine import BatchedEngine, map_spec
from envs.engine.state import ALIVE, NUM_AGENT, NUM_ENEMY, WEAPON_TARGET, State
from envs.engine.throughput import random_commands


def play(map_name: str, cell_lists: str, steps: int, seed: int = 3):
    """States after each step of a seeded game with random commands (1-3 units a step, as `bench engine`)."""
    spec = dataclasses.replace(map_spec(map_name), cell_lists=cell_lists)
    eng = BatchedEngine(spec, 1, [seed])
    obs = eng.reset()
    rnd = random.Random(seed)
    states = []
    for _ in range(steps):
        obs = eng.step([random_commands(o, rnd, spec.playable) for o in obs])
        states.append(tuple(a.copy() for a in eng.state))
        if obs[0].done:
            break
    return states


# bio_vs_zerg_250's crowds push units further in a loop than the grid allows for (its rebuilds and scans)
@pytest.mark.parametrize("map_name,steps",
                         [("27m_vs_30m", 60), ("bio_vs_zerg_128", 40), ("bio_vs_zerg_250", 80)])
def test_grid_and_scan_play_the_same_game(map_name, steps):
    grid, scan = play(map_name, "always", steps), play(map_name, "never", steps)
    assert len(grid) == len(scan)
    for k, (a, b) in enumerate(zip(grid, scan, strict=True)):
        for name, x, y in zip(State._fields, a, b, strict=True):
            assert np.array_equal(x, y), f"step {k}: state array {name} differs"
    # the fight happened: both sides lost units, and units were engaged with targets
    game = grid[-1][6]
    start = map_spec(map_name)
    assert game[0, NUM_AGENT] < sum(n for _, n in start.agent)
    assert game[0, NUM_ENEMY] < sum(n for _, n in start.enemy)
    engaged = [(s[1][0, :, WEAPON_TARGET] >= 0) & (s[1][0, :, ALIVE] == 1) for s in grid]
    assert max(int(e.sum()) for e in engaged) >= 10
