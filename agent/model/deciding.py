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
    # int16: a bool tensor's plain sum accumulates in int64 on a slow path, about 9x the time
    return action_mask.sum(dim=-1, dtype=torch.int16) != 1


def with_forced(action_mask: torch.Tensor, rows: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Logits [B, U, A] of every unit: `logits` [L, A] at the flat `rows` of [B * U], and for every other
    unit 0 at its one legal action and FLOAT_MIN elsewhere."""
    every = torch.arange(action_mask.shape[0] * action_mask.shape[1], device=rows.device)
    if len(rows) == len(every) and torch.equal(rows, every):  # every unit decided, in slot order
        return logits.view(action_mask.shape)
    forced = torch.where(action_mask, 0.0, FLOAT_MIN).to(logits.dtype)
    return forced.flatten(0, 1).index_copy(0, rows, logits).view(action_mask.shape)


class GameGrid(NamedTuple):
    """Where the rows [L] of [B * U] sit in a [B, R] grid, R the most rows of one game: row i at slot
    games[i] * R + rank[i], rank[i] counting the rows of its game before it. Per-game work (the pointer
    matmul against a game's keys) then runs as one batched matmul over the grid."""

    slots: torch.Tensor  # [L] each row's flat slot in [B * R]
    width: int  # R
    dense: bool  # the rows fill the grid in order: slot i is row i (no scatter, no gather)


def game_grid(rows: torch.Tensor, num_units: int, batch: int) -> GameGrid:
    """The grid of `rows` (flat indices of [B * U], in any order)."""
    games = torch.div(rows, num_units, rounding_mode="floor")
    counts = torch.bincount(games, minlength=batch)
    width = int(counts.max()) if len(rows) else 0
    sorted_games, order = torch.sort(games, stable=True)
    rank = torch.empty_like(rows)
    rank[order] = torch.arange(len(rows), device=rows.device) - (counts.cumsum(0) - counts)[sorted_games]
    slots = games * width + rank
    dense = len(rows) == batch * width and bool((order == torch.arange(len(rows), device=rows.device)).all())
    return GameGrid(slots, width, dense)


def per_game_matmul(left: torch.Tensor, right: torch.Tensor, rows: torch.Tensor,
                    num_units: int) -> torch.Tensor:
    """Each row's left [L, M, K] times its game's right [B, K, N] -> [L, M, N] (`rows`: flat indices of
    [B * U]). With more rows than games (training: the units of every game at once) one batched matmul
    over the rows' game_grid, with no per-row copy of `right`; with at most B rows (a decoding step, one
    unit per game) the rows' copies of their games' `right` are no larger than `right` itself."""
    batch = right.shape[0]
    if len(rows) <= batch:
        return torch.bmm(left, right[torch.div(rows, num_units, rounding_mode="floor")])
    grid = game_grid(rows, num_units, batch)
    count, m, k = left.shape
    if grid.dense:
        return torch.bmm(left.reshape(batch, grid.width * m, k), right).view(count, m, -1)
    padded = left.new_zeros(batch * grid.width, m * k).index_copy(0, grid.slots, left.reshape(count, -1))
    out = torch.bmm(padded.view(batch, grid.width * m, k), right)
    return out.view(batch * grid.width, -1).index_select(0, grid.slots).view(count, m, -1)


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
