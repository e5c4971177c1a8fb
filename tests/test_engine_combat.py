"""Combat arithmetic of the engine, derived by hand from the game's unit data (BurnySc2/sc2-techtree
data/data.json, normal speed: cooldowns in game seconds of 16 game loops).

Timing bounds: a weapon fires on the loop its cooldown reaches 0, so the gap between two shots is
ceil(cooldown * 16 + jitter) loops with jitter in [-1, 2] (pysc2 docs/environment.md: -1..+2 game steps).
"""

from __future__ import annotations

import math

import numpy as np

from envs.engine.scenario import scenario
from envs.engine.units import MELEE
from envs.raw_schema import FeatureUnit as FU
from envs.raw_schema import RawCommand, RawFunction

X0, Y0 = 30.0, 28.0  # inside the playable area of the base map


# weapon cooldowns in game seconds (data.json weapons[0].cooldown)
MARINE_COOLDOWN, ZEALOT_COOLDOWN, ZERGLING_COOLDOWN = 0.86083984375, 1.199951171875, 0.696044921875


def gap_bounds(cooldown: float) -> tuple[int, int]:
    c = cooldown * 16
    return math.ceil(c - 1.0), math.ceil(c + 2.0)


def row(obs, tag):
    hit = np.flatnonzero(obs.raw_units[:, FU.tag] == tag)
    return obs.raw_units[hit[0]] if len(hit) else None


def attack_and_record(units, attacker, victim, disarm, max_loops=2000):
    """Order unit `attacker` (index into units) to attack `victim`; step loop by loop and return the
    victim's (loop, health, shield) after every loop in which it changed, and its death loop. Regeneration
    is off: these are the damage arithmetic (regeneration has its own tests below)."""
    eng, obs = scenario(units, disarm=disarm, regenerate=False)
    tags = obs.raw_units[:, FU.tag].tolist()
    r = row(obs, tags[victim])
    last = (int(r[FU.health]), int(r[FU.shield]))
    obs = eng.step([RawCommand(RawFunction.Attack_unit, False, (tags[attacker],), tags[victim])])
    assert obs.action_results == []
    events = []
    for _ in range(max_loops):
        r = row(obs, tags[victim])
        if r is None:
            return events, obs.game_loop, eng, obs
        cur = (int(r[FU.health]), int(r[FU.shield]))
        if cur != last:
            events.append((obs.game_loop, *cur))
        last = cur
        obs = eng.step([])
    raise AssertionError("victim never died")


def full(units, victim):
    from envs.engine.units import UNIT_INDEX, UNIT_TYPES

    t = UNIT_TYPES[UNIT_INDEX[units[victim][0]]]
    return int(t.hp), int(t.shield)


def shots(units, attacker, victim, disarm):
    """List of (loop, health, shield) per shot including the killing one (health 0 at death)."""
    events, death, eng, obs = attack_and_record(units, attacker, victim, disarm)
    return events + [(death, 0, 0)], full(units, victim)


def check_gaps(loops, cooldown):
    lo, hi = gap_bounds(cooldown)
    gaps = np.diff(loops)
    assert gaps.min() >= lo and gaps.max() <= hi, (gaps, lo, hi)
    n = len(gaps)
    assert n * lo <= loops[-1] - loops[0] <= n * hi


def test_marine_kills_zergling_in_6_shots():
    units = [("Marine", 1, X0, Y0), ("Zergling", 2, X0 + 4.0, Y0)]
    ev, (hp, _) = shots(units, 0, 1, disarm=("Zergling",))
    assert len(ev) == 6  # ceil(35 / 6)
    assert [h for _, h, _ in ev[:-1]] == [35 - 6 * k for k in range(1, 6)]
    # in range at once: the attack starts on the first loop, its shot lands 0.05 game s (0.8 loops, one
    # whole loop) later (GuassRifle DamagePoint)
    assert ev[0][0] == 2
    check_gaps([loop for loop, _, _ in ev], MARINE_COOLDOWN)  # 5 gaps: 65..80 loops in total


def test_marine_kills_roach_in_29_shots():
    units = [("Marine", 1, X0, Y0), ("Roach", 2, X0 + 5.0, Y0)]  # edge distance 4.125 <= 5
    ev, _ = shots(units, 0, 1, disarm=("Roach",))
    assert len(ev) == 29  # 6 - 1 armour = 5 per shot, 145 / 5 = 29
    assert [h for _, h, _ in ev[:-1]] == [145 - 5 * k for k in range(1, 29)]
    check_gaps([loop for loop, _, _ in ev], MARINE_COOLDOWN)  # 28 gaps: 364..448 loops


