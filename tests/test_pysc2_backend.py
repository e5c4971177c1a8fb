"""Pysc2Backend against pysc2's own SC2TestEnv and dummy observations (no game binary needed)."""

from __future__ import annotations

import numpy as np
import pytest

from envs.errors import UserError
from envs.raw_schema import Alliance, FeatureUnit, RawCommand, RawFunction
from tests.test_pysc2_compat import isolated, run_python

MARINE, ROACH = 48, 110  # pysc2/lib/units.py
BEACON = 317  # a neutral marker; the real beacon's type id is unverified
# World positions on SC2TestEnv's 256x256 map (mock_sc2_env.DUMMY_MAP_SIZE); raw pixels are 4 units wide.
UNITS = [  # (type, alliance, owner, x, y, radius, health, health_max)
    (MARINE, Alliance.self, 1, 100.3, 120.7, 0.375, 45, 45),
    (MARINE, Alliance.self, 1, 101.9, 117.2, 0.375, 30, 45),
    (ROACH, Alliance.enemy, 2, 150.0, 121.0, 1.0, 100, 145),
    (ROACH, Alliance.enemy, 2, 152.5, 131.1, 1.0, 145, 145),
    (BEACON, Alliance.neutral, 16, 130.0, 60.0, 5.0, 0, 0),
]
TAGS = [1, 2, 3, 4, 5]  # dummy_observation.Builder numbers units 1..N: all but 5 are below len(raw_units)


def make_env(send_observation_proto=True, player_result=None, action_errors=()):
    """An SC2TestEnv whose every step returns the UNITS observation (with the given extras)."""
    from pysc2.env import environment, mock_sc2_env
    from pysc2.lib import features
    from pysc2.tests import dummy_observation
    from s2clientprotocol import common_pb2

    aif = features.AgentInterfaceFormat(use_raw_units=True, use_raw_actions=True, raw_resolution=64,
                                        send_observation_proto=send_observation_proto)
    env = mock_sc2_env.SC2TestEnv(map_name="DefeatRoaches", agent_interface_format=aif)
    units = [
        dummy_observation.FeatureUnit(t, a, owner=o, pos=common_pb2.Point(x=x, y=y, z=0), radius=r,
                                      health=h, health_max=hm, is_on_screen=True)
        for t, a, o, x, y, r, h, hm in UNITS
    ]
    proto = dummy_observation.Builder(env.observation_spec()[0]).feature_units(units).game_loop(8).build()
    if player_result is not None:
        proto.player_result.add(player_id=1, result=player_result)
    for tag, ability, result in action_errors:
        proto.action_errors.add(unit_tag=tag, ability_id=ability, result=result)
    obs = env._features[0].transform_obs(proto)
    env.next_timestep = [environment.TimeStep(environment.StepType.MID, 3.0, 1.0, obs)]
    return env


def all_command_kinds():
    """One command of every raw function the project issues, now and queued, on the Builder's tags."""
    commands = [RawCommand(RawFunction.no_op)]
    for queued in (False, True):
        for fn in (RawFunction.Move_pt, RawFunction.Attack_pt, RawFunction.Smart_pt):
            commands.append(RawCommand(fn, queued, (1, 2), (37.5, 33.9)))
        for fn, target in ((RawFunction.Attack_unit, 3), (RawFunction.Move_unit, 5),
                           (RawFunction.Smart_unit, 4), (RawFunction.Harvest_Gather_unit, 5)):
            commands.append(RawCommand(fn, queued, (2, 1), target))
        for fn in (RawFunction.Stop_quick, RawFunction.HoldPosition_quick, RawFunction.Harvest_Return_quick):
            commands.append(RawCommand(fn, queued, (1,)))
        for fn in (RawFunction.Build_SupplyDepot_pt, RawFunction.Build_Barracks_pt,
                   RawFunction.Build_CommandCenter_pt):
            commands.append(RawCommand(fn, queued, (1,), (37.5, 33.9)))
        commands.append(RawCommand(RawFunction.Build_Refinery_pt, queued, (1,), 5))  # on a unit (a geyser)
        for fn in (RawFunction.Train_SCV_quick, RawFunction.Train_Marine_quick):
            commands.append(RawCommand(fn, queued, (3,)))
    commands.append(RawCommand(RawFunction.Move_pt, False, (1,), (0, 0)))
    commands.append(RawCommand(RawFunction.Move_pt, False, (2,), (63.99, 63.99)))
    return commands


