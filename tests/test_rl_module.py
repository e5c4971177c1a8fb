"""The RLlib adapter: what the env runner records is what the learner recomputes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401  (registers the env ids)
from agent.rllib.module import EntityPolicyModule
from agent.training.build import policy_kwargs
from agent.training.config import config_from_dict
from tests.test_policy import head_modes


def test_exploration_logp_is_what_training_recomputes_for_every_unit():
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    env = gym.make("perceiver_sc2/DefeatRoaches-v0")  # 9 Marines, decoded one after another
    units = len(env.action_space.nvec)
    cfg = config_from_dict({"env": {"map": "DefeatRoaches"},
                            "model": {"width": 16, "key_dim": 8, "encoder": "deepsets"}})
    spec = RLModuleSpec(module_class=EntityPolicyModule, observation_space=env.observation_space,
                        action_space=env.action_space, model_config={"policy_kwargs": policy_kwargs(cfg)})
    module = spec.build()
    with torch.no_grad():  # spread the first unit's picks, so that later units see real claims
        module.policy.claim_gain.bias.copy_(torch.tensor([-2.0, 1.0]))
    observations = []
    obs, _ = env.reset(seed=0)
    for _ in range(8):
        observations.append(obs)
        obs, *_ = env.step(env.action_space.sample())
    env.close()
    stacked = {key: torch.as_tensor(np.stack([o[key] for o in observations])) for key in observations[0]}
    batch = {Columns.OBS: stacked}
    torch.manual_seed(0)
    with torch.no_grad():
        explored = module.forward_exploration(batch)
        trained = module.forward_train({**batch, Columns.ACTIONS: explored[Columns.ACTIONS]})
        greedy = module.forward_inference(batch)
    dist_cls = module.get_train_action_dist_cls()
    recomputed = dist_cls.from_logits(trained[Columns.ACTION_DIST_INPUTS]).logp(explored[Columns.ACTIONS])
    assert explored[Columns.ACTIONS].shape == (8, units) and units >= 9
    assert torch.allclose(recomputed, explored[Columns.ACTION_LOGP], atol=1e-4)  # PPO's first ratio is 1
    assert torch.allclose(trained[Columns.ACTION_DIST_INPUTS], explored[Columns.ACTION_DIST_INPUTS],
                          atol=1e-5)
    mask = batch[Columns.OBS]["action_mask"].bool()
    assert mask.gather(-1, explored[Columns.ACTIONS].unsqueeze(-1)).all()
    # Greedy: each unit's head modes (verb, then target) given the units before it.
    logits = greedy[Columns.ACTION_DIST_INPUTS].reshape(8, units, -1)
    assert torch.equal(greedy[Columns.ACTIONS], head_modes(torch.softmax(logits, -1), module.policy.layout(
        batch[Columns.OBS]["entities"].shape[1])))