def test_zealot_double_hit_applies_armour_per_hit():
    units = [("Zealot", 1, X0, Y0), ("Roach", 2, X0 + 1.05, Y0)]  # edge distance 0.05 <= 0.1 melee
    ev, _ = shots(units, 0, 1, disarm=("Roach",))
    # 2 x (8 - 1) = 14 per attack: 11 attacks for 145 HP (armour once per attack would need 10)
    assert len(ev) == 11
    assert [h for _, h, _ in ev[:-1]] == [145 - 14 * k for k in range(1, 11)]
    check_gaps([loop for loop, _, _ in ev], ZEALOT_COOLDOWN)


def test_stalker_shield_soaks_damage_first():
    units = [("Marine", 1, X0, Y0), ("Stalker", 2, X0 + 5.5, Y0)]  # edge distance 4.5
    ev, _ = shots(units, 0, 1, disarm=("Stalker",))
    # shots 1-13: shields 80 -> 2, HP untouched (shield armour 0)
    assert ev[:13] == [(ev[k][0], 80, 80 - 6 * (k + 1)) for k in range(13)]
    # shot 14: 2 on the shield, 4 spill over minus 1 armour -> HP 77; then 5 per shot: 16 more shots
    assert ev[13][1:] == (77, 0)
    assert [h for _, h, _ in ev[14:-1]] == [77 - 5 * k for k in range(1, 16)]
    assert len(ev) == 30
    check_gaps([loop for loop, _, _ in ev], MARINE_COOLDOWN)


def test_baneling_splash_radius_bonus_and_death():
    r = 0.375  # Marine and Baneling radius
    units = [
        ("Baneling", 2, X0, Y0),
        ("Marine", 1, X0 + 2 * r + 0.2, Y0),  # in the Baneling's 0.25 range: it explodes at once
        ("Marine", 1, X0, Y0 + 2.2 + r - 0.01),  # edge 2.19 from the Baneling's centre: hit
        ("Marine", 1, X0 - (2.2 + r + 0.05), Y0),  # edge 2.25: outside
        ("Roach", 1, X0, Y0 - 2.2 - 0.5 + 0.05),  # Armored: no Light bonus
        ("Zergling", 2, X0 - 0.2, Y0 + 1.2),  # the Baneling's ally: untouched
    ]
    eng, obs = scenario(units, disarm=("Marine", "Roach", "Zergling"))
    tags = obs.raw_units[:, FU.tag].tolist()
    obs = eng.step([])
    assert obs.game_loop == 1
    assert row(obs, tags[0]) is None  # the Baneling died exploding
    hp = [int(row(obs, t)[FU.health]) for t in tags[1:]]
    assert hp == [45 - 35, 45 - 35, 45, 145 - 15, 35]  # 16 + 19 vs Light; 16 - 1 armour vs the Roach


def test_zergling_melee_range_is_edge_to_edge():
    # on hold position a Zergling bites only when the gap between the two circles is <= 0.1
    for gap, bites in ((0.09, True), (0.12, False)):
        units = [("Zergling", 1, X0, Y0), ("Marine", 2, X0 + 0.75 + gap, Y0)]
        eng, obs = scenario(units, disarm=("Marine",))
        tags = obs.raw_units[:, FU.tag].tolist()
        eng.step([RawCommand(RawFunction.HoldPosition_quick, False, (tags[0],))])
        for _ in range(30):
            obs = eng.step([])
        assert (int(row(obs, tags[1])[FU.health]) < 45) == bites
    # ordered to attack from afar it closes in to exactly range + both radii, then kills in 9 bites
    units = [("Zergling", 1, X0, Y0), ("Marine", 2, X0 + 3.0, Y0)]
    eng, obs = scenario(units, disarm=("Marine",))
    tags = obs.raw_units[:, FU.tag].tolist()
    obs = eng.step([RawCommand(RawFunction.Attack_unit, False, (tags[0],), tags[1])])
    loops = []
    while True:
        m = row(obs, tags[1])
        if m is None:
            loops.append(obs.game_loop)
            break
        if m[FU.health] < 45 - 5 * len(loops):
            loops.append(obs.game_loop)
            gap = np.linalg.norm(obs.positions[0] - obs.positions[1]) - 0.75
            assert abs(gap - MELEE) < 1e-6 or len(loops) > 1
        obs = eng.step([])
    assert len(loops) == 9  # ceil(45 / 5)
    # walk at 2.953125 / 16 per loop to melee range (0.1, stored as 0.10009765625); the bite starts the next
    # loop and lands 0.167 game s (2.67 loops, three whole loops) later (the CWeapon default DamagePoint)
    assert loops[0] == math.ceil((3.0 - 0.75 - MELEE) / (2.953125 / 16)) + 1 + 3
    check_gaps(loops, ZERGLING_COOLDOWN)


