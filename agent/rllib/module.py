"""Thin RLlib adapter: EntityPolicy as a TorchRLModule with a value function (RLlib's new API stack,
https://docs.ray.io/en/latest/rllib/rl-modules.html).

The action distribution is one categorical per own unit over the A joint choices (with ordered decoding,
unit i's is conditioned on the choices of units 0..i-1: EntityPolicy.decode). It is evaluated as a
single batched torch Categorical of shape [B, U] (RLlib's TorchMultiCategorical builds U separate ones,
which costs U-fold Python overhead in the learner for the same numbers). Masking happens in
EntityPolicy: illegal logits are FLOAT_MIN, so they are never sampled and carry no gradient.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.distribution import Distribution
from ray.rllib.core.distribution.torch.torch_distribution import TorchDeterministic
from ray.rllib.core.rl_module.apis import ValueFunctionAPI
from ray.rllib.core.rl_module.torch import TorchRLModule

from agent.model.deciding import UnitFactors, choosing
from agent.model.policy import EntityPolicy
from agent.model.unit_terms import MASKED, per_head_entropy, segment_bounds

# Outputs beside RLlib's columns: each unit's log-probability of its action [B, U] (sampling; PPO's
# per-unit ratio reads it), and forward_train's distributions of the units with a choice
# (train_distribution).
UNIT_LOGP = "unit_logp"
UNIT_ROWS, UNIT_FACTORS, UNITS_SHAPE = "unit_rows", "unit_factors", "units_shape"


class UnitCategorical(Distribution):
    """Independent categoricals, one per own unit, over flat logits [..., U * A].

    `entropy_bounds` (agent.model.unit_terms.segment_bounds): the entropy is the per-head normalised one
    (unit_terms.per_head_entropy) instead of the joint's. `kl_per_unit`: the KL is averaged over the units
    with a choice instead of summed over units. Both are sums over units otherwise, as PPO's joint action
    of U units is.

    The same numbers as torch.distributions.Categorical per unit, with less work: only the units with a
    choice are held (a unit with one legal action takes it with log-probability 0, entropy 0 and KL 0;
    most unit slots of a fight whose units have died are such), and everything comes from one
    log_softmax of theirs (masked logits sit at FLOAT_MIN, where exp() and logsumexp() take a slow path
    on the CPU, about 10x a normal input, while the softmax kernels do not). `from_factors` takes those
    units' distributions as the policy computes them for training (EntityPolicy.choosing_forward),
    factored into verb and target: log-probabilities and the joint entropy then come from the factors,
    and the [L, A] joint is laid out only for a per-head entropy or a KL.
    """

    def __init__(self, logits: torch.Tensor | None, num_units: int, *, entropy_bounds=None,
                 kl_per_unit: bool = False, rows: torch.Tensor | None = None,
                 units_shape: tuple[int, ...] | None = None, factors: UnitFactors | None = None) -> None:
        """Either every unit's logits [..., U * A], or with `rows` [L] and `units_shape` (..., U) the
        logits [L, A] (or the `factors`) of the units at those flat indices, every other unit having one
        legal action."""
        super().__init__()
        if rows is None:
            units_shape = (*logits.shape[:-1], num_units)
            logits = logits.reshape(-1, logits.shape[-1] // num_units)
            rows = choosing(logits.detach() > MASKED).nonzero().squeeze(1)
            logits = logits[rows]
        self.rows, self.units_shape, self.factors = rows, tuple(units_shape), factors
        self._logits, self._log_probs = logits, None
        self._verb_logp = None if factors is None else factors.verb_log_probs()
        self.entropy_bounds, self.kl_per_unit = entropy_bounds, kl_per_unit

    @classmethod
    def from_logits(cls, logits: torch.Tensor, num_units: int = 1, **kwargs) -> UnitCategorical:
        return cls(logits, num_units, **kwargs)

    @classmethod
    def from_rows(cls, rows: torch.Tensor, logits: torch.Tensor, units_shape: tuple[int, ...],
                  **kwargs) -> UnitCategorical:
        return cls(logits, units_shape[-1], rows=rows, units_shape=units_shape, **kwargs)

    @classmethod
    def from_factors(cls, rows: torch.Tensor, factors: UnitFactors, units_shape: tuple[int, ...],
                     **kwargs) -> UnitCategorical:
        return cls(None, units_shape[-1], rows=rows, units_shape=units_shape, factors=factors, **kwargs)

    @property
    def logits(self) -> torch.Tensor:
        """[L, A] the joint logits of the units with a choice."""
        if self._logits is None:
            self._logits = self.factors.joint()
        return self._logits

    @property
    def log_probs(self) -> torch.Tensor:
        if self._log_probs is None:
            self._log_probs = torch.log_softmax(self.logits, dim=-1)
        return self._log_probs

    @staticmethod
    def required_input_dim(space: gym.Space, **kwargs) -> int:
        return int(np.sum(space.nvec))

    def sample(self, *, sample_shape=()) -> torch.Tensor:
        raise NotImplementedError("the module chooses its units' actions itself (EntityPolicy.decode)")

    def rsample(self, *, sample_shape=()):
        raise NotImplementedError("a categorical has no reparameterised sample")

    def _per_unit(self, per_row: torch.Tensor) -> torch.Tensor:
        """Values [L] of the units with a choice -> [..., U], 0 for every other unit."""
        out = per_row.new_zeros(int(np.prod(self.units_shape)))
        return out.index_copy(0, self.rows, per_row).view(self.units_shape)

    def _per_sample(self, per_row: torch.Tensor) -> torch.Tensor:
        """Values [L] of the units with a choice -> their sum per sample [...]."""
        samples = torch.div(self.rows, self.units_shape[-1], rounding_mode="floor")
        out = per_row.new_zeros(int(np.prod(self.units_shape[:-1])))
        return out.index_add(0, samples, per_row).view(self.units_shape[:-1])

    def unit_logp(self, value: torch.Tensor) -> torch.Tensor:
        """Each unit's log-probability of its action [..., U]."""
        taken = value.long().reshape(-1)[self.rows]
        if self.factors is not None:
            return self._per_unit(self.factors.log_prob(taken, self._verb_logp))
        return self._per_unit(self.log_probs.gather(-1, taken.unsqueeze(-1)).squeeze(-1))

    def logp(self, value: torch.Tensor) -> torch.Tensor:
        return self.unit_logp(value).sum(-1)

    def units_with_a_choice(self) -> torch.Tensor:
        """[...] how many units have a choice, per sample (at least 1)."""
        return self._per_sample(torch.ones_like(self.rows, dtype=self.logits.dtype)).clamp(min=1)

    def entropy(self) -> torch.Tensor:
        if self.entropy_bounds is not None:
            return self._per_sample(per_head_entropy(self.logits, self.entropy_bounds))
        if self.factors is not None:
            return self._per_sample(self.factors.entropy(self._verb_logp))
        # illegal actions: probability 0, finite log: they add 0
        return self._per_sample(-(torch.softmax(self.logits, dim=-1) * self.log_probs).sum(-1))

    def kl(self, other: UnitCategorical) -> torch.Tensor:
        if not torch.equal(self.rows, other.rows):
            raise ValueError("KL between unit distributions whose units with a choice differ")
        gap = self.log_probs - other.log_probs
        kl = self._per_sample((torch.softmax(self.logits, dim=-1) * gap).sum(-1))
        return kl / self.units_with_a_choice() if self.kl_per_unit else kl

    def to_deterministic(self) -> TorchDeterministic:
        raise NotImplementedError("the module chooses its units' actions itself (EntityPolicy.decode)")


