"""The gymnasium entity env over the engine: API conformance, masks, the vector env's equivalence."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from agent.evaluation.scripted import FocusFire, RandomAgent
from envs.action_space import COMBAT_VERBS, Verb
from envs.engine import MAP_NAMES, map_spec
from envs.entity_env import ENTITY_CAPS, EntityEnv, default_caps, entity_spec
from envs.featurize import ENTITY_FEATURES
from envs.raw_schema import FeatureUnit as FU

F = {name: i for i, name in enumerate(ENTITY_FEATURES)}

MAPS = list(MAP_NAMES)
# DefeatRoaches starts with 9 Marines and 4 Roaches: with these caps 5 Marines cannot act and 1 entity
# does not fit
SMALL_CAPS = {"max_units": 4, "max_entities": 12}


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
        # no-op, stop; move, attack, queued move to an entity; move, attack-move to a cell
        assert derived.layout.num_actions == 2 + 3 * caps.max_entities + 2 * spec.grid_size**2


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


@pytest.mark.parametrize("caps", [{}, SMALL_CAPS])
def test_raw_command_path_plays_like_the_compiled_path(caps):
    """The pysc2 backend's path (translate to RawCommand lists, featurize the RawObs that come back), run
    over the engine's own raw API, sees exactly what the compiled engine path sees, step by step."""
    from envs.engine import Engine
    from envs.entity_env import _RawCommandGame

    compiled, raw = EntityEnv("DefeatRoaches", **caps), EntityEnv("DefeatRoaches", **caps)
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


@pytest.mark.parametrize("caps", [{}, SMALL_CAPS])
def test_vector_env_matches_single_envs_step_by_step(caps):
    """Every observation, reward and termination, through the vector env's autoresets (past the map's
    240-step time limit), equals the single envs' given the same actions."""
    seed, num_games = 11, 3
    vec = gym.make_vec("perceiver_sc2/DefeatRoaches-v0", num_envs=num_games,
                       vectorization_mode="vector_entry_point", **caps)
    singles = [EntityEnv("DefeatRoaches", **caps) for _ in range(num_games)]
    agents = [RandomAgent(singles[0].entity_spec, seed=seed + i) for i in range(num_games)]
    v_obs, _ = vec.reset(seed=seed)
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(singles)]
    needs_reset, resets = np.zeros(num_games, dtype=bool), 0
    for _ in range(260):
        for i in range(num_games):
            for key in obs[i]:
                np.testing.assert_array_equal(v_obs[key][i], obs[i][key], err_msg=key)
        actions = np.stack([agent.act(o) for agent, o in zip(agents, obs, strict=True)])
        v_obs, v_rewards, v_terminated, v_truncated, _ = vec.step(actions)
        for i, env in enumerate(singles):
            if needs_reset[i]:
                obs[i], _ = env.reset()
                assert obs[i]["entities"][:, F["last_no_op"]:].sum() == 0  # a new episode remembers nothing
                resets += 1
                continue
            obs[i], reward, terminated, _, _ = env.step(actions[i])
            assert (reward, terminated) == (v_rewards[i], v_terminated[i])
        needs_reset = v_terminated | v_truncated
    vec.close()
    assert resets >= num_games


def test_marines_keep_their_slots_when_one_dies():
    env = EntityEnv("DefeatRoaches")
    U = env.entity_spec.max_units
    obs, _ = env.reset(seed=3)
    agent = FocusFire(env.entity_spec)
    before = env.slot_tags[:U].copy()
    deaths_below_survivors = waves = 0
    for _ in range(50):
        obs, *_ = env.step(agent.act(obs))
        after = env.slot_tags[:U].copy()
        kept = (before != 0) & np.isin(before, after)
        np.testing.assert_array_equal(after[kept], before[kept])  # a living unit never changes slot
        dead = np.flatnonzero((before != 0) & ~kept)
        if kept.any():
            assert (after[dead] == 0).all() and obs["entity_mask"][dead].sum() == 0
            assert obs["action_mask"][dead, 1:].sum() == 0  # an empty slot may only no-op
            deaths_below_survivors += int(len(dead) > 0 and dead.min() < np.flatnonzero(kept).max())
        elif len(dead):
            # A new wave re-creates the Marines under new tags: they fill slots 0.. in tag order.
            live = after[after != 0]
            assert (np.flatnonzero(after) == np.arange(len(live))).all() and (np.diff(live) > 0).all()
            waves += 1
        before = after
    assert deaths_below_survivors >= 2 and waves == 1


def test_enemies_are_never_dropped_for_marines_that_cannot_act():
    env = EntityEnv("DefeatRoaches", **SMALL_CAPS)
    obs, info = env.reset(seed=0)
    entities, mask = obs["entities"], obs["entity_mask"]
    assert mask.sum() == 12 and info["dropped"] == 1  # 9 Marines + 4 Roaches in 12 slots
    assert entities[:4, F["is_own"]].all() and entities[4:8, F["is_enemy"]].all()  # all 4 Roaches
    assert entities[8:, F["is_own"]].all()  # 4 of the 5 Marines beyond U; the fifth is dropped
    attack = env.layout.segment(Verb.ATTACK_ENTITY)
    assert (obs["action_mask"][:, attack.start + 4 : attack.start + 8] == 1).all()


def _position(raw, tag):
    return raw.positions[np.flatnonzero(raw.raw_units[:, FU.tag] == tag)[0]]


