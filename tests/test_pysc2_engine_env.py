"""EngineSC2Env: pysc2's own agents and run_loop play the engine through the SC2Env interface."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_pysc2_compat import isolated

SEEDS = (11, 12, 13)


def make_env(map_name="DefeatRoaches", seed=1, **aif_kwargs):
    from pysc2.env import sc2_env
    from pysc2.lib import features

    import envs

    aif_kwargs.setdefault("raw_resolution", 64)
    aif = features.AgentInterfaceFormat(use_raw_units=True, use_raw_actions=True, **aif_kwargs)
    return envs.EngineSC2Env(map_name=map_name, players=[sc2_env.Agent(sc2_env.Race.terran)],
                             agent_interface_format=aif, step_mul=8, random_seed=seed)


def play_and_replay(agent_cls, map_name, seed):
    """One episode of an unmodified pysc2 agent through pysc2's own run_loop, and the engine commands it
    produced replayed on a bare engine: -> (the agent's total reward, the reward of each step, the
    replayed engine's score after each step)."""
    from pysc2.env import run_loop

    from envs.engine import Engine

    agent, rewards, sent = agent_cls(), [], []
    with make_env(map_name, seed) as env:
        engine_step, env_step = env._engine.step, env.step

        def record_commands(commands):
            sent.append(list(commands))
            return engine_step(commands)

        def record_reward(actions):
            timesteps = env_step(actions)
            rewards.append(timesteps[0].reward)
            return timesteps

        env._engine.step, env.step = record_commands, record_reward
        run_loop.run_loop([agent], env, max_episodes=1)
        assert env._last_obs.done  # the map's end, not a truncation
    replay = Engine(map_name, seed=seed, step_mul=8)
    replay.reset()
    scores = [int(replay.step(commands).score_cumulative[0]) for commands in sent]
    return agent.reward, rewards, scores


def mean_score(agent_cls, map_name):
    """Mean episode score of a pysc2 agent over SEEDS; checks on the way that every reward the agent saw
    is the engine's own score change for that step, unscaled, so its total is the engine's score."""
    totals = []
    for seed in SEEDS:
        total, rewards, scores = play_and_replay(agent_cls, map_name, seed)
        assert len(rewards) == len(scores) > 0
        assert rewards == np.diff([0, *scores]).tolist()
        assert total == sum(rewards) == scores[-1]
        totals.append(total)
    return float(np.mean(totals))


@isolated
def test_pysc2_defeat_roaches_raw_agent_scores_unmodified():
    from pysc2.agents import base_agent, scripted_agent

    scripted = mean_score(scripted_agent.DefeatRoachesRaw, "DefeatRoaches")
    idle = mean_score(base_agent.BaseAgent, "DefeatRoaches")  # BaseAgent only issues no_op
    assert scripted >= idle + 20, (scripted, idle)  # at least two more Roach kills (+10 each) per episode


@isolated
def test_pysc2_collect_mineral_shards_raw_agent_scores_unmodified():
    from pysc2.agents import base_agent, scripted_agent

    scripted = mean_score(scripted_agent.CollectMineralShardsRaw, "CollectMineralShards")
    idle = mean_score(base_agent.BaseAgent, "CollectMineralShards")
    assert scripted >= idle + 30, (scripted, idle)


@isolated
def test_timesteps_specs_and_named_raw_units():
    from pysc2.env import environment
    from pysc2.lib import actions, named_array

    env = make_env("DefeatRoaches", seed=3)
    spec = env.observation_spec()[0]
    assert spec["raw_units"] == (0, 46) and "feature_screen" not in spec
    assert env.action_spec()[0].types.world.sizes == (64, 64)
    (first,) = env.reset()
    assert first.step_type == environment.StepType.FIRST and first.reward == 0 and first.discount == 0
    units = first.observation.raw_units
    assert isinstance(units, named_array.NamedNumpyArray) and units.dtype == np.int64
    marines = [u for u in units if u.alliance == 1]
    roaches = [u for u in units if u.alliance == 4]
    assert len(marines) == 9 and len(roaches) == 4  # DefeatRoaches' first wave (pysc2 docs/mini_games.md)
    assert all(u.unit_type == 48 for u in marines) and all(u.unit_type == 110 for u in roaches)
    pos = env._last_obs.positions
    assert (units[:, "x"] == np.floor(pos[:, 0])).all() and (units[:, "y"] == np.floor(64 - pos[:, 1])).all()
    assert first.observation.player.player_id == 1 and first.observation.game_loop[0] == 0
    steps = 0
    ts = (first,)
    while not ts[0].last():
        ts = env.step([actions.RAW_FUNCTIONS.no_op()])
        steps += 1
        assert ts[0].step_type in (environment.StepType.MID, environment.StepType.LAST)
    # No-op: nobody fights, so the 120 s timer ends it: 1920 game loops, 240 agent steps of 8.
    assert steps == 240 and env.episode_steps == 1920 and ts[0].discount == 0
    (again,) = env.step([actions.RAW_FUNCTIONS.no_op()])  # stepping after LAST starts a new episode
    assert again.first() and again.observation.game_loop[0] == 0


@isolated
def test_function_calls_become_engine_commands():
    from pysc2.lib import actions

    from envs.raw_schema import RawCommand, RawFunction

    env = make_env("DefeatRoaches", seed=5)
    (ts,) = env.reset()
    units = ts.observation.raw_units
    marine_tags = [int(u.tag) for u in units if u.alliance == 1]
    roach = int(next(u.tag for u in units if u.alliance == 4))
    f = actions.RAW_FUNCTIONS
    commands = env._commands([f.no_op(), f.Attack_unit("queued", marine_tags[:2], roach),
                              f.Move_pt("now", marine_tags[0], (25, 33)), f.Stop_quick("now", marine_tags)])
    assert commands == [
        RawCommand(RawFunction.Attack_unit, True, tuple(marine_tags[:2]), roach),
        RawCommand(RawFunction.Move_pt, False, (marine_tags[0],), (25.5, 33.5)),  # pysc2: pixel centre
        RawCommand(RawFunction.Stop_quick, False, tuple(marine_tags), None),
    ]
    many = list(range(10**6, 10**6 + 35))  # pysc2 takes up to 512 tags per call; the engine 30
    chunks = env._commands(f.HoldPosition_quick("now", many))
    assert [c.unit_tags for c in chunks] == [tuple(many[:30]), tuple(many[30:])]
    (ts,) = env.step([f.Attack_unit("now", marine_tags, roach)])
    assert len(ts.observation.action_result) == 0 and env.last_action_results == []
    with pytest.raises(ValueError):
        env.step([actions.FunctionCall(9999, [])])  # like SC2Env: pysc2's transform_action refuses it


@isolated
def test_other_raw_resolution_rediscretises_positions_and_points():
    from pysc2.lib import actions

    env = make_env("DefeatRoaches", seed=5, raw_resolution=128)
    (ts,) = env.reset()
    units, pos = ts.observation.raw_units, env._last_obs.positions
    assert (units[:, "x"] == np.floor(pos[:, 0] * 2)).all()
    assert (units[:, "y"] == np.floor((64 - pos[:, 1]) * 2)).all()
    tag = int(units[0].tag)
    (cmd,) = env._commands([actions.RAW_FUNCTIONS.Move_pt("now", [tag], (51, 67))])
    assert cmd.target == (25.75, 33.75)  # pixel centre (51.5, 67.5) / 2, on the engine's 64 grid


@isolated
def test_timeout_truncates_like_sc2env():
    from pysc2.env import sc2_env
    from pysc2.lib import actions, features

    import envs

    aif = features.AgentInterfaceFormat(use_raw_units=True, use_raw_actions=True)
    env = envs.EngineSC2Env(map_name="MoveToBeacon", players=[sc2_env.Agent(sc2_env.Race.terran)],
                            agent_interface_format=aif, game_steps_per_episode=80, random_seed=2)
    env.reset()
    lengths = 0
    while True:
        (ts,) = env.step([actions.RAW_FUNCTIONS.no_op()])
        lengths += 1
        if ts.last():
            break
    assert lengths == 10 and ts.discount == 1.0  # discount_zero_after_timeout=False keeps it


@pytest.mark.parametrize("kwargs, message", [
    (dict(feature_dimensions=(84, 64)), "feature_dimensions"),
    (dict(rgb_dimensions=(128, 64)), "rgb_dimensions"),
    (dict(send_observation_proto=True), "send_observation_proto"),
])
@isolated
def test_refuses_what_the_engine_cannot_provide(kwargs, message):
    from pysc2.env import sc2_env
    from pysc2.lib import features

    import envs

    aif = features.AgentInterfaceFormat(use_raw_units=True, use_raw_actions=True, **{
        k: features.Dimensions(*v) if k.endswith("dimensions") else v for k, v in kwargs.items()})
    with pytest.raises(ValueError, match=message):
        envs.EngineSC2Env(map_name="DefeatRoaches", players=[sc2_env.Agent(sc2_env.Race.terran)],
                          agent_interface_format=aif)


@isolated
def test_refuses_unknown_maps_two_agents_and_realtime():
    from pysc2.env import sc2_env
    from pysc2.lib import features

    import envs

    aif = features.AgentInterfaceFormat(use_raw_units=True, use_raw_actions=True)
    agent = sc2_env.Agent(sc2_env.Race.terran)
    with pytest.raises(ValueError, match="no map 'Simple64'"):
        envs.EngineSC2Env(map_name="Simple64", players=[agent], agent_interface_format=aif)
    with pytest.raises(ValueError, match="exactly one Agent"):
        envs.EngineSC2Env(map_name="3m", players=[agent, agent], agent_interface_format=[aif, aif])
    with pytest.raises(ValueError, match="realtime"):
        envs.EngineSC2Env(map_name="3m", players=[agent], agent_interface_format=aif, realtime=True)


@isolated
def test_available_actions_are_exactly_what_the_engine_executes():
    from pysc2.lib import actions

    env = make_env("DefeatRoaches", seed=7)
    (ts,) = env.reset()
    units = ts.observation.raw_units
    marine = int(next(u.tag for u in units if u.alliance == 1))
    roach = int(next(u.tag for u in units if u.alliance == 4))
    arguments = {"queued": "now", "unit_tags": [marine], "target_unit_tag": roach, "world": (30, 30)}
    available = set(ts.observation.available_actions.tolist())
    assert {0, 2, 3, 13, 14, 17, 101} <= available and 102 not in available  # no harvesting here
    for fn in sorted(available | {102}):  # Harvest_Gather_unit: the engine must refuse it
        function = actions.RAW_FUNCTIONS[fn]
        (ts,) = env.step([function(*(arguments[arg.name] for arg in function.args))])
        refused = len(ts.observation.action_result) > 0
        assert refused == (fn not in available), (function.name, env.last_action_results)
