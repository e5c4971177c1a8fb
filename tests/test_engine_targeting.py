"""Target acquisition: weapon scan ranges, threat and assistance (pysc2 docs/environment.md: auto-targeting
"is based on weapon scan distance, threat and assistance"; scan ranges from the game's WeaponData.xml as
mirrored in SC2Mapster/SC2GameData: Marine 5.5, Stalker 6.5, default 5)."""

from __future__ import annotations

import numpy as np

from envs.engine.scenario import scenario
from envs.engine.state import COOLDOWN
from envs.raw_schema import FeatureUnit as FU
from envs.raw_schema import RawCommand, RawFunction

X0, Y0 = 30.0, 28.0


def health(obs, tag) -> int:
    hit = np.flatnonzero(obs.raw_units[:, FU.tag] == tag)
    return int(obs.raw_units[hit[0], FU.health]) if len(hit) else 0


def run(units, loops, disarm=(), commands=()):
    eng, obs = scenario(units, disarm=disarm)
    tags = obs.raw_units[:, FU.tag].tolist()
    obs = eng.step([c(tags) for c in commands])
    for _ in range(loops - 1):
        obs = eng.step([])
    return eng, obs, tags


def test_idle_units_acquire_within_their_weapon_scan_range():
    # edge to edge: a Marine (range 5, scan 5.5) goes after a Zergling 5.3 away, not one 5.7 away
    for gap, attacked in ((5.3, True), (5.7, False)):
        units = [("Marine", 1, X0, Y0), ("Zergling", 2, X0 + 0.75 + gap, Y0)]
        _, obs, tags = run(units, 60, disarm=("Zergling",))
        assert (health(obs, tags[1]) < 35) == attacked, gap
    # a Roach (range 4, the default scan 5) comes for a Marine 4.6 away, not one 5.2 away
    for gap, attacked in ((4.6, True), (5.2, False)):
        units = [("Roach", 2, X0, Y0), ("Marine", 1, X0 + 0.875 + gap, Y0)]
        _, obs, tags = run(units, 80, disarm=("Marine",))
        assert (health(obs, tags[1]) < 45) == attacked, gap


def test_holding_units_only_fire_at_what_their_weapon_reaches():
    units = [("Marine", 1, X0, Y0), ("Zergling", 2, X0 + 0.75 + 5.3, Y0)]
    hold = (lambda tags: RawCommand(RawFunction.HoldPosition_quick, False, (tags[0],)),)
    _, obs, tags = run(units, 60, disarm=("Zergling",), commands=hold)
    assert health(obs, tags[1]) == 35 and np.allclose(obs.positions[0], (X0, Y0))


def test_an_armed_target_comes_before_a_nearer_harmless_one():
    # the idle Marine shoots the enemy Marine 4 away before the disarmed Zergling 2 away
    units = [("Marine", 1, X0, Y0), ("Zergling", 2, X0 - 2.75, Y0), ("Marine", 2, X0 + 4.75, Y0)]
    eng, obs = scenario(units, disarm=("Zergling",))
    tags = obs.raw_units[:, FU.tag].tolist()
    while health(obs, tags[2]) == 45 and health(obs, tags[1]) == 35:
        obs = eng.step([])
    assert health(obs, tags[1]) == 35 and health(obs, tags[2]) < 45


def test_an_enemy_attacking_an_ally_comes_before_a_nearer_idle_one():
    # a Stalker (range 6) sees two Zerglings: one 5.5 away idle (the Stalker is beyond its scan range 5),
    # one 5.8 away biting an own (disarmed) SCV. The call for help puts the Stalker's first shot on the biter.
    far = 0.625 + 5.8 + 0.375
    biter = (X0 - far * 0.6, Y0 + far * 0.8)
    units = [("Stalker", 1, X0, Y0), ("Zergling", 2, X0 + 0.625 + 5.5 + 0.375, Y0), ("Zergling", 2, *biter),
             ("SCV", 1, biter[0] - 0.85, biter[1])]
    eng, obs = scenario(units, disarm=("SCV",))
    eng._batch.state.unit_f[0, 0, COOLDOWN] = 6.0  # the Stalker looks after the biter has started
    tags = obs.raw_units[:, FU.tag].tolist()
    while health(obs, tags[1]) == 35 and health(obs, tags[2]) == 35:
        obs = eng.step([])
    assert health(obs, tags[1]) == 35 and health(obs, tags[2]) < 35


def test_attack_move_walks_past_enemies_beyond_scan_range():
    # a Zergling 6.5 beside the Marine's path (edge 5.75 > scan 5.5) is left alone; one 5.5 beside it is not
    for side, attacked in ((6.5, False), (5.5, True)):
        units = [("Marine", 1, 24.0, Y0), ("Zergling", 2, 33.0, Y0 + side)]
        amove = (lambda tags: RawCommand(RawFunction.Attack_pt, False, (tags[0],), (42.0, 64.0 - Y0)),)
        _, obs, tags = run(units, 200, disarm=("Zergling",), commands=amove)
        assert (health(obs, tags[1]) < 35) == attacked, side
        if not attacked:
            assert np.allclose(obs.positions[0], (42.0, Y0))
