"""GAE reads the values the env runner computed while acting, and runs the value head only on the
bootstrap rows RLlib appends: the advantages and value targets are those of a full recomputation."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

import envs  # noqa: F401  (registers the env ids)
from agent.training.config import load_config

ROOT = Path(__file__).resolve().parent.parent
# MoveToBeacon at 32 loops a step: 60 steps a game, so 4 games x 40 steps end some chunks mid-episode
# (a bootstrap row whose value matters) and some at a game's end.
TINY = ["env.step_mul=32", "env.num_envs=4", "ppo.train_batch_size=160", "ppo.minibatch_size=160",
        "ppo.num_epochs=1", "model.width=16", "model.key_dim=8", "model.encoder=deepsets",
        "model.encoder_options={}", "scale.torch_threads=1", "run.progress=false", "run.max_iterations=1",
        "ppo.return_scaling=false"]


def test_gae_from_the_sampled_values_equals_gae_from_a_full_forward_pass(ray_session, tmp_path):
    from ray.rllib.core.columns import Columns
    from ray.rllib.evaluation.postprocessing import Postprocessing

    from agent.training.loop import Trainer

    trainer = Trainer(load_config(ROOT / "configs" / "MoveToBeacon.yaml", TINY), tmp_path)
    try:
        learner = trainer.algo.learner_group._learner
        with torch.no_grad():  # a value head far from zero, so that a wrong bootstrap value shows
            learner.module["default_policy"].policy.value_head[-1].bias.fill_(5.0)
        trainer.algo.env_runner.module.set_state(learner.module["default_policy"].get_state())
        trainer.algo.env_runner.sample(num_timesteps=100, random_actions=False)  # games at step 25
        episodes = trainer.algo.env_runner.sample(num_timesteps=160, random_actions=False)
        assert all(Columns.VF_PREDS in e.extra_model_outputs for e in episodes)
        assert any(not e.is_done for e in episodes) and any(e.is_done for e in episodes)

        def gae(episodes):
            return learner._learner_connector(rl_module=learner.module, batch={}, episodes=episodes,
                                              shared_data={}, metrics=None)["default_policy"]

        stripped = copy.deepcopy(episodes)
        for episode in stripped:
            del episode.extra_model_outputs[Columns.VF_PREDS]
        sampled, recomputed = gae(copy.deepcopy(episodes)), gae(stripped)
        assert Columns.VF_PREDS in sampled and Columns.VF_PREDS not in recomputed
        for key in (Postprocessing.ADVANTAGES, Postprocessing.VALUE_TARGETS):
            assert torch.allclose(sampled[key], recomputed[key], atol=1e-4), key
        # The bootstrap rows carry a copy of the step before's value; GAE must not read it.
        module = learner.module["default_policy"]
        values = module.compute_values(sampled)
        copies = sampled[Columns.VF_PREDS]
        bootstrap = ~sampled[Columns.LOSS_MASK].bool()
        assert not torch.allclose(values[bootstrap], copies[bootstrap], atol=1e-3)
        assert torch.allclose(values, module.compute_values({Columns.OBS: sampled[Columns.OBS]}), atol=1e-5)
    finally:
        trainer.close()
