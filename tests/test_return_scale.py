"""Value targets in the units of a running return scale, and the damage and idle-worker shaping: exact
numbers."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the env ids)
from agent.model.return_scale import DECAY, FLOOR, ReturnScale
from agent.training.build import policy_kwargs
from agent.training.config import config_from_dict


def test_the_scale_is_the_debiased_running_rms_and_raw_values_are_preserved():
    scale, layer = ReturnScale(), torch.nn.Linear(3, 1)
    x = torch.randn(5, 3)
    raw = layer(x).detach() * float(scale.scale)
    assert scale.update(4.0, layer) == (1.0, 2.0)  # the first batch alone: sqrt(4)
    assert torch.allclose(layer(x).detach() * float(scale.scale), raw, atol=1e-6)
    old, new = scale.update(16.0, layer)
    running = DECAY * (1 - DECAY) * 4.0 + (1 - DECAY) * 16.0
    assert old == 2.0 and new == pytest.approx(math.sqrt(running / (1 - DECAY**2)))  # 3.2118
    assert torch.allclose(layer(x).detach() * float(scale.scale), raw, atol=1e-5)
    assert ReturnScale().update(0.0, layer)[1] == pytest.approx(FLOOR)  # returns all zero so far


def _pipeline_and_module():
    """RLlib's PPO learner connector with ScaledGAE where EntityPPOLearner puts it, gamma = lambda = 1,
    and a MoveToBeacon module whose value head says 0 everywhere."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.connectors.learner import AddOneTsToEpisodesAndTruncate
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from agent.rllib.learner import ScaledGAE
    from agent.rllib.module import EntityPolicyModule

    env = gym.make("perceiver_sc2/MoveToBeacon-v0")
    cfg = config_from_dict({"model": {"width": 16, "key_dim": 8, "encoder": "deepsets"}})
    spec = RLModuleSpec(module_class=EntityPolicyModule, observation_space=env.observation_space,
                        action_space=env.action_space, model_config={"policy_kwargs": policy_kwargs(cfg)})
    module = MultiRLModuleSpec(rl_module_specs={"default_policy": spec}).build()
    with torch.no_grad():
        module["default_policy"].policy.value_head[-1].weight.zero_()
        module["default_policy"].policy.value_head[-1].bias.zero_()
    pipeline = PPOConfig().build_learner_connector(env.observation_space, env.action_space)
    pipeline.prepend(AddOneTsToEpisodesAndTruncate())
    pipeline.append(ScaledGAE(gamma=1.0, lambda_=1.0))
    return env, pipeline, module


def _episode(env, rewards):
    from ray.rllib.core.columns import Columns
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode

    obs, _ = env.reset(seed=0)
    units, choices = len(env.action_space.nvec), int(env.action_space.nvec[0])
    n = len(rewards)
    return SingleAgentEpisode(
        observations=[obs] * (n + 1), actions=[np.zeros(units, np.int64)] * n, rewards=list(rewards),
        extra_model_outputs={Columns.ACTION_LOGP: [np.float32(0.0)] * n,
                             Columns.ACTION_DIST_INPUTS: [np.zeros(units * choices, np.float32)] * n},
        terminated=True, len_lookback_buffer=0, observation_space=env.observation_space,
        action_space=env.action_space).to_numpy()


def test_value_targets_leave_gae_in_units_of_the_updated_scale():
    from ray.rllib.core.columns import Columns
    from ray.rllib.evaluation.postprocessing import Postprocessing

    env, pipeline, module = _pipeline_and_module()
    scale = module["default_policy"].policy.return_scale
    rms = math.sqrt((3.0**2 + 2.0**2 + 2.0**2) / 3)  # returns-to-go of rewards 1, 0, 2: 3, 2, 2
    for call in range(2):
        episodes = [_episode(env, [1.0, 0.0, 2.0])]
        batch = pipeline(rl_module=module, batch={}, episodes=episodes, shared_data={}, metrics=None)
        batch = batch["default_policy"]
        real = batch[Columns.LOSS_MASK].bool()
        targets = batch[Postprocessing.VALUE_TARGETS][real]
        # The first call divides the rewards by 1 and sets the scale to the targets' rms; the second
        # divides them by that scale, gets the same raw targets back and keeps it.
        assert float(scale.scale) == pytest.approx(rms)
        assert torch.allclose(targets.double(), torch.tensor([3.0, 2.0, 2.0], dtype=torch.float64) / rms)
        assert int(scale.updates) == call + 1
    env.close()


