"""The PPO learner: RLlib's PPOTorchLearner, with value targets in the units of the policy's return scale,
the clipped probability ratio taken per own unit, and Adam stepping every parameter in one fused kernel.

`ScaledGAE` replaces RLlib's GAE connector piece: it divides the batch's rewards by the policy's current
return scale (agent/model/return_scale.py) before the advantages and value targets are computed, then
updates the scale from the batch's value targets and re-expresses the targets in the new unit (the value
head is rescaled to match, so its raw predictions do not change). Everything after it, RLlib's PPO loss
and its value clip included, sees targets of order 1 on every map. Episode returns and scores are the
env runners' and never pass through here.

The loss is RLlib's PPO loss, with one choice added. `ppo.ratio: per_unit` takes PPO's clipped surrogate
per own unit and sums it over the units (as MAPPO: Yu et al. 2022, "The Surprising Effectiveness of PPO
in Cooperative Multi-Agent Games", each agent's ratio against the shared advantage). Over the joint
action of U units, one clip of 0.2 bounds the sum of the U log-ratios, so each unit may move about 1/U as
far per update as a lone unit would; per unit, each moves as far as one agent. Where no clip is active,
both give the same gradient. `joint` is RLlib's own loss (tests/test_unit_ratio.py checks it against
PPOTorchLearner's).
"""

from __future__ import annotations

import torch
from ray.rllib.algorithms.ppo.ppo import (
    LEARNER_RESULTS_KL_KEY,
    LEARNER_RESULTS_VF_EXPLAINED_VAR_KEY,
    LEARNER_RESULTS_VF_LOSS_UNCLIPPED_KEY,
)
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.learner import GeneralAdvantageEstimation
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.learner import ENTROPY_KEY, POLICY_LOSS_KEY, VF_LOSS_KEY
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.utils.torch_utils import explained_variance

from agent.rllib.module import UNIT_LOGP

RETURN_SCALE_KEY = "return_scale"  # learner metric: the scale after this iteration's update
APPROX_KL_KEY = "approx_kl"  # learner metric: how far the update moved the policy from the one that acted
KL_COEFF_STATE = "curr_kl_coeffs"  # learner state: RLlib's adaptive KL coefficients, per module


def _mean_square(values: torch.Tensor, mask: torch.Tensor | None) -> float:
    """Mean of values**2 over the real timesteps (mask True), summed over every learner of a DDP group."""
    values = values.double()
    if mask is not None:
        values = values[mask.bool()]
    totals = torch.stack([values.square().sum(), values.new_tensor(float(values.numel()))])
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(totals)  # every learner folds in the same statistic
    return float(totals[0] / totals[1].clamp(min=1.0))


class ScaledGAE(GeneralAdvantageEstimation):
    """RLlib's GAE on rewards / return scale, then the return scale updated from the value targets.

    Advantages are standardised by RLlib's GAE anyway; the value targets leave in units of the new scale.
    """

    def __call__(self, *, rl_module, episodes, batch, metrics=None, **kwargs):
        old = {}
        for module_id, module_batch in batch.items():
            old[module_id] = float(rl_module[module_id].unwrapped().policy.return_scale.scale)
            module_batch[Columns.REWARDS] = module_batch[Columns.REWARDS] / old[module_id]
        batch = super().__call__(rl_module=rl_module, episodes=episodes, batch=batch, metrics=metrics,
                                 **kwargs)
        for module_id, module_batch in batch.items():
            policy = rl_module[module_id].unwrapped().policy
            targets = module_batch[Postprocessing.VALUE_TARGETS] * old[module_id]  # raw returns
            mean_square = _mean_square(targets, module_batch.get(Columns.LOSS_MASK))
            _, new = policy.return_scale.update(mean_square, policy.value_head[-1])
            module_batch[Postprocessing.VALUE_TARGETS] = (targets / new).to(targets.dtype)
            if metrics is not None:
                metrics.log_value((module_id, RETURN_SCALE_KEY), new, window=1)
        return batch