@isolated
def test_raw_obs_fields_from_dummy_observation():
    from envs.pysc2_backend import Pysc2Backend

    backend = Pysc2Backend("DefeatRoaches", env=make_env())
    assert backend.map_size == (256, 256) and backend.raw_resolution == (64, 64)
    obs = backend.reset()
    units = obs.raw_units
    assert units.dtype == np.int64 and units.shape == (5, len(FeatureUnit))
    assert units[:, FeatureUnit.unit_type].tolist() == [u[0] for u in UNITS]
    assert units[:, FeatureUnit.alliance].tolist() == [1, 1, 4, 4, 3]
    assert units[:, FeatureUnit.tag].tolist() == TAGS
    assert units[:, FeatureUnit.health].tolist() == [45, 30, 100, 145, 0]
    # pysc2 pixels: floor(x * 64 / 256) and floor((256 - y) * 64 / 256)
    assert units[0, FeatureUnit.x] == 25 and units[0, FeatureUnit.y] == 33
    # Exact world positions and radii come from the observation proto.
    np.testing.assert_allclose(obs.positions, [u[3:5] for u in UNITS], atol=1e-4)
    np.testing.assert_allclose(obs.radii, [u[5] for u in UNITS], atol=1e-6)
    assert obs.reward == 0.0 and not obs.done and obs.outcome == 0  # first step: reward 0
    assert obs.score_cumulative[0] == 300 and obs.game_loop == 8  # Builder's score; our game_loop
    assert obs.player.shape == (11,) and obs.player[0] == 1
    step = backend.step([RawCommand(RawFunction.Attack_unit, False, (1, 2), 3)])
    assert step.reward == 3.0 and step.action_results == []


@isolated
def test_positions_from_pixels_are_scaled_to_the_map():
    from envs.pysc2_backend import Pysc2Backend

    obs = Pysc2Backend("DefeatRoaches", env=make_env(send_observation_proto=False)).reset()
    truth = np.array([u[3:5] for u in UNITS])
    # A raw pixel is 256 / 64 = 4 world units wide: pixel centres are within 2 of the true position.
    assert np.abs(obs.positions - truth).max() <= 2.0
    assert obs.radii.tolist() == [0.0, 0.0, 0.0, 0.0, 4.0]  # pysc2 truncates radii to whole pixels


@isolated
def test_episode_end_outcome_and_game_errors():
    from s2clientprotocol import error_pb2, sc2api_pb2

    from envs.pysc2_backend import Pysc2Backend

    errors = [(2, 3674, error_pb2.ActionResult.Value("CantTargetThatUnit"))]
    backend = Pysc2Backend("DefeatRoaches",
                           env=make_env(player_result=sc2api_pb2.Victory, action_errors=errors))
    backend.reset()
    for step in range(1, 11):  # SC2TestEnv ends its episodes after 10 steps
        obs = backend.step([RawCommand(RawFunction.Move_pt, False, (1,), (3, 4)),
                            RawCommand(RawFunction.Attack_unit, False, (2, 1), 3),
                            RawCommand(RawFunction.Stop_quick, False, (0,))])  # tag 0: not observed
        assert obs.done == (step == 10)
    assert obs.outcome == 1
    # The game's error for unit 2 goes to command 1, the attack it was part of; command 2 is refused here.
    assert obs.action_results == [
        (1, "CantTargetThatUnit"),
        (2, f"tag 0 is not in the last observation and, being below its {len(UNITS)} rows, would be read "
            "by pysc2 as a row index"),
    ]


