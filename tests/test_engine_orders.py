"""Orders and weapon engagement: re-issued orders, melee units in a crowd, range slop (combat.py header).

Zealot arithmetic (the game's unit data, BurnySc2/sc2-techtree data/data.json, game seconds of 16 loops):
speed 2.25 / 16 per loop, cooldown 1.2 s, so a gap between attacks of at most ceil(1.2 * 16 + 2) = 22
loops; 2 x (8 - 1) = 14 damage per attack on a Roach (145 HP): 11 attacks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from envs.engine import Engine
from envs.engine.scenario import scenario
from envs.engine.units import MELEE
from envs.raw_schema import FeatureUnit as FU
from envs.raw_schema import RawCommand, RawFunction

ZEALOT_STEP = 2.25 / 16
ZEALOT_GAP_HI = math.ceil(1.199951171875 * 16 + 2.0)
ROACH_ATTACKS = 11


def alive(obs, tag) -> bool:
    return bool((obs.raw_units[:, FU.tag] == tag).any())


def kill_loop(units, attackers, victim, *, seed=0, reissue_every=0, max_loops=600):
    """Order `attackers` (indices into units) to attack `victim` (disarmed side); step loop by loop,
    re-issuing the same order every `reissue_every` loops if > 0. Returns the loop the victim died."""
    eng, obs = scenario(units, disarm=(units[victim][0],), seed=seed)
    tags = obs.raw_units[:, FU.tag].tolist()
    order = RawCommand(RawFunction.Attack_unit, False, tuple(tags[a] for a in attackers), tags[victim])
    obs = eng.step([order])
    while alive(obs, tags[victim]):
        assert obs.game_loop < max_loops, "the victim never died"
        again = reissue_every and obs.game_loop % reissue_every == 0
        obs = eng.step([order] if again else [])
        assert obs.action_results == []
    return obs.game_loop


@pytest.mark.parametrize("every", [1, 8])
def test_reissuing_the_same_attack_changes_nothing(every):
    # a Zealot walking in and a Stalker in range, each on its own disarmed Roach: same death loop
    for units in ([("Zealot", 1, 30.0, 28.0), ("Roach", 2, 33.0, 28.0)],
                  [("Stalker", 1, 30.0, 28.0), ("Roach", 2, 35.0, 28.0)]):
        once = kill_loop(units, [0], 1)
        assert kill_loop(units, [0], 1, reissue_every=every) == once


def _focus_game(seed: int, reissue: bool):
    """2s3z vs the idle bot: all own units attack the enemy with the least HP + shield. Either the order
    goes out every agent step, or only when the choice changes (the units keep it in between)."""
    eng = Engine("2s3z", seed=seed, enemy_bot="idle")
    obs = eng.reset(seed)
    last = None
    while not obs.done:
        ru = obs.raw_units
        own, enemy = ru[ru[:, FU.alliance] == 1], ru[ru[:, FU.alliance] == 4]
        target = int(enemy[np.lexsort((enemy[:, FU.tag], enemy[:, FU.health] + enemy[:, FU.shield]))[0],
                           FU.tag])
        cmds = []
        if reissue or target != last:
            cmds = [RawCommand(RawFunction.Attack_unit, False, tuple(int(t) for t in own[:, FU.tag]), target)]
        last = target
        obs = eng.step(cmds)
    return obs.game_loop, obs.outcome, obs.raw_units.copy(), obs.positions.copy()


@pytest.mark.parametrize("seed", [0, 1])
def test_reissued_focus_fire_plays_the_same_2s3z_game(seed):
    a, b = _focus_game(seed, True), _focus_game(seed, False)
    assert a[:2] == b[:2]
    np.testing.assert_array_equal(a[2], b[2])
    np.testing.assert_array_equal(a[3], b[3])


@pytest.mark.parametrize("n", [1, 3, 4, 5])
def test_more_zealots_kill_a_cornered_roach_sooner(n):
    # n Zealots side by side attack one Roach pinned against the playable edge (x = 44): the later ones
    # jostle for a place around it. A Zealot nudged a hair out of its 0.1 reach by the crowd must keep
    # swinging (range slop) instead of stepping back in every loop and never attacking.
    units = [("Zealot", 1, 40.0, 28.0 + k - (n - 1) / 2) for k in range(n)] + [("Roach", 2, 44.0, 28.0)]
    first = math.ceil((4.0 - 1.0 - MELEE) / ZEALOT_STEP) + 1  # walk to melee range, bite the next loop
    flank = 15  # loops for the outer Zealots to walk round to a free side of the Roach (~2 world units)
    bound = first + (math.ceil(ROACH_ATTACKS / n) - 1) * ZEALOT_GAP_HI + (flank if n > 2 else 0)
    for seed in (0, 1):
        assert kill_loop(units, list(range(n)), n, seed=seed) <= bound


def test_moving_off_ends_the_engagement():
    # a Stalker (range 6) shoots a disarmed Marine, moves off to an edge gap of ~6.6 (inside range + the
    # slop of 1), then is told to attack again: it must close back to 6 before its next shot
    eng, obs = scenario([("Stalker", 1, 30.0, 28.0), ("Marine", 2, 35.0, 28.0)], disarm=("Marine",))
    tags = obs.raw_units[:, FU.tag].tolist()
    attack = RawCommand(RawFunction.Attack_unit, False, (tags[0],), tags[1])
    obs = eng.step([attack])
    while obs.raw_units[1, FU.health] == 45:  # in range at once: wind-up (3 loops), then the missile's flight
        assert obs.game_loop < 10
        obs = eng.step([])
    assert obs.raw_units[1, FU.tag] == tags[1] and obs.raw_units[1, FU.health] == 45 - 13
    # Move_pt takes raw points: x, map height - y (pysc2 lib/features.py flips y)
    obs = eng.step([RawCommand(RawFunction.Move_pt, False, (tags[0],), (27.4, 64.0 - 28.0))])
    while abs(obs.positions[0, 0] - 27.4) > 1e-9:
        obs = eng.step([])
    for _ in range(40):  # let the weapon reload
        obs = eng.step([])
    gap = np.linalg.norm(obs.positions[0] - obs.positions[1]) - obs.radii[0] - obs.radii[1]
    assert 6.5 < gap < 7.0
    hp = int(obs.raw_units[1, FU.health])
    obs = eng.step([attack])
    while int(obs.raw_units[1, FU.health]) == hp:
        obs = eng.step([])
    gap = np.linalg.norm(obs.positions[0] - obs.positions[1]) - obs.radii[0] - obs.radii[1]
    assert gap <= 6.0 + 1e-6


def test_walking_units_do_not_push_enemies_aside():
    # a Marine walks straight at a (disarmed) Zergling standing in its way: the Zergling does not budge
    eng, obs = scenario([("Marine", 1, 30.0, 28.0), ("Zergling", 2, 33.0, 28.0)], disarm=("Zergling",))
    tags = obs.raw_units[:, FU.tag].tolist()
    obs = eng.step([RawCommand(RawFunction.Move_pt, False, (tags[0],), (36.0, 64.0 - 28.0))])
    for _ in range(60):
        obs = eng.step([])
        assert np.array_equal(obs.positions[1], (33.0, 28.0))
    # six touching Zerglings ring a Marine: ordered out, it cannot break the surround
    ring = [("Zergling", 2, 30.0 + 0.75 * math.cos(k * math.pi / 3), 28.0 + 0.75 * math.sin(k * math.pi / 3))
            for k in range(6)]
    eng, obs = scenario([("Marine", 1, 30.0, 28.0), *ring], disarm=("Zergling",))
    tags = obs.raw_units[:, FU.tag].tolist()
    start = obs.positions.copy()
    obs = eng.step([RawCommand(RawFunction.Move_pt, False, (tags[0],), (36.0, 64.0 - 28.1))])
    for _ in range(60):
        obs = eng.step([])
    assert np.allclose(obs.positions[1:], start[1:]) and np.linalg.norm(obs.positions[0] - start[0]) < 0.3
    # own units still make way: a Marine walks through a line of its own idle Marines
    line = [("Marine", 1, 33.0, 28.0 + 0.75 * (k - 2)) for k in range(5)]
    far_enemy = ("Zergling", 2, 43.0, 35.0)  # the duel map ends when a side has no units
    eng, obs = scenario([("Marine", 1, 30.0, 28.0), *line, far_enemy], disarm=("Zergling",))
    tags = obs.raw_units[:, FU.tag].tolist()
    obs = eng.step([RawCommand(RawFunction.Move_pt, False, (tags[0],), (36.0, 64.0 - 28.0))])
    for _ in range(100):
        obs = eng.step([])
    assert obs.positions[0, 0] > 35.0  # through the line, at (or, jostled, just short of) its point


def _group_move(positions, point, steps=12):
    """Marines at `positions` (plus a far disarmed Zergling: the duel map needs an enemy) ordered together
    to the world `point` (step_mul 8); returns the Marines' positions after `steps` agent steps."""
    units = [("Marine", 1, x, y) for x, y in positions] + [("Zergling", 2, 43.0, 21.0)]
    eng, obs = scenario(units, disarm=("Zergling",), step_mul=8)
    tags = tuple(obs.raw_units[:-1, FU.tag].tolist())
    obs = eng.step([RawCommand(RawFunction.Move_pt, False, tags, (point[0], 64.0 - point[1]))])
    for _ in range(steps):
        obs = eng.step([])
    return obs.positions[:-1]


def test_a_group_move_keeps_the_formation_of_clumped_units():
    # three Marines 1.5 apart in a column (a box 3 tall) sent to a point outside their box arrive in the
    # same column, shifted (the game's "magic box"); each goes to the point plus its offset
    column = [(26.0, 26.5), (26.0, 28.0), (26.0, 29.5)]
    end = _group_move(column, (36.0, 28.0))
    assert np.allclose(end, [(36.0, 26.5), (36.0, 28.0), (36.0, 29.5)], atol=1e-6)
    # a point inside the box: they all head for it and bunch up around it
    spread = [(26.0, 24.0), (29.0, 28.0), (26.0, 30.0)]
    end = _group_move(spread, (27.0, 28.0))
    assert np.linalg.norm(end - (27.0, 28.0), axis=1).max() < 1.0
    # a group spread wider than the formation limit (6) bunches up at the point too
    wide = [(24.0, 21.0), (24.0, 28.0), (24.0, 35.0)]
    end = _group_move(wide, (36.0, 28.0), steps=15)
    assert np.linalg.norm(end - (36.0, 28.0), axis=1).max() < 1.0