class EntityPPOLearner(PPOTorchLearner):
    """PPOTorchLearner with ScaledGAE in place of RLlib's GAE piece (unless the config's
    learner_config_dict sets "return_scaling" false), the clipped ratio per unit (learner_config_dict
    "ratio": "per_unit") or over the joint action ("joint"), fused Adam, and its adaptive KL coefficients
    saved with its state (RLlib's Learner.get_state leaves them out, so a resumed run would restart the
    coefficient from `kl_coeff`)."""

    def build(self) -> None:
        super().build()
        if not self.config.learner_config_dict.get("return_scaling", True):
            return  # raw rewards; the policy's return scale stays 1
        pieces = self._learner_connector.connectors if self._learner_connector is not None else []
        for i, piece in enumerate(pieces):
            if type(piece) is GeneralAdvantageEstimation:
                pieces[i] = ScaledGAE(gamma=piece.gamma, lambda_=piece.lambda_)

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        """RLlib's PPO loss (PPOTorchLearner's terms, metrics and masking), with the clipped ratio taken
        per own unit, or over the units' joint action as RLlib does (learner_config_dict "ratio")."""
        module = self.module[module_id].unwrapped()
        mask = batch.get(Columns.LOSS_MASK)  # memory: padded steps of a sequence

        def mean(values: torch.Tensor) -> torch.Tensor:
            return values.mean() if mask is None else values[mask].sum() / mask.sum()

        current = module.train_distribution(fwd_out)
        log_ratio = current.unit_logp(batch[Columns.ACTIONS]) - batch[UNIT_LOGP]  # [..., U]
        joint_log_ratio = log_ratio.sum(-1).detach()
        if self.config.learner_config_dict.get("ratio", "joint") != "per_unit":
            log_ratio = log_ratio.sum(-1, keepdim=True)  # the joint action's: one ratio per sample
        ratio = torch.exp(log_ratio)
        advantages = batch[Postprocessing.ADVANTAGES].unsqueeze(-1)
        clipped = torch.clamp(ratio, 1 - config.clip_param, 1 + config.clip_param)
        surrogate = torch.min(advantages * ratio, advantages * clipped).sum(-1)
        entropy = current.entropy()
        values = module.compute_values(batch, embeddings=fwd_out.get(Columns.EMBEDDINGS))
        value_error = torch.square(values - batch[Postprocessing.VALUE_TARGETS])
        value_loss = torch.clamp(value_error, 0, config.vf_clip_param)
        entropy_coeff = self.entropy_coeff_schedulers_per_module[module_id].get_current_value()
        total = mean(-surrogate + config.vf_loss_coeff * value_loss - entropy_coeff * entropy)
        kl = torch.zeros((), device=total.device)
        if config.use_kl_loss:
            behaviour_dist = module.get_exploration_action_dist_cls()
            behaviour = behaviour_dist.from_logits(batch[Columns.ACTION_DIST_INPUTS])
            kl = mean(behaviour.kl(current))
            total = total + self.curr_kl_coeffs_per_module[module_id] * kl
        metrics = {
            POLICY_LOSS_KEY: -mean(surrogate), VF_LOSS_KEY: mean(value_loss),
            LEARNER_RESULTS_VF_LOSS_UNCLIPPED_KEY: mean(value_error),
            LEARNER_RESULTS_VF_EXPLAINED_VAR_KEY: explained_variance(batch[Postprocessing.VALUE_TARGETS],
                                                                     values),
            ENTROPY_KEY: mean(entropy),
            # KL(acting policy || current) of the units' joint action, estimated from the sampled actions
            # alone, never negative (Schulman 2020, "Approximating KL Divergence", k3): logged with or
            # without the KL penalty, so step sizes can be compared across runs
            APPROX_KL_KEY: mean(torch.expm1(joint_log_ratio) - joint_log_ratio),
        }
        if config.use_kl_loss:  # the penalty's own, exact KL
            metrics[LEARNER_RESULTS_KL_KEY] = kl
        self.metrics.log_dict(metrics, key=module_id, window=1)
        return total

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        # torch's fused Adam: the same update rule as RLlib's default Adam, one kernel for all ~100
        # parameter tensors instead of about ten small ops per tensor.
        params = self.get_parameters(self._module[module_id])
        self.register_optimizer(module_id=module_id, optimizer=torch.optim.Adam(params, fused=True),
                                params=params, lr_or_lr_schedule=config.lr)

    def get_state(self, *args, **kwargs):
        state = super().get_state(*args, **kwargs)
        state[KL_COEFF_STATE] = {mid: float(coeff) for mid, coeff in self.curr_kl_coeffs_per_module.items()}
        return state

    def set_state(self, state) -> None:
        super().set_state(state)
        for module_id, value in state.get(KL_COEFF_STATE, {}).items():
            self.curr_kl_coeffs_per_module[module_id].data.fill_(value)
