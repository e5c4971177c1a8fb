"""The gymnasium entity env over the engine: API conformance, masks, the vector env's equivalence."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from agent.evaluation.scripted import FocusFire, RandomAgent
from envs.engine import MAP_NAMES, map_spec
from envs.entity_env import ENTITY_CAPS, EntityEnv, default_caps, entity_spec

MAPS = list(MAP_NAMES)


@pytest.mark.parametrize("map_name", MAPS)
def test_check_env_passes(map_name):
    env = gym.make(f"perceiver_sc2/{map_name}-v0")
    check_env(env.unwrapped, skip_render_check=True)  # raises on any API violation
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and {"score", "dropped"} <= set(info)
    env.close()


@pytest.mark.parametrize("map_name", MAPS)
def test_every_allowed_action_is_accepted(map_name):
    env = EntityEnv(map_name)
    obs, _ = env.reset(seed=3)
    agent = RandomAgent(env.entity_spec, seed=3)
    rejected = steps = 0
    for _ in range(150):
        obs, _, terminated, _, info = env.step(agent.act(obs))
        rejected += info["rejected_commands"] + info["illegal_actions"]
        steps += 1
        if terminated:
            obs, _ = env.reset()
    assert rejected == 0, f"{rejected} legal actions were refused in {steps} steps on {map_name}"


def test_masked_actions_never_reach_the_backend():
    env = EntityEnv("DefeatRoaches")
    obs, _ = env.reset(seed=1)
    bridge = env._game.bridge
    sent = []  # the commands each step handed to the engine kernel
    rng = np.random.default_rng(0)
    forbidden = 0
    for _ in range(40):
        mask = obs["action_mask"]
        # Pick, for every unit, an action the mask forbids (when it has one).
        actions = np.array([rng.choice(np.flatnonzero(row == 0)) if (row == 0).any() else 0 for row in mask])
        forbidden += int(sum((row == 0).any() for row in mask))
        obs, _, terminated, _, info = env.step(actions)
        sent.append(bridge.last_commands.function.tolist())
        assert info["illegal_actions"] == sum((row == 0).any() for row in mask)
        assert terminated is False
    assert forbidden > 0
    assert sent == [[]] * 40


def _drive_single(map_name, seed, episodes, **kwargs):
    env = EntityEnv(map_name, **kwargs)
    agent = RandomAgent(env.entity_spec, seed=seed)
    obs, _ = env.reset(seed=seed)
    out = []
    for _ in range(episodes):
        first, ret, length, done = obs, 0.0, 0, False
        while not done:
            obs, reward, done, _, _ = env.step(agent.act(obs))
            ret += reward
            length += 1
        out.append((first, ret, length))
        obs, _ = env.reset()
    return out


def _drive_vector(map_name, seed, num_games, episodes, **kwargs):
    vec = gym.make_vec(f"perceiver_sc2/{map_name}-v0", num_envs=num_games,
                       vectorization_mode="vector_entry_point", **kwargs)
    spec = vec.unwrapped.entity_spec
    agents = [RandomAgent(spec, seed=seed + i) for i in range(num_games)]
    obs, _ = vec.reset(seed=seed)
    games = [{"done": [], "first": {k: v[i] for k, v in obs.items()}, "ret": 0.0, "len": 0}
             for i in range(num_games)]
    needs_reset = np.zeros(num_games, dtype=bool)
    while min(len(g["done"]) for g in games) < episodes:
        actions = np.stack([
            np.zeros(spec.max_units, np.int64) if needs_reset[i]
            else agents[i].act({k: v[i] for k, v in obs.items()})
            for i in range(num_games)
        ])
        obs, rewards, terminated, truncated, _ = vec.step(actions)
        np.testing.assert_array_equal(vec.unwrapped.restarted, needs_reset)
        for i, g in enumerate(games):
            if needs_reset[i]:  # NEXT_STEP autoreset: this step returned the reset observation
                assert rewards[i] == 0 and not terminated[i]
                g.update(first={k: v[i] for k, v in obs.items()}, ret=0.0, len=0)
                continue
            g["ret"] += rewards[i]
            g["len"] += 1
            if terminated[i]:
                g["done"].append((g["first"], g["ret"], g["len"]))
        needs_reset = terminated | truncated
    vec.close()
    return [g["done"][:episodes] for g in games]


@pytest.mark.parametrize("map_name", ["DefeatRoaches", "MoveToBeacon"])
def test_vector_env_matches_single_env_game_by_game(map_name):
    seed, num_games, episodes = 40, 3, 2
    vector = _drive_vector(map_name, seed, num_games, episodes)
    for i in range(num_games):
        single = _drive_single(map_name, seed + i, episodes)
        for (v_first, v_ret, v_len), (s_first, s_ret, s_len) in zip(vector[i], single, strict=True):
            assert v_len == s_len and v_ret == pytest.approx(s_ret)
            for key in s_first:
                np.testing.assert_array_equal(v_first[key], s_first[key], err_msg=key)


def test_vector_env_reports_damage_dealt_per_game_from_each_restart():
    vec = gym.make_vec("perceiver_sc2/DefeatRoaches-v0", num_envs=2, vectorization_mode="vector_entry_point",
                       step_mul=32)
    env = vec.unwrapped
    agents = [FocusFire(env.entity_spec, seed=i) for i in range(2)]
    obs, _ = vec.reset(seed=7)
    before = env.damage_dealt
    assert before.tolist() == [0.0, 0.0]
    restarts = 0
    for _ in range(150):
        obs, _, terminated, _, _ = vec.step(np.stack([a.act({k: v[i] for k, v in obs.items()})
                                                      for i, a in enumerate(agents)]))
        now = env.damage_dealt
        for i in range(2):
            if env.restarted[i]:
                restarts += 1
                assert now[i] == 0.0  # a restarted game counts from 0 again
            else:
                assert now[i] >= before[i]
        before = now
    vec.close()
    assert restarts >= 2 and before.max() > 0  # focus fire hurts the Roaches


def test_every_engine_map_has_caps_and_derived_caps_fit_the_map():
    for name in MAP_NAMES:
        game = map_spec(name)
        caps = default_caps(game)
        own = sum(count for _, count in game.agent)
        assert caps.max_units == own and caps.max_entities >= max(own, game.max_units)
        spec, own_caps = entity_spec(name), ENTITY_CAPS[name]
        assert (spec.max_entities, spec.max_units) == (own_caps.max_entities, own_caps.max_units)
        derived = entity_spec(name, max_entities=caps.max_entities, max_units=caps.max_units)
        assert derived.layout.num_actions == 2 + 2 * caps.max_entities + 2 * spec.grid_size**2


def test_same_seed_same_episode_different_seed_different_map():
    a = EntityEnv("DefeatRoaches").reset(seed=5)[0]
    b = EntityEnv("DefeatRoaches").reset(seed=5)[0]
    c = EntityEnv("DefeatRoaches").reset(seed=6)[0]
    np.testing.assert_array_equal(a["entities"], b["entities"])
    assert not np.array_equal(a["entities"], c["entities"])


def test_padding_leaves_real_entities_unchanged_in_a_real_game():
    small, large = EntityEnv("DefeatRoaches", max_entities=32), EntityEnv("DefeatRoaches", max_entities=128)
    obs_s, _ = small.reset(seed=9)
    obs_l, _ = large.reset(seed=9)
    agent = RandomAgent(small.entity_spec, seed=9)
    for _ in range(60):
        real = obs_s["entity_mask"] == 1
        np.testing.assert_array_equal(obs_s["entities"][real], obs_l["entities"][:32][real])
        np.testing.assert_array_equal(obs_s["unit_type"], obs_l["unit_type"][:32])
        assert obs_l["entity_mask"][32:].sum() == 0
        action = agent.act(obs_s)
        # Same units in the same slots: re-encode each (verb, target) in the larger layout.
        action_l = [large.layout.encode(*small.layout.decode(int(a))) for a in action]
        obs_s, *_ = small.step(action)
        obs_l, *_ = large.step(np.array(action_l))


def test_order_features_follow_the_units_orders():
    from envs.action_space import Verb
    from envs.featurize import ENTITY_FEATURES

    col = {name: i for i, name in enumerate(ENTITY_FEATURES)}
    env = EntityEnv("DefeatRoaches")
    obs, _ = env.reset(seed=2)
    units = np.flatnonzero(obs["entity_mask"][: env.entity_spec.max_units])
    assert obs["entities"][units, col["has_order"]].sum() == 0
    roach = int(np.flatnonzero(obs["entities"][:, col["is_enemy"]] > 0)[0])
    attack = np.zeros(env.entity_spec.max_units, np.int64)
    attack[units] = env.layout.encode(Verb.ATTACK_ENTITY, roach)
    obs, *_ = env.step(attack)
    assert (obs["entities"][units, col["order_attack"]] == 1).all()
    move = np.zeros_like(attack)
    move[units] = env.layout.encode(Verb.MOVE_POINT, 0)
    obs, *_ = env.step(move)
    assert (obs["entities"][units, col["order_move"]] == 1).all()
    assert (obs["entities"][units, col["order_attack"]] == 0).all()


def test_vector_env_takes_one_seed_per_game():
    vec = gym.make_vec("perceiver_sc2/MoveToBeacon-v0", num_envs=2, vectorization_mode="vector_entry_point")
    listed, _ = vec.reset(seed=[7, 3])
    single, _ = EntityEnv("MoveToBeacon").reset(seed=3)
    np.testing.assert_array_equal(listed["entities"][1], single["entities"])
    vec.close()


def test_raw_command_path_plays_like_the_compiled_path():
    """The pysc2 backend's path (translate to RawCommand lists, featurize the RawObs that come back), run
    over the engine's own raw API, sees exactly what the compiled engine path sees, step by step."""
    from envs.engine import Engine
    from envs.entity_env import _RawCommandGame

    compiled, raw = EntityEnv("DefeatRoaches"), EntityEnv("DefeatRoaches")
    obs, info = compiled.reset(seed=5)
    raw._game, raw._stepped = _RawCommandGame(raw.entity_spec, Engine("DefeatRoaches", seed=5)), True
    other, other_info = raw._game.reset(None)
    agent = RandomAgent(compiled.entity_spec, seed=5)
    resets = 0
    for _ in range(300):
        assert info == other_info
        for key in obs:
            np.testing.assert_array_equal(obs[key], other[key], err_msg=key)
        action = agent.act(obs)
        obs, reward, done, _, info = compiled.step(action)
        other, other_reward, other_done, _, other_info = raw.step(action)
        assert (reward, done) == (other_reward, other_done)
        if done:
            (obs, info), (other, other_info) = compiled.reset(), raw.reset()
            resets += 1
    assert resets >= 1