def test_damage_dealt_counts_shields_and_hit_points_without_overkill():
    # Marine (owner 1) kills a Stalker: 80 shield + 80 hit points, the last shot's overkill excluded.
    units = [("Marine", 1, X0, Y0), ("Stalker", 2, X0 + 5.5, Y0)]
    *_, eng, _ = attack_and_record(units, 0, 1, disarm=("Stalker",))
    assert eng._batch.arrays().damage_dealt[0] == 160.0
    # The enemy's hits on the agent's units do not count: an idle enemy Marine shoots a disarmed Zergling.
    eng, obs = scenario([("Zergling", 1, X0, Y0), ("Marine", 2, X0 + 4.0, Y0)], disarm=("Zergling",))
    for _ in range(100):
        obs = eng.step([])
    zergling = obs.raw_units[obs.raw_units[:, FU.alliance] == 1]
    assert len(zergling) == 0 or zergling[0, FU.health] < 35  # it was hit
    assert eng._batch.arrays().damage_dealt[0] == 0.0


def test_unit_table_is_normal_speed_game_data_at_16_loops_per_second():
    # (cooldown s, speed per game second) of BurnySc2/sc2-techtree data/data.json; 16 game loops per game
    # second (pysc2 docs/environment.md). The Marine's 0.8608 s is 13.77 loops, not 0.61 s x 22.4 = 13.66.
    from envs.engine.units import SPEED, UNIT_INDEX, WEAPON_COOLDOWN, build_tables

    dump = {"Marine": (0.86083984375, 2.25), "Marauder": (1.5, 2.25), "Zergling": (0.696044921875, 2.953125),
            "Roach": (2.0, 2.25), "Hydralisk": (0.824951171875, 2.25), "Stalker": (1.8701171875, 2.953125),
            "Zealot": (1.199951171875, 2.25), "SCV": (1.5, 2.8125), "Baneling": (0.0, 2.5)}
    type_f, _ = build_tables()
    for name, (cooldown, speed) in dump.items():
        row = type_f[UNIT_INDEX[name]]
        assert row[WEAPON_COOLDOWN] == cooldown * 16 and row[SPEED] == speed / 16, name
    assert abs(type_f[UNIT_INDEX["Marine"], WEAPON_COOLDOWN] - 13.7734375) < 1e-9


def _hit_once_then_leave(victim: str, gap: float):
    """A Marine attacks a disarmed `victim` at edge distance `gap`, walks out of scan range after its first
    hit lands; returns (engine, latest obs, victim tag, the loop of the hit)."""
    eng, obs = scenario([("Marine", 1, X0, Y0), (victim, 2, X0 + gap + 0.375 + 0.5, Y0)], disarm=(victim,))
    tags = obs.raw_units[:, FU.tag].tolist()
    full_life = [int(row(obs, tags[1])[FU.health]), int(row(obs, tags[1])[FU.shield])]
    obs = eng.step([RawCommand(RawFunction.Attack_unit, False, (tags[0],), tags[1])])
    while [int(row(obs, tags[1])[FU.health]), int(row(obs, tags[1])[FU.shield])] == full_life:
        obs = eng.step([])
    hit = obs.game_loop
    obs = eng.step([RawCommand(RawFunction.Move_pt, False, (tags[0],), (X0 - 7.5, 64.0 - Y0))])
    assert obs.action_results == []
    return eng, obs, tags[1], hit


def test_shields_regenerate_2_per_game_second_after_10_game_seconds_without_damage():
    # Zealot shields (50) take one 6-damage hit; they stay at 44 for 160 loops, then regain 2 per 16 loops
    # (GameData UnitData.xml ShieldRegenDelay 10, ShieldRegenRate 2; Liquipedia "Plasma Shield")
    eng, obs, zealot, hit = _hit_once_then_leave("Zealot", 4.0)
    shields = {}
    while obs.game_loop <= hit + 160 + 48:
        shields[obs.game_loop] = int(row(obs, zealot)[FU.shield])
        obs = eng.step([])
    # the hit landed in the loop before observation `hit`; regeneration runs from the 160th loop after it:
    # k loops past observation hit + 159, the shields are 44 + 2 / 16 * k
    assert {shields[t] for t in range(hit + 1, hit + 160)} == {44}
    assert (shields[hit + 159 + 15], shields[hit + 159 + 16], shields[hit + 159 + 32]) == (45, 46, 48)
    assert shields[hit + 160 + 48] == 50  # full, and no further
    assert int(row(obs, zealot)[FU.health]) == 100


