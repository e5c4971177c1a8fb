"""Entropy and KL of the per-unit joint (verb, target) categoricals, as PPO's loss terms see them.

`joint` is the entropy of each unit's flat categorical over the A joint choices: the verb's entropy plus
the target's entropy given the verb, in nats, so a verb with many targets carries more of it. A point
verb over 64 cells offers about 4.2 nats, no-op none, and a bonus on the joint pushes units toward moving
to random cells. `per_head` splits it into the decisions the policy makes (verb, then target given the
verb) and divides each by the log of its number of legal choices: verb entropy / log(legal verbs) plus the
expected target entropy given the verb, each target head's divided by log(its legal targets). Every head
then counts from 0 (deterministic) to 1 (uniform over what is legal) whatever its size; a head with one
legal choice counts 0.

`kl_per_unit` averages the KL over the units that have a choice instead of summing over units: the same
kl_target then means the same step size with 1 unit or 20.
"""

from __future__ import annotations

import torch

from agent.model.deciding import LOG_P_FLOOR
from envs.action_space import ActionLayout

# Logits at or below this are masked (agent/model/policy.py puts illegal choices at float32's minimum).
MASKED = torch.finfo(torch.float32).min / 2
ENTROPY_MODES = ("joint", "per_head")
KL_MODES = ("none", "joint", "per_unit")  # not "off": YAML reads it as false
RATIO_MODES = ("per_unit", "joint")  # PPO's clipped ratio: per own unit, or over the units' joint action


def segment_bounds(layout: ActionLayout) -> tuple[tuple[int, int], ...]:
    """(start, stop) of each verb's contiguous run of joint actions."""
    return tuple((seg.start, seg.start + seg.size) for seg in layout.segments)


def _inverse_log(count: torch.Tensor) -> torch.Tensor:
    """1 / log(count), and 0 where count <= 1 (a head with one choice has nothing to explore)."""
    return torch.where(count > 1, 1.0 / torch.log(count.clamp(min=2)), 0.0)


def per_head_entropy(logits: torch.Tensor, bounds: tuple[tuple[int, int], ...]) -> torch.Tensor:
    """Normalised verb entropy + expected normalised target entropy per unit: logits [..., A] (masked at
    FLOAT_MIN), bounds from segment_bounds -> [...]."""
    log_p = torch.log_softmax(logits, dim=-1)
    p = log_p.exp()
    legal = logits > MASKED
    verb_entropy, legal_verbs, target_entropy = 0.0, 0, 0.0
    for start, stop in bounds:
        log_p_verb = torch.logsumexp(log_p[..., start:stop], dim=-1, keepdim=True)  # finite when all masked
        p_verb = log_p_verb.exp().squeeze(-1)
        # A masked verb or target has p 0 and log p near FLOAT_MIN: clamped (here and below), so that the
        # gradient -log p, times 1 / log(2) > 1 for a head of two legal choices, cannot overflow to inf
        # (and inf x 0 to NaN).
        verb_entropy = verb_entropy - p_verb * log_p_verb.squeeze(-1).clamp(min=LOG_P_FLOOR)
        legal_here = legal[..., start:stop].sum(-1)
        legal_verbs = legal_verbs + (legal_here > 0).to(logits.dtype)
        # p(verb) H(target | verb) = -sum over the verb's actions of p(a) (log p(a) - log p(verb))
        given_verb = (log_p[..., start:stop] - log_p_verb).clamp(min=LOG_P_FLOOR)
        weighted = -(p[..., start:stop] * given_verb).sum(-1)
        target_entropy = target_entropy + weighted * _inverse_log(legal_here.to(logits.dtype))
    return verb_entropy * _inverse_log(legal_verbs) + target_entropy


def joint_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the flat categorical, per unit: [..., A] -> [...]."""
    log_p = torch.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(-1)


def units_with_a_choice(logits: torch.Tensor) -> torch.Tensor:
    """[..., U, A] -> [...]: how many units have more than one legal choice (at least 1)."""
    return ((logits > MASKED).sum(-1) > 1).sum(-1).clamp(min=1)
