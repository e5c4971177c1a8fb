"""The economy's rules with exact arithmetic: harvest income against the game's figures, build and train
times to the loop, supply, and refused commands."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from envs.engine import Engine, map_spec
from envs.engine.economy_data import BUILD_LOOPS, MARINE, MINE_LOOPS, MINERALS_PER_TRIP, SUPPLY_DEPOT
from envs.raw_schema import FeatureUnit as FU
from envs.raw_schema import Player as PL
from envs.raw_schema import RawCommand
from envs.raw_schema import RawFunction as RF

GAME_MINUTE = 16 * 60  # loops (pysc2 docs/environment.md: 16 loops a game second)
# Liquipedia "Resources": about 40-42 minerals a worker per game minute for a base's first 16 workers;
# a field is held 2.786 game s a trip, so 8 saturated fields give at most 8 * 5 * 60 / 2.786 a minute.
PER_WORKER = 41.0
SATURATED = 8 * 5 * 60 / 2.786


def economy(map_name="BuildMarines", scvs=12, minerals=50, extra=(), step_mul=8, seed=0, mining=False):
    """An economy map with `scvs` SCVs beside the Command Center (idle unless `mining`), `minerals` in
    the bank and `extra` own units (name, x, y) placed finished (a Refinery with a full geyser's gas)."""
    base = map_spec(map_name)
    pl = [p for p in base.placements if p[0] != "SCV"]
    pl += [("SCV", 1, 26.0 + 0.3 * (i % 4), 24.0 + 0.35 * i, 0) for i in range(scvs)]
    pl += [(name, 1, x, y, 2250 if name == "Refinery" else 0) for name, x, y in extra]
    spec = dataclasses.replace(base, placements=tuple(pl), start_minerals=minerals,
                               max_units=base.max_units + scvs, workers_mining=mining)
    eng = Engine(spec, seed=seed, step_mul=step_mul)
    return eng, eng.reset()


def tags(obs, sc2_id):
    return [int(t) for t in obs.raw_units[obs.raw_units[:, FU.unit_type] == sc2_id, FU.tag]]


def fields_by_distance(obs):
    """Mineral field tags, nearest to the Command Center first."""
    k = np.flatnonzero(obs.raw_units[:, FU.unit_type] == 341)
    d = np.hypot(obs.positions[k, 0] - 29.5, obs.positions[k, 1] - 28.5)
    return [int(obs.raw_units[i, FU.tag]) for i in k[np.argsort(d, kind="stable")]]


def gather_all(eng, obs):
    """Send the SCVs round-robin to the fields, nearest first; return the next observation."""
    fields = fields_by_distance(obs)
    cmds = [RawCommand(RF.Harvest_Gather_unit, False, (t,), fields[i % len(fields)])
            for i, t in enumerate(tags(obs, 45))]
    obs = eng.step(cmds)
    assert obs.action_results == []
    return obs


def run_until(eng, obs, loop):
    while obs.game_loop < loop:
        obs = eng.step([])
    return obs


def income_per_minute(workers: int) -> float:
    """Minerals a game minute over two minutes, after a minute of warm-up."""
    eng, obs = economy(scvs=workers)
    obs = run_until(eng, gather_all(eng, obs), GAME_MINUTE)
    start, loop = int(obs.score_cumulative[7]), obs.game_loop
    obs = run_until(eng, obs, 3 * GAME_MINUTE)
    return (int(obs.score_cumulative[7]) - start) * GAME_MINUTE / (obs.game_loop - loop)


@pytest.mark.parametrize("workers", [1, 8, 16])
def test_income_of_the_first_16_workers_is_the_games(workers):
    assert income_per_minute(workers) / workers == pytest.approx(PER_WORKER, rel=0.10)


def test_24_workers_saturate_the_fields_and_workers_17_to_24_add_much_less():
    i16, i24 = income_per_minute(16), income_per_minute(24)
    assert i24 == pytest.approx(SATURATED, rel=0.10)
    assert (i24 - i16) / 8 < 0.75 * i16 / 16


def test_a_trip_brings_five_minerals_and_holds_the_field_its_time():
    eng, obs = economy(scvs=1, step_mul=1)
    obs = gather_all(eng, obs)
    field = fields_by_distance(obs)[0]
    held = 0
    while int(obs.player[PL.minerals]) == 50:
        obs = eng.step([])
        row = obs.raw_units[obs.raw_units[:, FU.tag] == field][0]
        held += int(row[FU.mineral_contents] == 1800 - MINERALS_PER_TRIP and
                    obs.raw_units[obs.raw_units[:, FU.unit_type] == 45][0, FU.buff_id_0] == 0)
    assert int(obs.player[PL.minerals]) == 50 + MINERALS_PER_TRIP
    assert obs.score_cumulative[0] == 0  # BuildMarines scores Marines, not minerals
    assert MINE_LOOPS == 45


def test_a_marine_appears_exactly_after_its_build_time():
    eng, obs = economy(scvs=0, minerals=50, step_mul=1,
                       extra=(("SupplyDepot", 34.0, 34.0), ("Barracks", 36.5, 23.5)))
    rax = tags(obs, 21)
    obs = eng.step([RawCommand(RF.Train_Marine_quick, False, tuple(rax))])
    assert obs.action_results == [] and int(obs.player[PL.minerals]) == 0
    assert int(obs.player[PL.food_used]) == 1  # queued: supply taken at once
    built = BUILD_LOOPS[MARINE]
    assert built == 400
    for loop in range(2, built + 1):
        obs = eng.step([])
        if loop == built // 2:
            row = obs.raw_units[obs.raw_units[:, FU.unit_type] == 21][0]
            assert row[FU.order_id_0] == RF.Train_Marine_quick and row[FU.order_progress_0] == 50
        assert (obs.game_loop >= built) == (len(tags(obs, 48)) == 1), obs.game_loop
    assert obs.game_loop == built and obs.score_cumulative[0] == 1


def test_supply_block_stops_production_until_a_depot_finishes():
    eng, obs = economy(scvs=12, minerals=1000, step_mul=8)
    cc = tuple(tags(obs, 18))
    assert (obs.player[PL.food_used], obs.player[PL.food_cap]) == (12, 15)
    for _ in range(3):
        obs = eng.step([RawCommand(RF.Train_SCV_quick, False, cc)])
        assert obs.action_results == []
    obs = eng.step([RawCommand(RF.Train_SCV_quick, False, cc)])
    assert obs.action_results == [(0, "not enough supply: build a Supply Depot")]
    assert int(obs.player[PL.minerals]) == 850 and obs.game_loop == 32  # refused, and the game goes on
    obs = run_until(eng, obs, 3 * 272 + 8)
    assert len(tags(obs, 45)) == 15
    obs = eng.step([RawCommand(RF.Train_SCV_quick, False, cc)])
    assert obs.action_results == [(0, "not enough supply: build a Supply Depot")]
    builder = tags(obs, 45)[0]
    obs = eng.step([RawCommand(RF.Build_SupplyDepot_pt, False, (builder,), (34.0, 64 - 34.0))])
    assert obs.action_results == []
    while not any(obs.raw_units[:, FU.unit_type] == 19):
        obs = eng.step([])
    placed = obs.game_loop
    assert int(obs.player[PL.minerals]) == 850 - 100
    depot = obs.raw_units[obs.raw_units[:, FU.unit_type] == 19][0]
    assert 0 <= depot[FU.build_progress] < 100 and obs.player[PL.food_cap] == 15
    obs = run_until(eng, obs, placed + BUILD_LOOPS[SUPPLY_DEPOT] + 8)
    assert obs.player[PL.food_cap] == 23
    assert obs.raw_units[obs.raw_units[:, FU.unit_type] == 19][0, FU.build_progress] == 100
    obs = eng.step([RawCommand(RF.Train_SCV_quick, False, cc)])
    assert obs.action_results == []


@pytest.mark.parametrize("command, reason", [
    (lambda o: RawCommand(RF.Build_Barracks_pt, False, (tags(o, 45)[0],), (36.0, 64 - 24.0)),
     "a Barracks needs a finished Supply Depot"),
    (lambda o: RawCommand(RF.Build_SupplyDepot_pt, False, (tags(o, 45)[0],), (22.0, 64 - 28.0)),
     "cannot place the structure there (outside the playable area or overlapping)"),
    (lambda o: RawCommand(RF.Build_SupplyDepot_pt, False, (tags(o, 45)[0],), (45.5, 64 - 30.0)),
     "cannot place the structure there (outside the playable area or overlapping)"),
    (lambda o: RawCommand(RF.Train_Marine_quick, False, (tags(o, 45)[0],)),
     "this unit cannot do that"),
    (lambda o: RawCommand(RF.Build_Refinery_pt, False, (tags(o, 45)[0],), tags(o, 341)[0]),
     "this map does not allow that function"),
    (lambda o: RawCommand(RF.Harvest_Return_quick, False, (tags(o, 45)[0],)),
     "the worker carries nothing"),
    (lambda o: RawCommand(RF.Move_pt, False, (tags(o, 45)[0],), (34.0, 64 - 34.0)),
     "this map does not allow that function"),  # BuildMarines removes the unit commands
    (lambda o: RawCommand(RF.Stop_quick, False, (tags(o, 45)[0],)),
     "this map does not allow that function"),
])
def test_an_illegal_command_is_rejected_with_a_reason_and_the_game_goes_on(command, reason):
    eng, obs = economy(minerals=200)
    cmd = command(obs)
    obs = eng.step([cmd])
    assert [(i, r[:len(reason)]) for i, r in obs.action_results] == [(0, reason)]
    assert int(obs.player[PL.minerals]) == 200 and obs.game_loop == 8
    obs = gather_all(eng, obs)
    obs = run_until(eng, obs, 400)
    assert int(obs.player[PL.minerals]) > 200


def test_not_enough_minerals_is_refused():
    eng, obs = economy(minerals=99)
    obs = eng.step([RawCommand(RF.Build_SupplyDepot_pt, False, (tags(obs, 45)[0],), (34.0, 64 - 34.0))])
    assert [r for _, r in obs.action_results] == ["not enough minerals"]


def test_gas_three_workers_saturate_a_refinery():
    def gas_rate(workers):
        eng, obs = economy(map_name="CollectMineralsAndGas", scvs=workers, minerals=0,
                           extra=(("Refinery", 25.5, 35.5),))
        ref = [t for t in tags(obs, 20)]
        obs = eng.step([RawCommand(RF.Harvest_Gather_unit, False, tuple(tags(obs, 45)), ref[0])])
        assert obs.action_results == []
        obs = run_until(eng, obs, GAME_MINUTE)
        start, loop = int(obs.score_cumulative[8]), obs.game_loop
        obs = run_until(eng, obs, 3 * GAME_MINUTE)
        return (int(obs.score_cumulative[8]) - start) * GAME_MINUTE / (obs.game_loop - loop)

    one, three, four = gas_rate(1), gas_rate(3), gas_rate(4)
    assert three == pytest.approx(3 * one, rel=0.15)
    assert four < 1.1 * three


@pytest.mark.parametrize("map_name, fields, geysers, loops, mining", [
    ("CollectMineralsAndGas", 16, 4, 420 * 16, False), ("BuildMarines", 8, 0, 900 * 16, True)])
def test_the_maps_start_as_pysc2_describes(map_name, fields, geysers, loops, mining):
    """pysc2 docs/mini_games.md: 12 SCVs, a Command Center, the fields and geysers, 50 minerals, 12/15
    supply; pysc2 maps/mini_games.py: 420 and 900 game seconds. BuildMarines' SCVs start mining and
    bring home what 12 workers do in its 15 game minutes; CollectMineralsAndGas' stand idle."""
    eng = Engine(map_name, seed=0)
    obs = eng.reset()
    kinds = obs.raw_units[:, FU.unit_type].tolist()
    assert (kinds.count(45), kinds.count(18), kinds.count(341), kinds.count(342)) == (12, 1, fields, geysers)
    assert (obs.player[PL.minerals], obs.player[PL.food_used], obs.player[PL.food_cap]) == (50, 12, 15)
    assert obs.player[PL.idle_worker_count] == (0 if mining else 12)
    while not obs.done:
        obs = eng.step([])
    assert obs.game_loop == loops and obs.score_cumulative[0] == 0  # no Marine; idle workers collect nothing
    income = 12 * PER_WORKER * loops / GAME_MINUTE if mining else 0
    assert int(obs.player[PL.minerals]) - 50 == pytest.approx(income, rel=0.1)


def test_a_worker_finding_its_field_taken_moves_to_a_free_one_nearby():
    eng, obs = economy(scvs=2, step_mul=1)
    field = fields_by_distance(obs)[0]
    obs = eng.step([RawCommand(RF.Harvest_Gather_unit, False, tuple(tags(obs, 45)), field)])
    obs = run_until(eng, obs, 400)
    mined = 1800 - obs.raw_units[obs.raw_units[:, FU.unit_type] == 341, FU.mineral_contents]
    assert (mined > 0).sum() == 2  # the second worker hopped to a neighbour instead of queueing
    ccs = obs.raw_units[obs.raw_units[:, FU.unit_type] == 18][0]
    assert ccs[FU.assigned_harvesters] == 2 and ccs[FU.ideal_harvesters] == 16