def test_zerg_hit_points_regenerate_0_2734_per_game_second():
    # a Roach hit for 5 (6 - 1 armour) regains 0.2734 hit points per 16 loops from then on (GameData
    # UnitData.xml LifeRegenRate 0.2734): 142.7 after 10 game seconds, full (145, no more) after 20
    eng, obs, roach, hit = _hit_once_then_leave("Roach", 3.5)
    while obs.game_loop < hit + 160:
        obs = eng.step([])
    assert int(row(obs, roach)[FU.health]) == 142
    while obs.game_loop < hit + 320:
        obs = eng.step([])
    assert int(row(obs, roach)[FU.health]) == 145


def _first_damage_loop(units, disarm, commands_at=None, max_loops=60):
    """Order unit 0 to attack unit 1 on the first loop (and send `commands_at[loop](tags)` when the game is
    at that loop); the observed game loop at which unit 1 first loses life, or None."""
    eng, obs = scenario(units, disarm=disarm, regenerate=False)
    tags = obs.raw_units[:, FU.tag].tolist()
    life = int(row(obs, tags[1])[FU.health]) + int(row(obs, tags[1])[FU.shield])
    obs = eng.step([RawCommand(RawFunction.Attack_unit, False, (tags[0],), tags[1])])
    while obs.game_loop < max_loops:
        r = row(obs, tags[1])
        if r is None or int(r[FU.health]) + int(r[FU.shield]) < life:
            return obs.game_loop, eng, obs
        extra = (commands_at or {}).get(obs.game_loop)
        obs = eng.step([extra(tags)] if extra else [])
    return None, eng, obs


def test_missiles_take_their_flight_time_and_point_blank_hits_do_not():
    # A Roach's attack starts on loop 0; its shot leaves after the damage point (0.167 game s: three whole
    # loops) and its missile flies 18.75 / 16 per loop from that loop (MoverData.xml AcidSalivaWeapon): a
    # Marine 4.375 centre to centre away is hit on the ceil(4.375 / 1.171875) = 4th loop of flight.
    loop, *_ = _first_damage_loop([("Roach", 1, X0, Y0), ("Marine", 2, X0 + 4.375, Y0)], ("Marine",))
    assert loop == 3 + 4
    # a Marine within 0.5 of the Roach is hit by its melee weapon as the shot leaves
    loop, *_ = _first_damage_loop([("Roach", 1, X0, Y0), ("Marine", 2, X0 + 0.875 + 0.3, Y0)], ("Marine",))
    assert loop == 3 + 1
    # a Hydralisk's needle (40 / 16 per loop) after its 0.14 s damage point (2.24 loops: three)
    loop, *_ = _first_damage_loop([("Hydralisk", 1, X0, Y0), ("Marine", 2, X0 + 5.0, Y0)], ("Marine",))
    assert loop == 3 + 2
    # a Stalker's shot on a Zealot 6.5 away: three loops of wind-up, ceil(6.5 / 1.171875) = 6 of flight
    loop, *_ = _first_damage_loop([("Stalker", 1, X0, Y0), ("Zealot", 2, X0 + 6.5, Y0)], ("Zealot",))
    assert loop == 3 + 6


def test_moving_during_the_wind_up_cancels_the_shot_and_gives_the_weapon_back():
    # a Hydralisk told to move one loop into its 3-loop wind-up never fires, and its weapon is ready again
    units = [("Hydralisk", 1, X0, Y0), ("Marine", 2, X0 + 5.0, Y0)]
    move = {1: lambda tags: RawCommand(RawFunction.Move_pt, False, (tags[0],), (X0 - 4.0, 64.0 - Y0))}
    loop, eng, obs = _first_damage_loop(units, ("Marine",), move, max_loops=40)
    assert loop is None and row(obs, obs.raw_units[0, FU.tag])[FU.weapon_cooldown] == 0
    # moving once the shot has left (stutter step) keeps it, and the weapon keeps cooling down
    late = {4: lambda tags: RawCommand(RawFunction.Move_pt, False, (tags[0],), (X0 - 4.0, 64.0 - Y0))}
    loop, eng, obs = _first_damage_loop(units, ("Marine",), late, max_loops=40)
    assert loop == 5 and row(obs, obs.raw_units[0, FU.tag])[FU.weapon_cooldown] > 0
