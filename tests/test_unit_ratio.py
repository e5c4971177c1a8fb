"""PPO's clipped ratio per own unit against RLlib's over the joint action, on a real 3m observation."""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.evaluation.postprocessing import Postprocessing

import envs  # noqa: F401  (registers the env ids)
from agent.rllib.module import UNIT_FACTORS, UNIT_LOGP, UNIT_ROWS
from agent.rllib.ppo_config import build_ppo_config
from agent.training.config import load_config
from envs.entity_env import action_space, entity_spec, observation_space

MODULE = "default_policy"


def _learner(ratio: str):
    cfg = load_config("configs/3m.yaml", ["model.width=16", "model.key_dim=8", "ppo.entropy_coeff=0",
                                          f"ppo.ratio={ratio}"])
    spec = entity_spec("3m")
    return build_ppo_config(cfg).build_learner(
        env=None, spaces={MODULE: (observation_space(spec), action_space(spec))})


def _batch(module, num_samples: int = 6) -> dict:
    """Observations of 3m, sampled actions, behaviour logits equal to the module's own, advantage +1."""
    env = gym.make("perceiver_sc2/3m-v0")
    rows = [env.reset(seed=seed)[0] for seed in range(num_samples)]
    obs = {key: torch.as_tensor(np.stack([row[key] for row in rows])) for key in rows[0]}
    acted = module.forward_exploration({Columns.OBS: obs})
    return {Columns.OBS: obs, Columns.ACTIONS: acted[Columns.ACTIONS],
            Columns.ACTION_DIST_INPUTS: acted[Columns.ACTION_DIST_INPUTS],
            Columns.ACTION_LOGP: acted[Columns.ACTION_LOGP], UNIT_LOGP: acted[UNIT_LOGP],
            Postprocessing.ADVANTAGES: torch.ones(num_samples),
            Postprocessing.VALUE_TARGETS: torch.zeros(num_samples)}


def _parameter_grads(learner, batch: dict) -> list[torch.Tensor]:
    """Gradient of the policy loss with respect to every parameter of the policy's heads and encoder (the
    value path held fixed)."""
    module = learner.module[MODULE].unwrapped()
    module.zero_grad()
    fwd = module.forward_train(batch)
    fwd = {**fwd, Columns.EMBEDDINGS: fwd[Columns.EMBEDDINGS].detach()}
    config = learner.config.get_config_for_module(MODULE)
    loss = learner.compute_loss_for_module(module_id=MODULE, config=config, batch=batch, fwd_out=fwd)
    loss.backward()
    return [p.grad.clone() for p in module.parameters() if p.grad is not None]


def _unit_grads(learner, batch: dict) -> torch.Tensor:
    """How much of the loss's gradient reaches each unit's distribution [B, U]: the summed magnitude of the
    gradient on its verb logits and target log-probabilities (0 for a unit with a single legal action)."""
    module = learner.module[MODULE].unwrapped()
    fwd = module.forward_train(batch)
    factors = fwd[UNIT_FACTORS]
    leaves = [factors.verb_logits.detach().requires_grad_(True),
              *(logp.detach().requires_grad_(True) for logp in factors.target_logp)]
    factors = factors._replace(verb_logits=leaves[0], target_logp=tuple(leaves[1:]))
    fwd = {**fwd, UNIT_FACTORS: factors, Columns.EMBEDDINGS: fwd[Columns.EMBEDDINGS].detach()}
    config = learner.config.get_config_for_module(MODULE)
    loss = learner.compute_loss_for_module(module_id=MODULE, config=config, batch=batch, fwd_out=fwd)
    loss.backward()
    per_row = sum(leaf.grad.abs().flatten(1).sum(-1) for leaf in leaves)
    shape = batch[Columns.ACTIONS].shape
    return per_row.new_zeros(shape.numel()).index_copy(0, fwd[UNIT_ROWS], per_row).view(shape)


def _raise_unit_ratio(module, batch: dict, unit: int, factor: float) -> None:
    """Make the behaviour policy `factor` times less likely than the current one to take unit `unit`'s
    action (its taken logit lowered, the rest of its row unchanged), the joint log-probability to match."""
    num_units = batch[Columns.ACTIONS].shape[1]
    logits = batch[Columns.ACTION_DIST_INPUTS].view(len(batch[Columns.ACTIONS]), num_units, -1).clone()
    taken = batch[Columns.ACTIONS][:, unit]
    rows = torch.arange(len(taken))
    probs = torch.softmax(logits[rows, unit], -1)[rows, taken]
    # lowering the taken logit by d multiplies its probability by e^-d / (1 - p + p e^-d)
    target = probs / factor
    logits[rows, unit, taken] += torch.log(target * (1 - probs) / (probs * (1 - target)))
    batch[Columns.ACTION_DIST_INPUTS] = logits.flatten(-2)
    dist = module.get_exploration_action_dist_cls().from_logits(batch[Columns.ACTION_DIST_INPUTS])
    batch[UNIT_LOGP] = dist.unit_logp(batch[Columns.ACTIONS])
    batch[Columns.ACTION_LOGP] = batch[UNIT_LOGP].sum(-1)


