"""TrainConfig -> PPOConfig: the config's batch sizes are global whatever the number of learners."""

from __future__ import annotations

import pytest

from agent.rllib.learner import EntityPPOLearner
from agent.rllib.ppo_config import build_ppo_config
from agent.training.config import load_config
from envs.entity_env import action_space, entity_spec, observation_space


@pytest.mark.parametrize("learners, per_learner", [(0, (2048, 256)), (1, (2048, 256)), (2, (1024, 128))])
def test_train_batch_and_minibatch_are_split_over_the_learners(learners, per_learner):
    # RLlib's minibatch_size is per learner and DDP averages the learners' gradients: a 256 minibatch on
    # two learners is 128 on each, the same SGD steps as one learner's 256.
    cfg = load_config("configs/MoveToBeacon.yaml", [f"scale.num_learners={learners}",
                                                    "ppo.train_batch_size=2048", "ppo.minibatch_size=256"])
    config = build_ppo_config(cfg)
    assert (config.train_batch_size_per_learner, config.minibatch_size) == per_learner
    assert config.learner_class is EntityPPOLearner


def test_the_learner_steps_adam_fused():
    cfg = load_config("configs/MoveToBeacon.yaml", ["model.width=16", "model.key_dim=8"])
    spec = entity_spec("MoveToBeacon")
    learner = build_ppo_config(cfg).build_learner(
        env=None, spaces={"default_policy": (observation_space(spec), action_space(spec))})
    optimizer = learner.get_optimizer()
    assert optimizer.defaults["fused"] is True
    assert optimizer.param_groups[0]["lr"] == pytest.approx(cfg.ppo.lr)
    params = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert params == {id(p) for p in learner.module["default_policy"].parameters()}
