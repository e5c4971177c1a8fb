"""The unoptimised computation of the policy: the baseline arm of `bench train` and `bench learner`, and
the reference the optimised path is tested against (tests/test_policy.py, tests/test_rl_module.py).

The same network, the same distributions and the same gradients as agent/model/policy.py and
agent/rllib/module.py, computed the straightforward way the optimised path avoids:
- the encoder runs over all N entity slots, padding included;
- every unit slot runs through the heads, also a dead slot whose only legal action is no-op, and each
  verb's target head is its own matmul;
- the action distribution is torch.distributions.Categorical per unit (its logsumexp and exp take the
  CPU's slow path on the FLOAT_MIN of masked logits), entropy and KL over every unit;
- acting keeps autograd on, and RLlib switches the module between train and eval mode around every
  forward (each switch walks every submodule);
- the learner's Adam steps parameter by parameter (RLlib's default optimizer).
Learning is the same; only the time differs. Sampling uses the same one uniform per unit slot as
EntityPolicy.decode, so both paths draw the same actions from the same generator.
"""

from __future__ import annotations

import math

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.distribution import Distribution
from ray.rllib.core.distribution.torch.torch_distribution import TorchDeterministic

from agent.model.claims import claims_before, first_claims, next_claims
from agent.model.deciding import FLOAT_MIN
from agent.model.memory import flatten_steps
from agent.model.policy import EntityPolicy, UnitHeads, _steps, choose
from agent.model.unit_terms import per_head_entropy, units_with_a_choice
from agent.rllib.learner import EntityPPOLearner
from agent.rllib.module import UNIT_LOGP, EntityPolicyModule, UnitCategorical
from envs.action_space import Target, Verb


class CategoricalPerUnit(Distribution):
    """torch.distributions.Categorical over [..., U, A], summed over the units (the loss terms'
    options as UnitCategorical's)."""

    def __init__(self, logits: torch.Tensor, num_units: int, *, entropy_bounds=None,
                 kl_per_unit: bool = False) -> None:
        super().__init__()
        self.logits = logits.reshape(*logits.shape[:-1], num_units, -1)
        self._dist = torch.distributions.Categorical(logits=self.logits)
        self.entropy_bounds, self.kl_per_unit = entropy_bounds, kl_per_unit

    @classmethod
    def from_logits(cls, logits: torch.Tensor, num_units: int = 1, **kwargs) -> CategoricalPerUnit:
        return cls(logits, num_units, **kwargs)

    @staticmethod
    def required_input_dim(space, **kwargs) -> int:
        return UnitCategorical.required_input_dim(space)

    def sample(self, *, sample_shape=()) -> torch.Tensor:
        return self._dist.sample(sample_shape)

    def rsample(self, *, sample_shape=()):
        raise NotImplementedError("a categorical has no reparameterised sample")

    def unit_logp(self, value: torch.Tensor) -> torch.Tensor:
        return self._dist.log_prob(value.long())

    def logp(self, value: torch.Tensor) -> torch.Tensor:
        return self.unit_logp(value).sum(-1)

    def entropy(self) -> torch.Tensor:
        if self.entropy_bounds is not None:
            return per_head_entropy(self.logits, self.entropy_bounds).sum(-1)
        return self._dist.entropy().sum(-1)

    def kl(self, other: CategoricalPerUnit) -> torch.Tensor:
        kl = torch.distributions.kl_divergence(self._dist, other._dist).sum(-1)
        return kl / units_with_a_choice(self.logits) if self.kl_per_unit else kl

    def to_deterministic(self) -> TorchDeterministic:
        return TorchDeterministic(loc=self.logits.argmax(dim=-1))


