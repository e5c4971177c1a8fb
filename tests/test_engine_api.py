"""The engine's public API: determinism, batching, command validation, and the raw observation schema."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from envs.engine import ENEMY_BOTS, MAP_NAMES, BatchedEngine, Engine, map_spec
from envs.engine.scripted import SCRIPTED, focus_fire
from envs.engine.state import TAG
from envs.errors import UserError
from envs.raw_schema import NUM_UNIT_COLUMNS, OrderId, RawCommand, RawFunction
from envs.raw_schema import FeatureUnit as FU

F = RawFunction


def test_names_and_specs():
    assert MAP_NAMES == ("MoveToBeacon", "CollectMineralShards", "FindAndDefeatZerglings", "DefeatRoaches",
                         "DefeatZerglingsAndBanelings", "3m", "8m", "2s3z", "3s5z", "27m_vs_30m",
                         "bio_vs_zerg_128", "bio_vs_zerg_250")
    assert ENEMY_BOTS == ("idle", "attack_nearest", "focus_fire")
    s = map_spec("FindAndDefeatZerglings")
    assert (s.playable, s.map_size, s.time_limit_s) == ((10, 12, 54, 44), (64, 64), 180)
    assert s.fog and not s.has_win
    assert map_spec("2s3z").has_win and not map_spec("DefeatRoaches").fog
    with pytest.raises(UserError, match="MoveToBeacon"):
        map_spec("NoSuchMap")
    with pytest.raises(UserError, match="focus_fire"):
        Engine("3m", enemy_bot="passive")


def play(eng_step, first, policy, steps):
    obs, out = first, [first.copy()]
    for _ in range(steps):
        obs = eng_step(policy(obs))
        out.append(obs.copy())
        if obs.done:
            break
    return out


def same(a, b):
    return (np.array_equal(a.raw_units, b.raw_units) and np.array_equal(a.positions, b.positions)
            and np.array_equal(a.player, b.player) and a.game_loop == b.game_loop and a.reward == b.reward
            and np.array_equal(a.score_cumulative, b.score_cumulative) and a.done == b.done)


def test_same_seed_same_commands_bit_identical_and_seeds_differ():
    for name in MAP_NAMES:
        runs = []
        for _ in range(2):
            eng = Engine(name, seed=7)
            runs.append(play(eng.step, eng.reset(), SCRIPTED[name], 40))
        assert len(runs[0]) == len(runs[1])
        assert all(same(a, b) for a, b in zip(*runs, strict=True)), name
        other = Engine(name, seed=8).reset()
        assert not np.array_equal(runs[0][0].positions, other.positions), name
    # reset(seed=s) reproduces a fresh engine seeded s; reset() without a seed starts a different episode
    eng = Engine("DefeatRoaches", seed=1)
    first = eng.reset().copy()
    assert not np.array_equal(eng.reset().positions, first.positions)
    assert same(eng.reset(seed=1), first)


def test_batched_game_equals_single_game():
    seeds = [3, 11, 5]
    batch = BatchedEngine("DefeatRoaches", num_games=3, seeds=seeds)
    singles = [Engine("DefeatRoaches", seed=s) for s in seeds]
    b_obs = batch.reset()
    s_obs = [e.reset() for e in singles]
    for step in range(120):
        if step == 50:  # autoreset of one game in the middle: the others carry on untouched
            b1 = batch.reset_game(1).copy()
            s_obs[1] = singles[1].reset()
            assert same(b1, s_obs[1])
            b_obs = [o.copy() for o in b_obs]
            b_obs[1] = b1
        cmds = [focus_fire(o) for o in s_obs]
        b_obs = batch.step(cmds)
        s_obs = [e.step(c) for e, c in zip(singles, cmds, strict=True)]
        assert all(same(b, s) for b, s in zip(b_obs, s_obs, strict=True)), step


def test_active_mask_freezes_games():
    batch = BatchedEngine("3m", num_games=2, seeds=[0, 1])
    before = [o.copy() for o in batch.reset()]
    after = batch.step([[], []], active=np.array([True, False]))
    assert after[0].game_loop == 8 and after[1].game_loop == 0
    assert same(after[1], before[1])


def test_bad_commands_are_rejected_with_reasons_and_the_game_goes_on():
    eng = Engine("FindAndDefeatZerglings", seed=0)
    obs = eng.reset()
    ru = obs.raw_units
    me = int(ru[ru[:, FU.alliance] == 1][0, FU.tag])
    shown = set(ru[:, FU.tag].tolist())
    tags = eng._batch.state.unit_i[0, :, TAG]
    hidden = [int(t) for t in tags if t and t not in shown][0]  # a Zergling under fog
    cmds = [
        RawCommand(F.Move_pt, False, (me,), (30.0, 34.0)),  # fine
        RawCommand(F.Move_pt, False, (123,), (30.0, 34.0)),  # unknown tag
        RawCommand(F.Attack_unit, False, (hidden,), me),  # not our unit
        RawCommand(F.Attack_unit, False, (me,), 999),  # unknown target
        RawCommand(F.Attack_unit, False, (me,), hidden),  # hidden by fog
        RawCommand(F.Move_pt, False, (me,), (70.0, 10.0)),  # off the map
        RawCommand(F.Move_pt, False, (me,), (5.0, 30.0)),  # outside the playable area (x 10-54)
        RawCommand(F.Move_pt, False, (me,), 5),  # wrong argument type
        RawCommand(F.Attack_unit, False, (me,), (1.0, 2.0)),  # wrong argument type
        RawCommand(9999, False, (me,), None),  # unknown function
        RawCommand(F.Stop_quick, False, tuple(range(1, 32)), None),  # > 30 tags
        RawCommand(F.Attack_unit, False, (me,), me),  # attacking a friend
        RawCommand(F.Move_pt, False, (), (30.0, 34.0)),  # no tags
    ]
    obs = eng.step(cmds)
    reasons = dict(obs.action_results)
    assert sorted(reasons) == list(range(1, len(cmds)))
    expect = {1: "unknown or dead unit tag 123", 2: "not the agent", 3: "unknown or dead target tag 999",
              4: "not visible", 5: "off the map", 6: "outside the playable", 7: "point", 8: "unit tag",
              9: "unknown", 10: "max_selected_units", 11: "not an enemy", 12: "no unit tags"}
    for k, text in expect.items():
        assert text in reasons[k], (k, reasons[k])
    assert obs.game_loop == 8 and not obs.done
    row = obs.raw_units[obs.raw_units[:, FU.tag] == me][0]
    assert row[FU.order_length] == 1 and row[FU.order_id_0] == OrderId.Move_Move  # command 0 was obeyed
    assert eng.step([]).game_loop == 16


def test_raw_units_schema():
    eng = Engine("DefeatRoaches", seed=4)
    obs = eng.reset()
    ru = obs.raw_units
    assert ru.dtype == np.int64 and ru.shape == (13, NUM_UNIT_COLUMNS)
    assert np.array_equal(ru[:, FU.x], np.floor(obs.positions[:, 0]))
    assert np.array_equal(ru[:, FU.y], np.floor(64 - obs.positions[:, 1]))  # y flipped
    mine, enemy = ru[ru[:, FU.alliance] == 1], ru[ru[:, FU.alliance] == 4]
    assert len(mine) == 9 and len(enemy) == 4
    assert set(mine[:, FU.unit_type]) == {48} and set(enemy[:, FU.unit_type]) == {110}
    assert set(mine[:, FU.owner]) == {1} and set(enemy[:, FU.owner]) == {2}
    assert np.all(ru[:, FU.health_ratio] == 255)
    assert np.all(ru[:, FU.radius] == 0)  # radii 0.375 and 0.5, truncated as pysc2 does
    tags = ru[:, FU.tag]
    assert len(set(tags.tolist())) == 13 and tags.min() >= 2**32
    assert np.allclose(obs.radii, [0.375] * 9 + [0.5] * 4)
    # queued orders show as pysc2 shows the game's: the specific abilities' raw function ids
    me = int(mine[0, FU.tag])
    obs = eng.step([RawCommand(F.Move_pt, False, (me,), (30.0, 36.0)),
                    RawCommand(F.Attack_pt, True, (me,), (31.0, 36.0)),
                    RawCommand(F.HoldPosition_quick, True, (me,), None)])
    r = obs.raw_units[obs.raw_units[:, FU.tag] == me][0]
    assert (r[FU.order_length], r[FU.order_id_0], r[FU.order_id_1], r[FU.order_id_2]) == (3, 547, 4, 543)
    assert obs.player[0] == 1 and obs.player[3] == 9  # player_id, food_used


def test_feature_unit_columns_match_pysc2():
    # pysc2 needs its Python 3.11 shims before any protobuf import: run it in a fresh interpreter.
    code = textwrap.dedent("""
        from envs import pysc2_compat
        pysc2_compat.install()
        from pysc2.lib import actions, features
        from envs.raw_schema import FeatureUnit
        from envs.engine.obs import ORDER_FUNC_ID
        from envs.engine.state import ATTACK_POINT, HOLD_POSITION, MOVE_POINT
        assert [f.name for f in features.FeatureUnit] == [f.name for f in FeatureUnit]
        assert [int(f) for f in features.FeatureUnit] == [int(f) for f in FeatureUnit]
        ids = actions.RAW_ABILITY_ID_TO_FUNC_ID  # Attack_Attack 23, Move_Move 16, HoldPosition_Hold 18
        assert ORDER_FUNC_ID[ATTACK_POINT] == ids[23] and ORDER_FUNC_ID[MOVE_POINT] == ids[16]
        assert ORDER_FUNC_ID[HOLD_POSITION] == ids[18]
        print("ok")
    """)
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_game_steps_per_episode_caps_the_episode_in_loops():
    eng = Engine("MoveToBeacon", seed=0, step_mul=8, game_steps_per_episode=100)  # pysc2: game loops
    obs, steps = eng.reset(), 0
    while not obs.done:
        obs = eng.step([])
        steps += 1
    assert (steps, obs.game_loop) == (13, 100)  # checked every loop: the 13th step stops at loop 100
    assert eng.step([]).game_loop == 100  # a finished game stays put until reset


def test_step_grouped_matches_step():
    a = BatchedEngine("DefeatRoaches", num_games=2, seeds=[1, 2])
    b = BatchedEngine("DefeatRoaches", num_games=2, seeds=[1, 2])
    obs = a.reset()
    b.reset()
    for _ in range(30):
        cmds = [focus_fire(o) for o in obs]
        flat = [(g, c) for g, cs in enumerate(cmds) for c in cs]
        starts = np.cumsum([0] + [len(c.unit_tags) for _, c in flat])[:-1]
        results = b.step_grouped([g for g, _ in flat], [int(c.function) for _, c in flat], [0] * len(flat),
                                 starts, [len(c.unit_tags) for _, c in flat],
                                 [t for _, c in flat for t in c.unit_tags], [c.target for _, c in flat],
                                 [0.0] * len(flat), [0.0] * len(flat))
        obs = a.step(cmds)
        assert not results.any() and all(o.action_results == [] for o in obs)
        arr = b.arrays()
        for g, o in enumerate(obs):
            n = arr.counts[g]
            assert np.array_equal(arr.units[g, :n], o.raw_units) and arr.reward[g] == o.reward


@pytest.mark.parametrize("function, count, bad", [(9999, 1, "function id 9999"), (-1, 1, "function id -1"),
                                                   (int(RawFunction.Stop_quick), 0, "unit tags \\(0\\)"),
                                                   (int(RawFunction.Stop_quick), 31, "unit tags \\(31\\)")])
def test_step_grouped_refuses_unsupported_functions_and_tag_counts(function, count, bad):
    engine = BatchedEngine("DefeatRoaches", num_games=1)
    engine.reset()
    stop = int(RawFunction.Stop_quick)
    with pytest.raises(ValueError, match=f"command 1: .*{bad}"):
        engine.step_grouped([0, 0], [stop, function], [0, 0], [0, 1], [1, count], [1] * 32, [0, 0],
                            [0.0, 0.0], [0.0, 0.0])
