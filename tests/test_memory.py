"""The recurrent core: state carried across the steps of an episode, reset at its start, in sampling, in the
learner's recomputation and in evaluation."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the env ids)
from agent.evaluation.agents import PolicyAgent
from agent.evaluation.run_loop import play
from agent.model.policy import EntityPolicy, to_tensors
from agent.training.build import policy_kwargs
from agent.training.config import load_config

ROOT = Path(__file__).resolve().parent.parent
# MoveToBeacon at 32 loops a step: 60 steps a game, so 4 games x 64 steps cross an episode boundary.
TINY = ["env.step_mul=32", "env.num_envs=4", "ppo.train_batch_size=256", "ppo.minibatch_size=128",
        "ppo.num_epochs=1", "model.width=16", "model.key_dim=8", "model.encoder=deepsets",
        "model.encoder_options={}", "scale.torch_threads=1", "run.progress=false", "model.memory=true",
        "model.memory_seq_len=16"]


def _memory_policy(map_name: str = "MoveToBeacon") -> EntityPolicy:
    cfg = load_config(ROOT / "configs" / f"{map_name}.yaml", TINY)
    torch.manual_seed(0)
    policy = EntityPolicy(**policy_kwargs(cfg)).eval()
    with torch.no_grad():  # a core whose state matters: large recurrent weights, sharp heads
        policy.core.lstm.weight_hh_l0.mul_(20.0)
        for head in [policy.verb_head, *policy.target_heads.values()]:
            head.weight.mul_(30.0)
    return policy


def test_exploration_logp_is_what_the_learner_recomputes_across_an_episode_boundary(ray_session, tmp_path):
    from ray.rllib.core.columns import Columns

    from agent.training.loop import Trainer

    cfg = load_config(ROOT / "configs" / "MoveToBeacon.yaml", TINY + ["run.max_iterations=1"])
    trainer = Trainer(cfg, tmp_path)
    try:
        learner = trainer.algo.learner_group._learner
        module = learner.module["default_policy"]
        with torch.no_grad():  # as in _memory_policy: make the recurrent state matter
            module.policy.core.lstm.weight_hh_l0.mul_(20.0)
        trainer.algo.env_runner.module.set_state(module.get_state())
        trainer.algo.env_runner.sample(num_timesteps=128, random_actions=False)  # games at step 32
        episodes = trainer.algo.env_runner.sample(num_timesteps=256, random_actions=False)
        fresh = [e for e in episodes if e.t_started == 0 and len(e) > 0]
        continued = [e for e in episodes if e.t_started > 0]
        # every game: its first episode continued from step 32 to its end at 60, then a new one
        assert len(fresh) == 4 and len(continued) == 4 and all(e.is_done for e in continued)
        # A game's second episode starts from the initial state, not from the first episode's last.
        policy = module.policy
        for episode in fresh:
            obs = {k: torch.as_tensor(v[None]) for k, v in episode.get_observations(0).items()}
            with torch.no_grad():
                _, logits, _, _ = policy.decode(obs, sample=False, state=None)
            recorded = episode.get_extra_model_outputs(Columns.ACTION_DIST_INPUTS, 0)
            assert np.allclose(logits.flatten(-2)[0].numpy(), recorded, atol=1e-5)
        batch = learner._learner_connector(rl_module=learner.module, batch={}, episodes=episodes,
                                           shared_data={}, metrics=None)["default_policy"]
        assert batch[Columns.OBS]["entities"].shape[1] == 16  # [sequences, max_seq_len, ...]
        with torch.no_grad():
            out = module.forward_train(batch)
        dist = module.train_distribution(out)
        mask = batch[Columns.LOSS_MASK].bool()
        recomputed = dist.logp(batch[Columns.ACTIONS])[mask]
        assert mask.sum() == 256
        assert torch.allclose(recomputed, batch[Columns.ACTION_LOGP][mask], atol=1e-4)  # first ratio 1
        # Without the recorded state at each sequence's start the learner would not recompute them.
        zero_state = {k: torch.zeros_like(v) for k, v in batch[Columns.STATE_IN].items()}
        with torch.no_grad():
            stateless = module.forward_train({**batch, Columns.STATE_IN: zero_state})
        wrong = module.train_distribution(stateless)
        assert not torch.allclose(wrong.logp(batch[Columns.ACTIONS])[mask], recomputed, atol=1e-3)
    finally:
        trainer.close()


@pytest.mark.parametrize("sample", [False, True])
def test_evaluation_carries_the_state_through_an_episode_and_resets_it(sample):
    policy = _memory_policy()
    env = gym.make("perceiver_sc2/MoveToBeacon-v0", step_mul=32)
    seen = []

    class Recording(PolicyAgent):
        def act(self, obs):
            seen.append((obs, self.state))
            return super().act(obs)

    agent = Recording(policy, sample=sample, seed=3)
    play(env, agent, episodes=2, seed=0, progress=False, max_steps=6)
    env.close()
    assert len(seen) == 12
    assert seen[0][1] is None and seen[6][1] is None  # each episode starts from the initial state
    assert all(state is not None for _, state in seen[1:6] + seen[7:])
    # Stepping with the carried state is the same as running the core over the whole episode at once.
    obs = {k: torch.as_tensor(np.stack([o[k] for o, _ in seen[:6]]))[None] for k in seen[0][0]}
    with torch.no_grad():
        steps = [policy.decode(to_tensors(o), sample=False, state=s) for o, s in seen[:6]]
        features = policy.features(obs)[0]
        alone = policy.features({k: v[0] for k, v in obs.items()})  # six games of one step each
    assert torch.allclose(torch.cat([f for _, _, f, _ in steps]), features, atol=1e-5)
    assert not torch.allclose(features[1:], alone[1:], atol=1e-3)