class EntityPolicyModule(TorchRLModule, ValueFunctionAPI):
    """RLModule around agent.model.policy.EntityPolicy, built from model_config["policy_kwargs"]: the
    policy's constructor arguments (agent/training/build.py). model_config["entropy"] ("joint" or
    "per_head") and model_config["kl"] ("per_unit" or anything else) choose the loss terms of
    UnitCategorical. RLlib adds keys of its own to model_config."""

    def setup(self) -> None:
        self.policy = EntityPolicy(**self.model_config["policy_kwargs"])
        num_units = len(self.action_space.nvec)
        terms = {"kl_per_unit": self.model_config.get("kl") == "per_unit"}
        if self.model_config.get("entropy") == "per_head":
            num_entities = self.observation_space["entities"].shape[0]
            terms["entropy_bounds"] = segment_bounds(self.policy.layout(num_entities))
        self.dist_options = {"num_units": num_units, **terms}
        self.action_dist_cls = UnitCategorical.get_partial_dist_cls(**self.dist_options)
        # Acting modules stay in eval mode and the learner's in train mode: RLlib sets the mode before
        # every forward (and restores it after acting), and each switch walks every submodule.
        self.eval()

    def train(self, mode: bool = True) -> EntityPolicyModule:
        if mode == self.training and mode == self.policy.training:
            return self  # already there: skip the walk over every submodule
        return super().train(mode)

    def get_initial_state(self) -> dict:
        """The memory's state at an episode's start ({} without memory: RLlib then treats the module as
        stateless). RLlib keeps each game's state between steps, restarts it with every episode, and
        feeds the learner sequences of up to model_config["max_seq_len"] steps from their first state."""
        if self.policy.core is None:
            return {}
        h, c = self.policy.core.initial_state(1)
        return {"h": h[0].numpy(), "c": c[0].numpy()}

    @staticmethod
    def _state_in(batch: dict):
        state = batch.get(Columns.STATE_IN)
        return None if not state else (state["h"], state["c"])

    @torch.no_grad()
    def _decode(self, batch: dict, sample: bool) -> dict:
        # The units are decoded one after another (EntityPolicy.decode), so the module picks the actions
        # itself; RLlib's GetActions connector passes actions and their log-probability through. Acting
        # needs no gradient (RLlib's own _forward_exploration runs under no_grad too).
        actions, logits, value_in, state = self.policy.decode(batch[Columns.OBS], sample=sample,
                                                              state=self._state_in(batch))
        flat = logits.flatten(-2)
        unit_logp = UnitCategorical(flat, logits.shape[-2]).unit_logp(actions)
        out = {Columns.ACTIONS: actions, Columns.ACTION_LOGP: unit_logp.sum(-1), UNIT_LOGP: unit_logp,
               Columns.ACTION_DIST_INPUTS: flat}
        if state is not None:
            out[Columns.STATE_OUT] = {"h": state[0], "c": state[1]}
        elif sample:  # training samples: keep the values for GAE (compute_values)
            out[Columns.VF_PREDS] = self.policy.value(value_in)
        return out

    def _forward(self, batch: dict, **kwargs) -> dict:
        return self._decode(batch, sample=False)

    def _forward_exploration(self, batch: dict, **kwargs) -> dict:
        return self._decode(batch, sample=True)

    def _forward_train(self, batch: dict, **kwargs) -> dict:
        # The distributions of the actions taken, each unit conditioned on the actions of the units before
        # it, for the units with a choice only (train_distribution reads them).
        chosen = self.policy.choosing_forward(batch[Columns.OBS], batch[Columns.ACTIONS],
                                              state=self._state_in(batch))
        # The value features ride along so that compute_values does not run the encoder twice.
        return {UNIT_ROWS: chosen.rows, UNIT_FACTORS: chosen.factors, UNITS_SHAPE: chosen.units_shape,
                Columns.EMBEDDINGS: chosen.value_in}

    def train_distribution(self, fwd_out: dict) -> UnitCategorical:
        """The units' action distribution of a `forward_train` output, with the loss terms' options."""
        return UnitCategorical.from_factors(fwd_out[UNIT_ROWS], fwd_out[UNIT_FACTORS], fwd_out[UNITS_SHAPE],
                                         **{k: v for k, v in self.dist_options.items() if k != "num_units"})

    def compute_values(self, batch: dict, embeddings=None) -> torch.Tensor:
        if embeddings is None and Columns.VF_PREDS in batch and Columns.LOSS_MASK in batch:
            return self._sampled_values(batch)
        if embeddings is None:
            embeddings = self.policy.features(batch[Columns.OBS], state=self._state_in(batch))
        return self.policy.value(embeddings)

    def _sampled_values(self, batch: dict) -> torch.Tensor:
        """The values of a train batch for GAE: those the env runner computed while acting (PPO samples
        with the weights it then learns from, so they are the values a forward pass would give now),
        and a forward pass only for the rows RLlib appended to bootstrap from (LOSS_MASK False: each
        chunk's final observation, never acted on, carrying a copy of the step before's value)."""
        values = batch[Columns.VF_PREDS].clone()
        rows = (~batch[Columns.LOSS_MASK].bool()).nonzero().squeeze(1)
        obs = {key: column[rows] for key, column in batch[Columns.OBS].items()}
        with torch.no_grad():
            values[rows] = self.policy.value(self.policy.features(obs)).to(values.dtype)
        return values