@isolated
def test_every_command_kind_passes_pysc2_transform_action():
    from envs.pysc2_backend import Pysc2Backend, validate_commands

    backend = Pysc2Backend("DefeatRoaches", env=make_env())
    backend.reset()
    commands = all_command_kinds()
    # every raw function the project issues is checked
    assert {c.function for c in commands} == set(RawFunction)
    validate_commands(backend, commands)  # raises on the first refused or misread command
    validate_commands(backend.env, commands)  # a bare pysc2 env works too


@isolated
def test_small_builder_tags_are_sent_as_rows_so_pysc2_reads_the_right_units():
    from pysc2.lib import actions

    from envs.pysc2_backend import Pysc2Backend, to_function_call

    backend = Pysc2Backend("DefeatRoaches", env=make_env())
    backend.reset()
    features = backend.env._features[0]
    # The pitfall: handing pysc2 the tags directly makes it read them as row indices.
    naive = features.transform_action(None, actions.RAW_FUNCTIONS.Attack_unit("now", [1, 2], 3))
    assert list(naive.action_raw.unit_command.unit_tags) == [2, 3]
    assert naive.action_raw.unit_command.target_unit_tag == 4
    command = RawCommand(RawFunction.Attack_unit, False, (1, 2), 3)
    call = to_function_call(command, features._raw_tags, (64, 64), 30)
    sent = features.transform_action(None, call).action_raw.unit_command
    assert list(sent.unit_tags) == [1, 2] and sent.target_unit_tag == 3 and sent.ability_id == 3674


@pytest.mark.parametrize("command, why", [
    (RawCommand(9999, False, (1,)), "unknown raw function"),
    (RawCommand(RawFunction.Move_pt, False, (1,), (64.0, 10.0)), "off the 64x64"),
    (RawCommand(RawFunction.Move_pt, False, (1,), (-0.5, 10.0)), "off the 64x64"),
    (RawCommand(RawFunction.Move_pt, False, (1,), 3), "needs an (x, y) point"),
    (RawCommand(RawFunction.Attack_unit, False, (1,), (3.0, 4.0)), "needs a target unit tag"),
    (RawCommand(RawFunction.Attack_unit, False, (1,), None), "needs a target unit tag"),
    (RawCommand(RawFunction.Stop_quick, False, (1,), 3), "takes no target"),
    (RawCommand(RawFunction.Stop_quick, False, ()), "needs 1..30 unit tags"),
    (RawCommand(RawFunction.Stop_quick, False, tuple(range(100, 131))), "needs 1..30 unit tags"),
    (RawCommand(RawFunction.Attack_unit, False, (1,), 0), "tag 0 is not in the last observation"),
    (RawCommand(RawFunction.Stop_quick, False, (-7,)), "not a non-negative integer"),
])
@isolated
def test_bad_commands_are_refused_with_a_reason(command, why):
    from envs.pysc2_backend import CommandRejected, Pysc2Backend, validate_commands

    backend = Pysc2Backend("DefeatRoaches", env=make_env())
    backend.reset()
    with pytest.raises(CommandRejected, match=why.replace("(", r"\(").replace(")", r"\)")):
        validate_commands(backend, [RawCommand(RawFunction.no_op), command])
    obs = backend.step([command])  # the backend reports it and carries on
    assert len(obs.action_results) == 1 and obs.action_results[0][0] == 0 and why in obs.action_results[0][1]


@isolated
def test_pysc2_own_check_misses_off_map_points():
    # Why validate_commands bounds points itself: pysc2 4.0.0's range check has an operator-precedence
    # bug (`not np.all(0 <= a) and np.all(a < s)`), so a point off the 64x64 raw grid goes through.
    from pysc2.lib import actions

    env = make_env()
    action = env._features[0].transform_action(None, actions.RAW_FUNCTIONS.Move_pt("now", [5], (70, 80)))
    assert action.action_raw.unit_command.target_world_space_pos.x > 256  # off the 256-wide map


