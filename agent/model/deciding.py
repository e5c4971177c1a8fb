"""Which units decide, and how the joint logits of the units that do are laid out for the heads.

A unit with exactly one legal action (a dead or absent slot can only no-op) takes it with probability 1:
its logits are 0 there and FLOAT_MIN elsewhere, the same distribution, log-probability (0) and gradient
(none) as if its network had been evaluated. So only the units with a choice run through the heads.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from envs.action_space import ActionLayout, Target

# Same value as ray.rllib.utils.torch_utils.FLOAT_MIN (-3.4e38): the RLlib distributions read it as "never".
FLOAT_MIN = torch.finfo(torch.float32).min


def choosing(action_mask: torch.Tensor) -> torch.Tensor:
    """[B, U, A] bool -> [B, U] bool: the units with other than exactly one legal action (a unit with none
    is decoded as any other, all its logits FLOAT_MIN)."""
    return action_mask.sum(dim=-1) != 1


def with_forced(action_mask: torch.Tensor, rows: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Logits [B, U, A] of every unit: `logits` [L, A] at the flat `rows` of [B * U], and for every other
    unit 0 at its one legal action and FLOAT_MIN elsewhere."""
    forced = torch.where(action_mask, 0.0, FLOAT_MIN).to(logits.dtype)
    return forced.flatten(0, 1).index_copy(0, rows, logits).view(action_mask.shape)


class HeadPlan(NamedTuple):
    """The layout's verbs grouped by target kind, and the column order that groups the joint logits, so
    that the verbs of one kind run through their target heads in one matmul."""

    none_verbs: list[int]  # verbs without a target
    entity_verbs: list[str]  # names of the verbs with an entity target (their target_heads keys)
    point_verbs: list[str]
    grouped: torch.Tensor | None  # layout column of each grouped position (None: already grouped)
    ungroup: torch.Tensor | None  # grouped position of each layout column


def head_plan(layout: ActionLayout) -> HeadPlan:
    kinds = (Target.NONE, Target.ENTITY, Target.POINT)
    segments = sorted(layout.segments, key=lambda seg: kinds.index(seg.target))
    grouped = torch.cat([torch.arange(seg.start, seg.start + seg.size) for seg in segments])
    identity = bool((grouped == torch.arange(layout.num_actions)).all())
    return HeadPlan(
        none_verbs=[int(seg.verb) for seg in segments if seg.target is Target.NONE],
        entity_verbs=[seg.verb.name for seg in segments if seg.target is Target.ENTITY],
        point_verbs=[seg.verb.name for seg in segments if seg.target is Target.POINT],
        grouped=None if identity else grouped,
        ungroup=None if identity else torch.argsort(grouped),
    )