def test_damage_shaping_adds_the_enemy_hit_points_removed_and_leaves_the_score():
    from agent.evaluation.scripted import FocusFire
    from agent.rllib.train_env import TrainVectorEnv
    from envs.vector_env import EntityVectorEnv

    shaped, plain = (cls("DefeatRoaches", 2, step_mul=32, **kw) for cls, kw in
                     ((TrainVectorEnv, {"damage_reward": 0.05, "stagger": False}), (EntityVectorEnv, {})))
    agents = [FocusFire(plain.entity_spec, seed=i) for i in range(2)]
    obs, _ = plain.reset(seed=0)
    shaped.reset(seed=0)  # the training env seeds game i of runner 0 with seed_base * stride + i = i
    before, bonus_seen = np.zeros(2), 0.0
    for _ in range(120):
        actions = np.stack([a.act({k: v[i] for k, v in obs.items()}) for i, a in enumerate(agents)])
        obs, reward, _, _, info = plain.step(actions)
        _, shaped_reward, _, _, shaped_info = shaped.step(actions)
        damage = plain.damage_dealt
        bonus = np.where(plain.restarted, 0.0, damage - before) * 0.05  # 0.05 per hit point or shield
        np.testing.assert_allclose(shaped_reward, reward + bonus, rtol=1e-6)
        np.testing.assert_array_equal(shaped_info["score"], info["score"])  # the map's own score
        before, bonus_seen = damage, bonus_seen + bonus.sum()
    plain.close()
    shaped.close()
    assert bonus_seen > 0


@pytest.mark.parametrize("map_name, paid_per_mineral",
                         [("BuildMarines", 1 / 50), ("CollectMineralsAndGas", 0.0)])
def test_the_bank_reward_pays_the_income_and_charges_the_spending_where_the_score_does_not(map_name,
                                                                                          paid_per_mineral):
    from agent.rllib.train_env import TrainVectorEnv
    from envs.action_space import Verb
    from envs.vector_env import EntityVectorEnv

    # BuildMarines scores Marines (50 minerals each): a mineral brought home pays 1/50 of a point there,
    # one spent is charged as much; CollectMineralsAndGas's score is the income itself and pays nothing
    shaped = TrainVectorEnv(map_name, 2, step_mul=16, bank_reward=1.0, stagger=False)
    plain = EntityVectorEnv(map_name, 2, step_mul=16)
    obs, _ = plain.reset(seed=0)
    shaped.reset(seed=0)
    gather, train = plain.layout.segment(Verb.GATHER), plain.layout.segment(Verb.TRAIN_SCV)
    start = before = plain.resources_banked  # the map's starting 50 minerals
    paid = []
    for step in range(40):
        # every worker is sent to its first legal gather target once, then harvests on its own; the
        # Command Center trains one SCV at once, spending the bank's 50 minerals
        mask = obs["action_mask"]
        gathers = mask[:, :, gather.start:gather.start + gather.size]
        actions = np.where(gathers.any(-1) & (step == 0), gather.start + gathers.argmax(-1), 0)
        actions = np.where(mask[:, :, train.start] & (step == 0), train.start, actions)
        obs, reward, _, _, info = plain.step(actions)
        _, shaped_reward, _, _, shaped_info = shaped.step(actions)
        banked = plain.resources_banked
        if map_name == "CollectMineralsAndGas":  # the score is the minerals and gas collected
            np.testing.assert_array_equal(banked, start - 50 + info["score"])
        np.testing.assert_allclose(shaped_reward, reward + (banked - before) * paid_per_mineral, rtol=1e-6)
        np.testing.assert_array_equal(shaped_info["score"], info["score"])
        paid.append(banked - before)
        before = banked
    plain.close()
    shaped.close()
    np.testing.assert_array_equal(paid[0], [-50, -50])  # the SCV, bought before any trip ended
    assert (before - start >= 5 - 50).all()  # each game's workers brought home at least one trip