@pytest.mark.parametrize("layout", ["nothing", "binary_without_maps"])
def test_missing_game_is_one_user_error_naming_sc2path(layout, tmp_path, monkeypatch):
    from envs.pysc2_backend import Pysc2Backend

    if layout == "binary_without_maps":
        version = tmp_path / "Versions" / "Base75689"
        version.mkdir(parents=True)
        for name in ("SC2_x64", "SC2_x64.exe"):
            (version / name).write_text("")
        (version / "SC2.app" / "Contents" / "MacOS").mkdir(parents=True)
        (version / "SC2.app" / "Contents" / "MacOS" / "SC2").write_text("")
    monkeypatch.setenv("SC2PATH", str(tmp_path))
    with pytest.raises(UserError, match="SC2PATH") as info:
        Pysc2Backend("MoveToBeacon")
    assert "\n" not in str(info.value)
    if layout == "binary_without_maps":
        assert "MoveToBeacon.SC2Map" in str(info.value)


def test_unknown_map_is_a_user_error_listing_the_minigames(tmp_path, monkeypatch):
    from envs.pysc2_backend import find_game

    version = tmp_path / "Versions" / "Base75689"
    version.mkdir(parents=True)
    (version / "SC2_x64").write_text("")
    monkeypatch.setenv("SC2PATH", str(tmp_path))
    with pytest.raises(UserError, match="DefeatRoaches"):
        find_game("NoSuchMap")


def test_missing_game_error_wins_even_after_protobuf_c_backend_loaded(tmp_path):
    # A user's process may have imported ray (protobuf's C backend) first; "no game" must still be the
    # message, since it is the one they can act on.
    proc = run_python(f"""
        import os
        os.environ.pop("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", None)
        os.environ["SC2PATH"] = {str(tmp_path)!r}
        from google.protobuf.internal import api_implementation
        assert api_implementation.Type() != "python"
        from envs.errors import UserError
        from envs.pysc2_backend import Pysc2Backend
        try:
            Pysc2Backend("DefeatRoaches")
        except UserError as err:
            print(err)
        """)
    assert proc.returncode == 0, proc.stderr
    assert "SC2PATH" in proc.stdout and "protobuf" not in proc.stdout


def test_cli_evaluate_on_pysc2_backend_without_game_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    from agent.cli import main

    monkeypatch.setenv("SC2PATH", str(tmp_path))
    code = main(["evaluate", "--agent", "scripted", "--map", "MoveToBeacon", "--episodes", "1",
                 "--backend", "pysc2"])
    err = capsys.readouterr().err
    assert code == 2
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("perceiver-sc2 evaluate: error: "), err
    assert "SC2PATH" in errors[0] and "Traceback" not in err


@isolated
def test_every_command_translate_produces_passes_pysc2_validation():
    from envs.entity_env import entity_spec
    from envs.featurize import featurize
    from envs.pysc2_backend import Pysc2Backend, validate_commands
    from envs.translate import Translator

    backend = Pysc2Backend("DefeatRoaches", env=make_env())
    raw = backend.reset()
    spec = entity_spec("DefeatRoaches")
    obs, slots = featurize(raw, spec)
    translate = Translator(spec)
    mask = obs["action_mask"]
    own = np.flatnonzero(mask[:, 1:].any(axis=1))  # units with more than the no-op
    assert len(own) == 2  # the two Marines
    checked = 0
    for unit in own:
        for action in np.flatnonzero(mask[unit]):
            actions = np.zeros(spec.max_units, np.int64)
            actions[unit] = action
            commands, illegal = translate(actions, mask, slots)
            assert illegal == 0
            validate_commands(backend, commands)
            checked += len(commands)
    rng = np.random.default_rng(0)
    for _ in range(50):  # joint actions: grouped commands with several tags
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in mask])
        commands, _ = translate(actions, mask, slots)
        validate_commands(backend, commands)
    assert checked >= 2 * (1 + 2 * spec.grid_size**2)  # stop + point verbs at least, for both Marines