def _has_order(raw, tag):
    return raw.raw_units[np.flatnonzero(raw.raw_units[:, FU.tag] == tag)[0], FU.order_length] > 0


def test_command_features_after_a_scripted_sequence_in_a_real_game():
    env = EntityEnv("DefeatRoaches")
    U, layout = env.entity_spec.max_units, env.layout
    last = [F[f"last_{v.name.lower()}"] for v in COMBAT_VERBS]
    target = [F["order_dx"], F["order_dy"]]
    obs, _ = env.reset(seed=3)
    units = np.flatnonzero(obs["entity_mask"][:U])
    tags = env.slot_tags[units].copy()
    assert len(units) == 9 and obs["entities"][:, last[0]:].sum() == 0
    roach_tag = int(env.slot_tags[np.flatnonzero(obs["entities"][:, F["is_enemy"]])[0]])

    def offset(tag, point):  # what the env should write: the same arithmetic, stored as float32
        return np.float32((np.asarray(point) - _position(env.last_raw, tag)) / 16.0)

    # Step 1: every Marine attacks the Roach.
    actions = np.zeros(U, np.int64)
    actions[units] = layout.encode(Verb.ATTACK_ENTITY, int(np.flatnonzero(env.slot_tags == roach_tag)[0]))
    obs, *_ = env.step(actions)
    e, raw = obs["entities"], env.last_raw
    np.testing.assert_array_equal(env.slot_tags[units], tags)
    assert (e[units][:, last] == np.eye(len(COMBAT_VERBS))[Verb.ATTACK_ENTITY]).all()
    for u, tag in zip(units, tags, strict=True):
        np.testing.assert_array_equal(e[u, target], offset(tag, _position(raw, roach_tag)))
    roach = np.flatnonzero(env.slot_tags == roach_tag)[0]
    assert e[roach, F["targeted_by"]] == np.float32(9 / U)
    assert e[:, F["targeted_by"]].sum() == np.float32(9 / U)  # and nothing else is targeted

    # Step 2: Marine 0 moves to the nearest cell centre at least 3 away (a few steps' walk), Marine 1
    # stops, the rest keep their order (no-op): they stay on the Roach, and only they count as targeting it.
    cells = env.entity_spec.cell_centres()
    distance = np.linalg.norm(cells - _position(raw, tags[0]), axis=1)
    cell = int(np.argmin(np.where(distance >= 3.0, distance, np.inf)))
    actions = np.zeros(U, np.int64)
    actions[units[0]] = layout.encode(Verb.MOVE_POINT, cell)
    actions[units[1]] = layout.encode(Verb.STOP)
    obs, *_ = env.step(actions)
    e, raw = obs["entities"], env.last_raw
    assert (e[units[0], last] == np.eye(len(COMBAT_VERBS))[Verb.MOVE_POINT]).all()
    assert (e[units[1], last] == np.eye(len(COMBAT_VERBS))[Verb.STOP]).all()
    assert (e[units[2:]][:, last] == np.eye(len(COMBAT_VERBS))[Verb.NO_OP]).all()
    assert _has_order(raw, tags[0])
    np.testing.assert_array_equal(e[units[0], target], offset(tags[0], cells[cell]))
    assert e[units[1], target].tolist() == [0, 0]
    attacking = [tag for tag in tags[2:] if _has_order(raw, tag)]
    assert len(attacking) >= 5  # most keep firing; an order ends only when the game drops it
    for u, tag in zip(units[2:], tags[2:], strict=True):
        np.testing.assert_array_equal(e[u, target], offset(tag, _position(raw, roach_tag)) if tag in attacking
                                      else np.zeros(2, np.float32))
    roach = np.flatnonzero(env.slot_tags == roach_tag)[0]
    assert e[roach, F["targeted_by"]] == np.float32(len(attacking) / U)

    # Marine 0 walks on (no-op) and arrives: its order ends, and with it the order features.
    walked = 0
    while _has_order(env.last_raw, tags[0]) and walked < 20:
        np.testing.assert_array_equal(obs["entities"][units[0], target], offset(tags[0], cells[cell]))
        obs, *_ = env.step(np.zeros(U, np.int64))
        walked += 1
    assert 1 <= walked < 20 and not _has_order(env.last_raw, tags[0])
    assert obs["entities"][units[0], target].tolist() == [0, 0]
    assert (obs["entities"][units[0], last] == np.eye(len(COMBAT_VERBS))[Verb.NO_OP]).all()

    # A new episode starts with nothing remembered.
    obs, _ = env.reset()
    assert obs["entities"][:, last[0]:].sum() == 0



def test_one_game_reports_the_same_damage_as_its_raw_observation_and_the_vector_env():
    env = gym.make("perceiver_sc2/DefeatRoaches-v0", step_mul=32).unwrapped
    vec = gym.make_vec("perceiver_sc2/DefeatRoaches-v0", num_envs=1, vectorization_mode="vector_entry_point",
                       step_mul=32).unwrapped
    agent = FocusFire(env.entity_spec, seed=0)
    obs, _ = env.reset(seed=3)
    vec.reset(seed=3)
    done = False
    while not done:  # one episode: both count from the same start
        action = agent.act(obs)
        obs, _, done, _, _ = env.step(action)
        vec.step(action[None])
        assert env.damage_dealt == env.last_raw.damage_dealt == vec.damage_dealt[0]
    assert env.damage_dealt > 0  # focus fire hurts the Roaches
    env.close()
    vec.close()