def test_per_unit_and_joint_ratios_give_the_same_gradient_inside_the_clip():
    per_unit, joint = _learner("per_unit"), _learner("joint")
    joint.module[MODULE].load_state_dict(per_unit.module[MODULE].state_dict())
    batch = _batch(per_unit.module[MODULE].unwrapped())
    ours, theirs = _parameter_grads(per_unit, batch), _parameter_grads(joint, batch)
    assert len(ours) == len(theirs) > 0 and any(g.abs().sum() > 0 for g in ours)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("raised", [1.0, 1.15, 1.5])
def test_the_joint_ratio_is_rllibs_ppo_loss(raised):
    from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner

    learner = _learner("joint")
    module = learner.module[MODULE].unwrapped()
    batch = _batch(module)
    batch[Postprocessing.ADVANTAGES] = torch.tensor([1.0, -0.5, 2.0, -1.5, 0.3, -0.2])
    batch[Postprocessing.VALUE_TARGETS] = torch.tensor([0.5, 5.0, -1.0, 0.0, 2.0, -4.0])  # 5: value clip
    for unit in (0, 1):  # inside the clip, and past it from either side of the advantage's sign
        _raise_unit_ratio(module, batch, unit, raised)
    config = learner.config.get_config_for_module(MODULE)
    losses = []
    rllib_loss = partial(PPOTorchLearner.compute_loss_for_module, learner)
    def every_unit(fwd: dict) -> dict:  # RLlib's loss reads every unit slot's logits
        logits, _, _ = module.policy(batch[Columns.OBS], batch[Columns.ACTIONS])
        return {Columns.ACTION_DIST_INPUTS: logits.flatten(-2), Columns.EMBEDDINGS: fwd[Columns.EMBEDDINGS]}

    for loss_fn, fwd_out in ((learner.compute_loss_for_module, lambda fwd: fwd), (rllib_loss, every_unit)):
        module.zero_grad()
        fwd = fwd_out(module.forward_train(batch))
        loss = loss_fn(module_id=MODULE, config=config, batch=batch, fwd_out=fwd)
        loss.backward()
        losses.append((loss.detach(), [p.grad.clone() for p in module.parameters() if p.grad is not None]))
    (ours, our_grads), (rllib, rllib_grads) = losses
    torch.testing.assert_close(ours, rllib)
    assert len(our_grads) == len(rllib_grads) > 0
    for a, b in zip(our_grads, rllib_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_a_unit_past_the_clip_stops_moving_and_only_that_unit():
    # Unit 0's ratio is 1.15 and each other unit's is 1: per unit, nothing is clipped (every unit learns);
    # jointly too (1.15 < 1.2). At 1.15 on each of units 0 and 1, the joint ratio 1.32 is past the clip
    # and no unit learns, while per unit all three still do. At 1.5 on unit 0 alone, per unit stops only
    # unit 0.
    learner = _learner("per_unit")
    joint = _learner("joint")
    joint.module[MODULE].load_state_dict(learner.module[MODULE].state_dict())
    module = learner.module[MODULE].unwrapped()
    batch = _batch(module)
    for unit in (0, 1):
        _raise_unit_ratio(module, batch, unit, 1.15)
    per_unit_grads, joint_grads = _unit_grads(learner, batch), _unit_grads(joint, batch)
    assert torch.all(joint_grads == 0)
    assert torch.all(per_unit_grads > 0)  # every unit of every sample learns

    batch = _batch(module)
    _raise_unit_ratio(module, batch, 0, 1.5)
    grads = _unit_grads(learner, batch)
    assert torch.all(grads[:, 0] == 0) and torch.all(grads[:, 1:] > 0)


def test_the_ratio_mode_is_checked():
    with pytest.raises(Exception, match="ppo.ratio"):
        load_config("configs/3m.yaml", ["ppo.ratio=team"])


@pytest.mark.parametrize("ratio", ["per_unit", "joint"])
def test_the_approximate_kl_is_logged_without_the_penalty(ratio):
    from agent.rllib.learner import APPROX_KL_KEY

    learner = _learner(ratio)
    module = learner.module[MODULE].unwrapped()
    batch = _batch(module)
    config = learner.config.get_config_for_module(MODULE)
    assert not config.use_kl_loss
    for raised in (1.0, 1.5):  # the current policy takes unit 0's action 1.5 times as often as the acting one
        _raise_unit_ratio(module, batch, 0, raised)
        with torch.no_grad():
            learner.compute_loss_for_module(module_id=MODULE, config=config, batch=batch,
                                            fwd_out=module.forward_train(batch))
        expected = raised - 1 - np.log(raised)  # k3 at a joint ratio of `raised`: 0 when nothing moved
        assert learner.metrics.peek((MODULE, APPROX_KL_KEY)) == pytest.approx(expected, abs=1e-5)
    assert (MODULE, "mean_kl_loss") not in learner.metrics
