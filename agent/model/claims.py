"""Claims for ordered decoding: what the other own units will be targeting once this step's orders are in.

Units decide in slot order. When unit i decides, every other unit j has a projected target:
- j decided before i: the target it just picked, or, if it picked no-op (keep the current order), the
  target of its standing order; a stop claims nothing;
- j decides after i: the target of its standing order (what it does if it keeps it).
`claims[i]` counts, per entity slot and per grid cell, the units j != i projected onto it. A unit's
logits depend only on the observation and on the choices of the units before it, so the joint
distribution stays the product of each unit's conditional, as PPO's likelihood ratio needs.

A standing order's target is known for entity orders only, from the observation: the unit's order
offset (its order's target minus its own position, `order_dx`/`order_dy`) added to its offset from the
own units' centroid (`dx_own`/`dy_own`) lands on the centroid offset of the entity it targets. Point
orders and orders whose target is out of sight match no entity and claim nothing.
"""

from __future__ import annotations

import math

import torch

# Offsets are in units of 16 world units (envs/entity_kernels.py OFFSET_SCALE) and computed from the same
# positions, so a standing entity order matches its target to float32 rounding; 1e-3 is 0.016 world units.
MATCH_TOLERANCE = 1e-3


def standing_targets(entities: torch.Tensor, entity_mask: torch.Tensor, num_units: int,
                     columns: tuple[int, int, int, int], num_cells: int) -> torch.Tensor:
    """[B, U, N + G]: one-hot on the entity slot each own unit's standing order targets (zeros for a unit
    without one). `columns`: the entity feature columns dx_own, dy_own, order_dx, order_dy."""
    dx, dy, odx, ody = columns
    centred = entities[..., [dx, dy]].float()  # [B, N, 2] offsets from the own centroid
    order = entities[:, :num_units][..., [odx, ody]].float()  # [B, U, 2]
    has_order = order.abs().sum(-1) > 0
    aim = centred[:, :num_units] + order  # [B, U, 2] the order's target, from the centroid
    gap = torch.cdist(aim, centred, p=math.inf)  # [B, U, N]: the larger of |dx| and |dy|
    gap = torch.where(entity_mask.bool().unsqueeze(1), gap, torch.inf)
    nearest = gap.min(-1)
    hit = has_order & (nearest.values < MATCH_TOLERANCE)
    onehot = torch.nn.functional.one_hot(nearest.indices, entities.shape[1]).float() * hit.unsqueeze(-1)
    return torch.cat([onehot, onehot.new_zeros(*onehot.shape[:2], num_cells)], dim=-1)


def claims_before(picked: torch.Tensor, noop: torch.Tensor, standing: torch.Tensor | None) -> torch.Tensor:
    """Every unit's claims [B, U, N + G] given the actions taken: picked [B, U, N + G] (claim_table rows
    of the actions), noop [B, U] (the action is no-op), standing [B, U, N + G] or None (no standing
    orders known: only this step's picks of the units before count)."""
    if standing is None:
        return picked.cumsum(dim=1) - picked
    decided = picked + standing * noop.unsqueeze(-1).to(picked.dtype)
    before = decided.cumsum(dim=1) - decided
    after = standing.sum(dim=1, keepdim=True) - standing.cumsum(dim=1)
    return before + after


def next_claims(claims: torch.Tensor, unit: int, picked: torch.Tensor, noop: torch.Tensor,
                standing: torch.Tensor | None) -> torch.Tensor:
    """Claims [B, 1, N + G] of unit `unit` + 1 from those of `unit` and its choice (picked [B, 1, N + G],
    noop [B, 1]): add what it projects onto now, drop the next unit's own standing order."""
    if standing is None:
        return claims + picked
    decided = picked + standing[:, unit:unit + 1] * noop.unsqueeze(-1).to(picked.dtype)
    following = standing[:, unit + 1:unit + 2]
    return claims + decided - (following if following.shape[1] else 0.0)


def first_claims(standing: torch.Tensor | None, batch: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """Claims [B, 1, N + G] of unit 0: the standing orders of every other unit."""
    if standing is None:
        return like.new_zeros(batch, 1, width)
    return standing.sum(dim=1, keepdim=True) - standing[:, :1]
