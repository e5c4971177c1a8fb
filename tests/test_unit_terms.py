"""PPO's entropy and KL terms over the units' joint (verb, target) choices: exact numbers."""

from __future__ import annotations

import math

import pytest
import torch

from agent.model.policy import FLOAT_MIN
from agent.model.unit_terms import joint_entropy, per_head_entropy, segment_bounds, units_with_a_choice
from envs.action_space import ActionLayout, Verb

LAYOUT = ActionLayout(max_entities=2, grid_size=1)  # no-op, stop, move e0 e1, attack e0 e1, move, attack


def _logits(probs: dict[int, float]) -> torch.Tensor:
    """One unit's logits: log p at the given actions, FLOAT_MIN (illegal) elsewhere."""
    out = torch.full((LAYOUT.num_actions,), FLOAT_MIN)
    for action, p in probs.items():
        out[action] = math.log(p)
    return out


UNIT = _logits({LAYOUT.encode(Verb.NO_OP): 0.4, LAYOUT.encode(Verb.MOVE_ENTITY, 0): 0.15,
                LAYOUT.encode(Verb.MOVE_ENTITY, 1): 0.15, LAYOUT.encode(Verb.ATTACK_ENTITY, 0): 0.2,
                LAYOUT.encode(Verb.MOVE_POINT): 0.1})


def test_per_head_entropy_normalises_each_head_by_its_legal_choices():
    verbs = [0.4, 0.3, 0.2, 0.1]  # no-op, move to entity, attack entity, move to the one cell
    verb_entropy = -sum(p * math.log(p) for p in verbs)
    # verb head: 4 legal verbs; move-to-entity: 2 equally likely targets (1 after dividing by log 2);
    # attack and move-to-cell have one legal target each (0)
    expected = verb_entropy / math.log(4) + 0.3 * 1.0
    got = per_head_entropy(UNIT, segment_bounds(LAYOUT))
    assert float(got) == pytest.approx(expected, abs=1e-5)  # 1.2233
    assert float(joint_entropy(UNIT)) == pytest.approx(verb_entropy + 0.3 * math.log(2), abs=1e-5)


def test_a_unit_with_one_legal_choice_has_no_entropy_and_no_kl_share():
    forced = _logits({LAYOUT.encode(Verb.NO_OP): 1.0})
    units = torch.stack([UNIT, forced])  # [U = 2, A]
    assert float(per_head_entropy(forced, segment_bounds(LAYOUT))) == 0.0
    assert int(units_with_a_choice(units)) == 1


def test_the_distribution_sums_per_unit_terms_or_averages_the_kl_over_acting_units():
    from agent.rllib.module import UnitCategorical

    forced = _logits({LAYOUT.encode(Verb.NO_OP): 1.0})
    other = _logits({LAYOUT.encode(Verb.NO_OP): 0.1, LAYOUT.encode(Verb.MOVE_ENTITY, 0): 0.3,
                     LAYOUT.encode(Verb.MOVE_ENTITY, 1): 0.3, LAYOUT.encode(Verb.ATTACK_ENTITY, 0): 0.2,
                     LAYOUT.encode(Verb.MOVE_POINT): 0.1})
    old = torch.stack([UNIT, forced, UNIT]).flatten()[None]  # one sample, 3 units
    new = torch.stack([other, forced, UNIT]).flatten()[None]
    kl = 0.4 * math.log(0.4 / 0.1) + 2 * 0.15 * math.log(0.15 / 0.3)  # the other terms are 0
    joint = UnitCategorical(old, 3)
    per_unit = UnitCategorical(old, 3, entropy_bounds=segment_bounds(LAYOUT), kl_per_unit=True)
    assert float(joint.kl(UnitCategorical(new, 3))) == pytest.approx(kl, rel=1e-4)
    assert float(per_unit.kl(UnitCategorical(new, 3))) == pytest.approx(kl / 2, rel=1e-4)  # 2 can choose
    assert float(joint.entropy()) == pytest.approx(2 * float(joint_entropy(UNIT)), abs=1e-5)
    assert float(per_unit.entropy()) == pytest.approx(2 * 1.2233, abs=1e-3)


def test_per_head_entropy_has_finite_gradients_with_two_legal_choices():
    # Two legal verbs, one with two legal targets: 1 / log(2) > 1 scales the masked choices' gradient,
    # which must stay finite.
    logits = torch.full((LAYOUT.num_actions,), torch.finfo(torch.float32).min)
    logits[LAYOUT.encode(Verb.NO_OP)] = 0.0
    logits[LAYOUT.encode(Verb.MOVE_ENTITY, 0)] = 1.0
    logits[LAYOUT.encode(Verb.MOVE_ENTITY, 1)] = -1.0
    logits.requires_grad_(True)
    entropy = per_head_entropy(logits, segment_bounds(LAYOUT))
    entropy.backward()
    assert torch.isfinite(logits.grad).all() and 0 < entropy.item() < 2
    assert logits.grad[LAYOUT.encode(Verb.NO_OP)] != 0