def encode_every_slot(policy: EntityPolicy, obs: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EntityPolicy.encode with the encoder over every entity slot."""
    mask = obs["entity_mask"].bool()
    feats = obs["entities"].float() * mask.unsqueeze(-1)
    embedded = policy.type_embed(obs["unit_type"].long() * mask) + policy.feature_mlp(feats)
    per_entity, pooled = policy.encoder(embedded, mask)
    return embedded, per_entity, torch.cat([pooled, obs["scalars"].float()], dim=-1)


def every_slot_features(policy: EntityPolicy, obs: dict, state=None) -> torch.Tensor:
    """EntityPolicy.features with the encoder over every entity slot."""
    obs, lead = flatten_steps(obs)
    return _steps(policy.remember(encode_every_slot(policy, obs)[2], lead, state)[0], lead)


def _every_slot_heads(policy: EntityPolicy, obs: dict, state, lead) -> tuple[UnitHeads, torch.Tensor]:
    """EntityPolicy.heads over every slot, and the queries [B, U, D] of every unit slot."""
    heads = policy.heads(obs, state, lead, encoded=encode_every_slot(policy, obs))
    num_units = heads.action_mask.shape[1]
    context = heads.context.unsqueeze(1).expand(-1, num_units, -1)
    unit_in = torch.cat([heads.per_entity[:, :num_units], heads.embedded[:, :num_units], context], dim=-1)
    return heads, policy.unit_mlp(unit_in)


def _slot_logits(policy: EntityPolicy, heads: UnitHeads, queries: torch.Tensor, units: slice,
                 claims: torch.Tensor | None) -> torch.Tensor:
    """Masked joint logits [B, u, A] of the unit slots `units`, one target head after another."""
    queries, action_mask = queries[:, units], heads.action_mask[:, units]
    layout = heads.layout
    ordered = None if heads.ordered is None else heads.ordered[:, units]
    verb_logits = policy.keep_orders(policy.verb_head(queries), ordered)
    bias = {Target.ENTITY: 0.0, Target.POINT: 0.0}
    if claims is not None:
        gain = policy.claim_gain(queries)
        bias[Target.ENTITY] = gain[..., :1] * claims[..., : layout.max_entities]
        bias[Target.POINT] = gain[..., 1:] * claims[..., layout.max_entities :]
    if heads.distances is not None:
        bias[Target.ENTITY] += policy.distance_gain(queries) * heads.distances[:, units]
    if heads.unseen is not None:
        bias[Target.POINT] = bias[Target.POINT] + policy.unseen_gain(queries) * heads.unseen.unsqueeze(1)
    parts = []
    for seg in layout.segments:
        verb_logit = verb_logits[..., int(seg.verb) : int(seg.verb) + 1]
        legal = action_mask[..., seg.start : seg.start + seg.size]
        if seg.target is Target.NONE:
            parts.append(verb_logit)
            continue
        head = policy.target_heads[seg.verb.name]
        if seg.target is Target.ENTITY:
            target_logits = torch.einsum("buk,bnk->bun", head(queries), heads.keys)
            target_logits = target_logits / math.sqrt(policy.key_dim)
            legal = legal & heads.entity_mask.unsqueeze(1)
        else:
            target_logits = head(queries)
        target_logits = torch.where(legal, target_logits + bias[seg.target], FLOAT_MIN)
        parts.append(verb_logit + torch.log_softmax(target_logits, dim=-1))
    return torch.where(action_mask, torch.cat(parts, dim=-1), FLOAT_MIN)


def every_slot_forward(policy: EntityPolicy, obs: dict, actions: torch.Tensor, state=None):
    """EntityPolicy.forward computed over every slot: logits, value features, the memory's state."""
    obs, lead = flatten_steps(obs)
    heads, queries = _every_slot_heads(policy, obs, state, lead)
    claims = None
    if policy.claim_gain is not None:
        table = policy.claim_table(heads.layout.max_entities, queries.device)
        actions = torch.as_tensor(actions).long().reshape(-1, queries.shape[1])
        noop = actions == heads.layout.segment(Verb.NO_OP).start
        claims = claims_before(table[actions], noop, heads.standing)
    logits = _slot_logits(policy, heads, queries, slice(None), claims)
    return _steps(logits, lead), _steps(heads.value_in, lead), heads.state


def every_slot_decode(policy: EntityPolicy, obs: dict, *, sample: bool, generator=None, state=None):
    """EntityPolicy.decode computed over every slot, slot after slot: the same actions (the same uniform
    per unit slot), logits, value features and state."""
    obs, lead = flatten_steps(obs)
    heads, queries = _every_slot_heads(policy, obs, state, lead)
    layout = heads.layout
    uniforms = torch.rand(heads.action_mask.shape[:2], generator=generator) if sample else None

    def draw(logits: torch.Tensor, units: slice) -> torch.Tensor:
        return choose(logits, layout, None if uniforms is None else uniforms[:, units])

    if policy.claim_gain is None:
        logits = _slot_logits(policy, heads, queries, slice(None), None)
        actions = draw(logits, slice(None))
    else:
        table = policy.claim_table(layout.max_entities, queries.device)
        claims = first_claims(heads.standing, queries.shape[0], table.shape[1], table)
        noop_action = layout.segment(Verb.NO_OP).start
        actions, all_logits = [], []
        for unit in range(queries.shape[1]):
            unit_logits = _slot_logits(policy, heads, queries, slice(unit, unit + 1), claims)
            action = draw(unit_logits, slice(unit, unit + 1))
            claims = next_claims(claims, unit, table[action], action == noop_action, heads.standing)
            actions.append(action)
            all_logits.append(unit_logits)
        actions, logits = torch.cat(actions, dim=1), torch.cat(all_logits, dim=1)
    return _steps(actions, lead), _steps(logits, lead), _steps(heads.value_in, lead), heads.state


class ReferenceModule(EntityPolicyModule):
    """EntityPolicyModule computed the unoptimised way (see the module docstring)."""

    def setup(self) -> None:
        super().setup()
        self.action_dist_cls = CategoricalPerUnit.get_partial_dist_cls(**self.dist_options)
        torch.nn.Module.train(self, True)

    def train(self, mode: bool = True) -> ReferenceModule:
        return torch.nn.Module.train(self, mode)

    def _decode(self, batch: dict, sample: bool) -> dict:
        actions, logits, _, state = every_slot_decode(self.policy, batch[Columns.OBS], sample=sample,
                                                      state=self._state_in(batch))
        flat = logits.flatten(-2)
        unit_logp = CategoricalPerUnit(flat, logits.shape[-2]).unit_logp(actions)
        out = {Columns.ACTIONS: actions, Columns.ACTION_LOGP: unit_logp.sum(-1), UNIT_LOGP: unit_logp,
               Columns.ACTION_DIST_INPUTS: flat}
        if state is not None:
            out[Columns.STATE_OUT] = {"h": state[0], "c": state[1]}
        return out

    def _forward_train(self, batch: dict, **kwargs) -> dict:
        logits, value_in, _ = every_slot_forward(self.policy, batch[Columns.OBS], batch[Columns.ACTIONS],
                                                 state=self._state_in(batch))
        return {Columns.ACTION_DIST_INPUTS: logits.flatten(-2), Columns.EMBEDDINGS: value_in}

    def train_distribution(self, fwd_out: dict) -> CategoricalPerUnit:
        return self.get_train_action_dist_cls().from_logits(fwd_out[Columns.ACTION_DIST_INPUTS])

    def compute_values(self, batch: dict, embeddings=None) -> torch.Tensor:
        if embeddings is None:
            embeddings = every_slot_features(self.policy, batch[Columns.OBS], self._state_in(batch))
        return self.policy.value(embeddings)


class ReferenceLearner(EntityPPOLearner):
    """EntityPPOLearner with RLlib's default optimizer: torch.optim.Adam stepping parameter by parameter."""

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        super(EntityPPOLearner, self).configure_optimizers_for_module(module_id, config)