@isolated
def test_a_unit_sent_to_a_cell_ends_where_pysc2_would_send_it():
    # Every cell of the point-target grid, through translate, on both backends: the world point pysc2 hands
    # the game (in the action proto it builds from the raw pixel) and where the engine's Marine stops agree
    # within half a unit, and both lie in the chosen cell (world y up, raw y down).
    from pysc2.env import environment, mock_sc2_env
    from pysc2.lib import features
    from pysc2.tests import dummy_observation
    from s2clientprotocol import common_pb2

    from envs.action_space import Verb
    from envs.engine.scenario import scenario
    from envs.entity_env import entity_spec
    from envs.featurize import featurize
    from envs.pysc2_backend import Pysc2Backend, to_function_call
    from envs.translate import Translator

    spec = entity_spec("MoveToBeacon")
    default_size = mock_sc2_env.DUMMY_MAP_SIZE
    mock_sc2_env.DUMMY_MAP_SIZE = spec.map_size[0]  # the minigames' 64x64 map, as the real game has it
    try:
        aif = features.AgentInterfaceFormat(use_raw_units=True, use_raw_actions=True, raw_resolution=64,
                                            send_observation_proto=True)
        env = mock_sc2_env.SC2TestEnv(map_name="MoveToBeacon", agent_interface_format=aif)
    finally:
        mock_sc2_env.DUMMY_MAP_SIZE = default_size
    start = (30.2, 25.7)
    marine = dummy_observation.FeatureUnit(MARINE, Alliance.self, owner=1, pos=common_pb2.Point(x=start[0],
                                           y=start[1]), radius=0.375, health=45, health_max=45,
                                           is_on_screen=True)
    proto = dummy_observation.Builder(env.observation_spec()[0]).feature_units([marine]).build()
    env.next_timestep = [environment.TimeStep(environment.StepType.MID, 0.0, 1.0,
                                              env._features[0].transform_obs(proto))]
    backend = Pysc2Backend("MoveToBeacon", env=env)
    pysc2_raw = backend.reset()
    assert backend.map_size == (64, 64)
    eng, engine_raw = scenario([("Marine", 1, *start)], base_map="MoveToBeacon", step_mul=8)
    translate = Translator(spec)
    cells = spec.cell_centres()
    half_cell = (np.array(spec.playable[2:]) - spec.playable[:2]) / spec.grid_size / 2
    g = spec.grid_size
    for c in [r * g + (k if r % 2 == 0 else g - 1 - k) for r in range(g) for k in range(g)]:  # serpentine
        per_backend = []
        for raw in (pysc2_raw, engine_raw):
            obs, slots = featurize(raw, spec)
            actions = np.zeros(spec.max_units, np.int64)
            actions[0] = spec.layout.encode(Verb.MOVE_POINT, c)
            (command,), _ = translate(actions, obs["action_mask"], slots)
            per_backend.append(command)
        on_pysc2, on_engine = per_backend
        call = to_function_call(on_pysc2, pysc2_raw.raw_units[:, FeatureUnit.tag], (64, 64), 30)
        pos = env._features[0].transform_action(None, call).action_raw.unit_command.target_world_space_pos
        sent = np.array([pos.x, pos.y])
        assert backend.step([on_pysc2]).action_results == []
        engine_raw = eng.step([on_engine])
        while engine_raw.raw_units[0, FeatureUnit.order_length]:
            engine_raw = eng.step([])
        reached = engine_raw.positions[0]
        assert np.linalg.norm(reached - sent) <= 0.5, (c, reached, sent)
        assert np.all(np.abs(sent - cells[c]) <= half_cell)
        assert np.all(np.abs(reached - cells[c]) <= half_cell)
