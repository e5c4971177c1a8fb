"""The economy minigames through EngineSC2Env: pysc2's run_loop plays the scripted economy players as
pysc2 agents, and each map offers the economy functions it allows."""

from __future__ import annotations

from tests.test_pysc2_engine_env import make_env


def short_env(map_name, loops):
    """An EngineSC2Env on `map_name` whose episodes end after `loops` game loops."""
    from pysc2.lib import features

    import envs

    aif = features.AgentInterfaceFormat(use_raw_units=True, use_raw_actions=True, raw_resolution=64)
    return envs.EngineSC2Env(map_name=map_name, agent_interface_format=aif, random_seed=3,
                             game_steps_per_episode=loops)


def test_each_economy_map_offers_the_functions_it_allows():
    from pysc2.lib import actions

    raw = actions.RAW_FUNCTIONS
    with make_env("CollectMineralsAndGas") as env:
        gas = set(env.reset()[0].observation["available_actions"].tolist())
    with make_env("BuildMarines") as env:
        marines = set(env.reset()[0].observation["available_actions"].tolist())
    with make_env("DefeatRoaches") as env:
        combat = set(env.reset()[0].observation["available_actions"].tolist())
    economy = {raw.Harvest_Gather_unit.id, raw.Build_SupplyDepot_pt.id, raw.Train_SCV_quick.id}
    assert economy <= gas and economy <= marines and not economy & combat
    assert raw.Build_Refinery_pt.id in gas and raw.Build_Refinery_pt.id not in marines
    assert raw.Train_Marine_quick.id in marines
    # BuildMarines removes the unit commands (pysc2 docs/mini_games.md); the other maps keep them
    unit_commands = {raw.Move_pt.id, raw.Attack_unit.id, raw.Stop_quick.id, raw.Smart_pt.id}
    assert unit_commands <= gas and unit_commands <= combat and not unit_commands & marines


def test_pysc2_run_loop_plays_the_scripted_economy_players():
    from pysc2.env import run_loop

    from envs.pysc2_scripted import BuildMarinesRaw, CollectMineralsAndGasRaw

    class Recording(CollectMineralsAndGasRaw):
        def step(self, obs):
            self.last = obs.observation
            return super().step(obs)

    agent = Recording()
    with short_env("CollectMineralsAndGas", 16 * 120) as env:  # two game minutes
        run_loop.run_loop([agent], env, max_episodes=1)
    assert agent.reward >= 12 * 41 * 2 * 0.8  # 12+ workers at ~41 minerals a minute, after the first trips
    assert env.last_action_results == []
    assert agent.last["score_cumulative"]["spent_minerals"] >= 50 * 3  # SCVs (and more) while it mined
    agent = BuildMarinesRaw()
    with short_env("BuildMarines", 16 * 240) as env:  # four game minutes: depots, Barracks, Marines
        run_loop.run_loop([agent], env, max_episodes=1)
    assert agent.reward >= 1
