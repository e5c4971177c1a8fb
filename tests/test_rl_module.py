"""The RLlib adapter: what the env runner records is what the learner recomputes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the env ids)
from agent.rllib.module import UNIT_LOGP, EntityPolicyModule
from agent.training.build import policy_kwargs
from agent.training.config import config_from_dict
from tests.test_policy import head_modes


def _module(module_class, env, memory: bool):
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    cfg = config_from_dict({"env": {"map": "DefeatRoaches"},
                            "model": {"width": 16, "key_dim": 8, "encoder": "deepsets", "memory": memory}})
    spec = RLModuleSpec(module_class=module_class, observation_space=env.observation_space,
                        action_space=env.action_space, model_config={"policy_kwargs": policy_kwargs(cfg)})
    torch.manual_seed(0)
    return spec.build()


@pytest.mark.parametrize("memory", [False, True])
@pytest.mark.parametrize("reference", [False, True])
def test_exploration_logp_is_what_training_recomputes_for_every_unit(memory, reference):
    from ray.rllib.core.columns import Columns

    from agent.benchmarks.reference import ReferenceModule

    env = gym.make("perceiver_sc2/DefeatRoaches-v0")  # 9 Marines, decoded one after another
    units = len(env.action_space.nvec)
    module = _module(ReferenceModule if reference else EntityPolicyModule, env, memory)
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
    dist = module.train_distribution(trained)
    assert explored[Columns.ACTIONS].shape == (8, units) and units >= 9
    # PPO's first ratio is 1, unit by unit
    assert torch.allclose(dist.unit_logp(explored[Columns.ACTIONS]), explored[UNIT_LOGP], atol=1e-4)
    assert torch.allclose(dist.logp(explored[Columns.ACTIONS]), explored[Columns.ACTION_LOGP], atol=1e-4)
    sampled = module.get_train_action_dist_cls().from_logits(explored[Columns.ACTION_DIST_INPUTS])
    if reference:  # every unit slot's logits
        assert torch.allclose(dist.logits, sampled.logits, atol=1e-5)
    else:  # the logits of the units with a choice
        assert torch.equal(dist.rows, sampled.rows) and len(dist.rows) < 8 * units
        assert torch.allclose(dist.logits, sampled.logits, atol=1e-5)
    mask = batch[Columns.OBS]["action_mask"].bool()
    assert mask.gather(-1, explored[Columns.ACTIONS].unsqueeze(-1)).all()
    # Greedy: each unit's head modes (verb, then target) given the units before it.
    logits = greedy[Columns.ACTION_DIST_INPUTS].reshape(8, units, -1)
    assert torch.equal(greedy[Columns.ACTIONS], head_modes(torch.softmax(logits, -1), module.policy.layout(
        batch[Columns.OBS]["entities"].shape[1])))


@pytest.mark.parametrize("memory", [False, True])
def test_the_optimised_module_acts_and_learns_as_the_reference_computation(memory):
    """Same weights, same generator: the same actions, log-probabilities, values and loss terms as the
    unoptimised computation (agent/benchmarks/reference.py), with units that have died in the batch."""
    from ray.rllib.core.columns import Columns

    from agent.benchmarks.reference import ReferenceModule

    env = gym.make("perceiver_sc2/DefeatRoaches-v0")
    modules = [_module(cls, env, memory) for cls in (EntityPolicyModule, ReferenceModule)]
    assert all(torch.equal(a, b) for a, b in zip(modules[0].state_dict().values(),
                                                   modules[1].state_dict().values(), strict=True))
    obs, _ = env.reset(seed=1)
    observations = []
    for _ in range(12):
        observations.append(obs)
        obs, *_ = env.step(env.action_space.sample())
    env.close()
    stacked = {key: torch.as_tensor(np.stack([o[key] for o in observations])) for key in observations[0]}
    assert (stacked["action_mask"].sum(-1) == 1).any()  # unit slots with a single choice
    outs, grads = [], []
    for module in modules:
        torch.manual_seed(5)
        explored = module.forward_exploration({Columns.OBS: stacked})
        batch = {Columns.OBS: stacked, Columns.ACTIONS: explored[Columns.ACTIONS]}
        trained = module.forward_train(batch)
        dist = module.train_distribution(trained)
        behaviour = module.get_train_action_dist_cls().from_logits(explored[Columns.ACTION_DIST_INPUTS])
        outs.append({"actions": explored[Columns.ACTIONS], "logp": explored[Columns.ACTION_LOGP],
                     "train_logp": dist.logp(batch[Columns.ACTIONS]), "entropy": dist.entropy(),
                     "kl": behaviour.kl(dist), "values": module.compute_values(batch),
                     "values_from_embeddings": module.compute_values(batch, trained[Columns.EMBEDDINGS])})
        # The policy-gradient and entropy terms' gradients (the optimised module's from the factored
        # distributions, the reference's from every unit slot's joint logits).
        module.zero_grad()
        (dist.logp(batch[Columns.ACTIONS]).sum() + dist.entropy().sum()).backward()
        grads.append([torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in module.parameters()])
    assert torch.equal(outs[0]["actions"], outs[1]["actions"])
    for key in outs[0]:
        assert torch.allclose(outs[0][key].float(), outs[1][key].float(), atol=1e-4), key
    assert any(g.abs().sum() > 0 for g in grads[0])
    for ours, reference in zip(*grads, strict=True):
        torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("options", [{}, {"kl_per_unit": True}, {"per_head": True}])
def test_unit_categorical_gives_torchs_categorical_numbers_on_masked_logits(options):
    from agent.benchmarks.reference import CategoricalPerUnit
    from agent.model.policy import FLOAT_MIN
    from agent.model.unit_terms import segment_bounds
    from agent.rllib.module import UnitCategorical
    from envs.action_space import ActionLayout

    layout = ActionLayout(max_entities=8, grid_size=3)
    if options.pop("per_head", False):
        options["entropy_bounds"] = segment_bounds(layout)
    gen = torch.Generator().manual_seed(0)
    units, choices = 5, layout.num_actions
    logits = [torch.randn(16, units, choices, generator=gen) * 3 for _ in range(2)]
    mask = torch.rand(16, units, choices, generator=gen) < 0.3
    mask[..., 0] = True
    mask[:, 3] = False  # a unit with a single legal action
    mask[:, 3, 7] = True
    logits = [torch.where(mask, x, FLOAT_MIN) for x in logits]
    ours = [UnitCategorical(x.flatten(-2), units, **options) for x in logits]
    torchs = [CategoricalPerUnit(x.flatten(-2), units, **options) for x in logits]
    torch.manual_seed(1)
    actions = torchs[0]._dist.sample()
    assert mask.gather(-1, actions.unsqueeze(-1)).all()
    assert torch.allclose(ours[0].logp(actions), torchs[0].logp(actions), atol=1e-5)
    assert torch.allclose(ours[0].entropy(), torchs[0].entropy(), atol=1e-5)
    kl = torchs[0].kl(torchs[1])
    assert torch.isfinite(kl).all() and torch.allclose(ours[0].kl(ours[1]), kl, atol=1e-4)
    assert (ours[0].kl(ours[0]).abs() < 1e-6).all()
    assert len(ours[0].rows) == 16 * (units - 1)  # unit 3 has a single legal action
    # Without single-choice units.
    free = torch.where(mask, logits[1], 0.0)
    free[:, 3] = torch.randn(16, choices, generator=gen)
    ours_free = UnitCategorical(free.flatten(-2), units, **options)
    torchs_free = CategoricalPerUnit(free.flatten(-2), units, **options)
    assert len(ours_free.rows) == 16 * units
    assert torch.allclose(ours_free.entropy(), torchs_free.entropy(), atol=1e-5)
    # KL is between distributions of the same observations: the same units have a choice.
    with pytest.raises(ValueError, match="units with a choice differ"):
        ours[0].kl(ours_free)
    # Built from the logits of the units with a choice only, as training computes them: the same numbers.
    rows = ours[0].rows
    compact = UnitCategorical.from_rows(rows, logits[0].reshape(-1, choices)[rows], (16, units), **options)
    assert torch.allclose(compact.unit_logp(actions), torchs[0].unit_logp(actions), atol=1e-5)
    assert torch.allclose(compact.entropy(), torchs[0].entropy(), atol=1e-5)
    assert torch.allclose(compact.kl(ours[1]), kl, atol=1e-4)
    # Gradients flow to the units with a choice as through torch's Categorical.
    grads = []
    for cls in (UnitCategorical, CategoricalPerUnit):
        x = logits[0].clone().requires_grad_(True)
        dist = cls(x.flatten(-2), units, **options)
        (dist.entropy().sum() + dist.kl(cls(logits[1].flatten(-2), units, **options)).sum()).backward()
        grads.append(x.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-5)