@pytest.mark.parametrize("map_name, paid_per_mineral",
                         [("BuildMarines", 1 / 50), ("CollectMineralsAndGas", 0.0)])
def test_the_production_reward_pays_what_the_income_builds_beside_the_income(map_name, paid_per_mineral):
    from agent.rllib.train_env import TrainVectorEnv
    from envs.action_space import Verb
    from envs.vector_env import EntityVectorEnv

    # BuildMarines scores Marines (50 minerals each): a mineral's worth bought pays 1/50 of a point
    # there, on top of the 1/50 its collection paid; CollectMineralsAndGas's score is the income itself
    # and pays nothing more
    shaped = TrainVectorEnv(map_name, 2, step_mul=16, bank_reward=1.0, production_reward=1.0,
                            stagger=False)
    plain = EntityVectorEnv(map_name, 2, step_mul=16)
    obs, _ = plain.reset(seed=0)
    _, _ = shaped.reset(seed=0)
    start = before = plain.value_bought  # the start's units, which pay nothing
    np.testing.assert_array_equal(shaped.value_bought, start)
    banked_before = plain.resources_banked
    segment = {verb: plain.layout.segment(verb) for verb in (Verb.GATHER, Verb.TRAIN_SCV, Verb.TRAIN_MARINE,
                                                             Verb.BUILD_SUPPLY_DEPOT, Verb.BUILD_BARRACKS)}
    trained = np.zeros(2, np.int64)
    ordered = {verb: np.zeros(2, bool) for verb in (Verb.BUILD_SUPPLY_DEPOT, Verb.BUILD_BARRACKS)}
    marine_paid = np.full(2, np.nan)  # what the step that queued each game's Marine paid
    for step in range(400):
        # every worker is sent to its first legal gather target once, the Command Center trains SCVs
        # until a Supply Depot is ordered, a worker builds one Supply Depot and then one Barracks once
        # the game allows it, and the Barracks trains one Marine
        mask = obs["action_mask"]
        first = {verb: seg.start + mask[:, :, seg.start:seg.start + seg.size].argmax(-1)
                 for verb, seg in segment.items()}
        legal = {verb: mask[:, :, seg.start:seg.start + seg.size].any(-1) for verb, seg in segment.items()}
        actions = np.where(legal[Verb.GATHER] & (step == 0), first[Verb.GATHER], 0)
        scv = legal[Verb.TRAIN_SCV] & ~ordered[Verb.BUILD_SUPPLY_DEPOT][:, None]
        actions = np.where(scv, first[Verb.TRAIN_SCV], actions)
        trained += scv.any(-1)
        queue = legal[Verb.TRAIN_MARINE] & np.isnan(marine_paid)[:, None]
        actions = np.where(queue, first[Verb.TRAIN_MARINE], actions)
        for verb, done in ordered.items():
            for g in np.flatnonzero(~done & legal[verb].any(-1) & ~(verb == Verb.BUILD_BARRACKS
                                                                     & ~ordered[Verb.BUILD_SUPPLY_DEPOT])):
                builder = int(np.flatnonzero(legal[verb][g])[0])
                actions[g, builder] = first[verb][g, builder]
                done[g] = True
        obs, reward, _, _, info = plain.step(actions)
        _, shaped_reward, _, _, shaped_info = shaped.step(actions)
        value, banked = plain.value_bought, plain.resources_banked
        marine_paid[queue.any(-1)] = (value - before)[queue.any(-1)]
        shaping = (value - before + banked - banked_before) * paid_per_mineral
        np.testing.assert_allclose(shaped_reward, reward + shaping, rtol=1e-6)
        np.testing.assert_array_equal(shaped_info["score"], info["score"])
        before, banked_before = value, banked
        if not np.isnan(marine_paid).any():
            break
    plain.close()
    shaped.close()
    # each game trained SCVs, which count nothing (a worker's worth is its income), and built its first
    # Supply Depot and Barracks, which count their price; its Marine counted its price of 50 minerals in
    # the step that queued it, before it was trained
    assert (trained >= 2).all() and all(done.all() for done in ordered.values())
    np.testing.assert_array_equal(marine_paid, [50, 50])
    np.testing.assert_array_equal(before - start, [100 + 150 + 50] * 2)


def _send_idle_workers(step, obs, idle, segment, memo):
    """Game g sends one more of its idle workers to gather every (g + 1) steps, so the two games' idle
    counts differ."""
    actions = np.zeros(idle.shape, dtype=np.int64)
    for g in range(2):
        if step % (g + 1) == 0 and idle[g].any():
            u = np.flatnonzero(idle[g])[0]
            actions[g, u] = segment["gather"].start + np.flatnonzero(obs["action_mask"][g, u,
                                                                     segment["gather"].start:])[0]
    return actions


def _build_a_depot_in_game_0(step, obs, idle, segment, memo):
    """Game 0's first worker builds one Supply Depot once it may, and stands idle when it is finished."""
    actions = np.zeros(idle.shape, dtype=np.int64)
    depot = segment["depot"]
    cells = obs["action_mask"][0, :, depot.start:depot.start + depot.size]
    if "builder" not in memo and cells.any():
        memo["builder"] = np.flatnonzero(cells.any(-1))[0]
        actions[0, memo["builder"]] = depot.start + cells[memo["builder"]].argmax()
    return actions


@pytest.mark.parametrize("map_name, minerals_per_point, play, steps, idle_counts", [
    ("CollectMineralsAndGas", 1, _send_idle_workers, 30, set(range(12))),  # 11 after the first order, to 0
    ("BuildMarines", 50, _build_a_depot_in_game_0, 120, {0, 1}),  # its SCVs start mining
])
def test_the_idle_worker_penalty_charges_each_worker_without_an_order_and_leaves_the_score(
        map_name, minerals_per_point, play, steps, idle_counts):
    from agent.rllib.train_env import TrainVectorEnv
    from envs.action_space import Verb
    from envs.featurize import entity_features
    from envs.vector_env import EntityVectorEnv

    penalty, step_mul = 0.5, 8
    shaped = TrainVectorEnv(map_name, 2, step_mul=step_mul, idle_worker_penalty=penalty, stagger=False)
    plain = EntityVectorEnv(map_name, 2, step_mul=step_mul)
    obs, _ = plain.reset(seed=0)
    shaped.reset(seed=0)
    segment = {"gather": plain.layout.segment(Verb.GATHER),
               "depot": plain.layout.segment(Verb.BUILD_SUPPLY_DEPOT)}
    has_order = entity_features(True).index("has_order")
    gather = segment["gather"]
    idle_seen, memo = set(), {}
    for step in range(steps):
        # the workers are the units that may gather
        workers = obs["action_mask"][:, :, gather.start:gather.start + gather.size].any(-1)
        idle = workers & (obs["entities"][:, : workers.shape[1], has_order] == 0)
        actions = play(step, obs, idle, segment, memo)
        obs, reward, _, _, info = plain.step(actions)
        _, shaped_reward, _, _, shaped_info = shaped.step(actions)
        workers = obs["action_mask"][:, :, gather.start:gather.start + gather.size].any(-1)
        idle_now = (workers & (obs["entities"][:, : workers.shape[1], has_order] == 0)).sum(1)
        # 0.5 minerals per idle worker per game second of 16 game loops: 0.25 per step of 8 loops, paid in
        # the map's points (a BuildMarines point is a Marine, 50 minerals)
        expected = reward - penalty / minerals_per_point * idle_now * step_mul / 16
        np.testing.assert_allclose(shaped_reward, expected, rtol=1e-6)
        np.testing.assert_array_equal(shaped_info["score"], info["score"])
        idle_seen |= set(idle_now.tolist())
    plain.close()
    shaped.close()
    assert idle_seen == idle_counts
