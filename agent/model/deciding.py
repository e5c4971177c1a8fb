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
LOG_P_FLOOR = -1e4  # far below any legal action's log-probability; exp() of it is 0 in float32


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
    target_verbs: tuple[list[int], ...]  # the verbs of each target kind that has any (entity, then point)
    grouped: torch.Tensor | None  # layout column of each grouped position (None: already grouped)
    ungroup: torch.Tensor | None  # grouped position of each layout column
    action_verb: torch.Tensor  # [A] each action's verb
    action_kind: torch.Tensor  # [A] 0: a verb without target, k: the k-th of target_verbs
    action_position: torch.Tensor  # [A] where the action sits in its kind's [verbs x targets], flattened


def head_plan(layout: ActionLayout) -> HeadPlan:
    kinds = (Target.NONE, Target.ENTITY, Target.POINT)
    segments = sorted(layout.segments, key=lambda seg: kinds.index(seg.target))
    grouped = torch.cat([torch.arange(seg.start, seg.start + seg.size) for seg in segments])
    identity = bool((grouped == torch.arange(layout.num_actions)).all())
    target_verbs = tuple(verbs for kind in kinds[1:]
                         if (verbs := [int(seg.verb) for seg in segments if seg.target is kind]))
    action_kind = torch.zeros(layout.num_actions, dtype=torch.long)
    action_position = torch.zeros(layout.num_actions, dtype=torch.long)
    for k, verbs in enumerate(target_verbs, start=1):
        for j, verb in enumerate(verbs):
            seg = layout.segments[verb]
            action_kind[seg.start:seg.start + seg.size] = k
            action_position[seg.start:seg.start + seg.size] = j * seg.size + torch.arange(seg.size)
    return HeadPlan(
        none_verbs=[int(seg.verb) for seg in segments if seg.target is Target.NONE],
        entity_verbs=[seg.verb.name for seg in segments if seg.target is Target.ENTITY],
        point_verbs=[seg.verb.name for seg in segments if seg.target is Target.POINT],
        target_verbs=target_verbs,
        grouped=None if identity else grouped,
        ungroup=None if identity else torch.argsort(grouped),
        action_verb=torch.as_tensor(layout.verb_of_action, dtype=torch.long),
        action_kind=action_kind,
        action_position=action_position,
    )


class UnitFactors(NamedTuple):
    """The (verb, target) distributions of L units as their heads give them, before any joint is laid out:
    verb logits, and per target kind log p(target | verb) over the verb's legal targets. The joint's
    log-probability of (verb, target) is log p(verb) + log p(target | verb), and its entropy H(verb) + the
    sum over verbs of p(verb) H(target | verb): training reads both from here, never touching the
    [L, A] joint, whose passes are most of a training step when A is large (500 entities: 1,130 choices)."""

    verb_logits: torch.Tensor  # [L, V], unmasked
    target_logp: tuple[torch.Tensor, ...]  # per plan.target_verbs kind: [L, Vk, S], illegal at ~FLOAT_MIN
    target_legal: tuple[torch.Tensor, ...]  # per kind: [L, Vk, S] bool, the legal targets
    action_mask: torch.Tensor  # [L, A] bool, columns in the plan's grouped order
    plan: HeadPlan

    def joint(self) -> torch.Tensor:
        """The masked joint logits [L, A] in the layout's order: verb logit + log p(target | verb), so that
        their softmax is p(verb) p(target | verb), p(verb) over the verbs with a legal choice."""
        plan = self.plan
        parts = [self.verb_logits[:, plan.none_verbs]]
        for verbs, logp in zip(plan.target_verbs, self.target_logp, strict=True):
            parts.append((self.verb_logits[:, verbs, None] + logp).flatten(1))
        logits = torch.where(self.action_mask, torch.cat(parts, dim=-1), FLOAT_MIN)
        return logits if plan.ungroup is None else logits[:, plan.ungroup]

    def verb_legal(self) -> torch.Tensor:
        """[L, V] bool: the verb has a legal choice. Only training needs it (joint() masks by action), so
        decoding, the acting hot path, never computes it."""
        plan = self.plan
        legal = torch.zeros_like(self.verb_logits, dtype=torch.bool)
        legal[:, plan.none_verbs] = self.action_mask[:, : len(plan.none_verbs)]
        for verbs, targets in zip(plan.target_verbs, self.target_legal, strict=True):
            legal[:, verbs] = targets.any(dim=-1)
        return legal

    def verb_log_probs(self) -> torch.Tensor:
        """[L, V] log p(verb), over the verbs with a legal choice."""
        return torch.log_softmax(torch.where(self.verb_legal(), self.verb_logits, FLOAT_MIN), dim=-1)

    def log_prob(self, taken: torch.Tensor, verb_logp: torch.Tensor) -> torch.Tensor:
        """log p(action) [L] of the actions `taken` [L] (layout ids), given verb_log_probs()."""
        plan = self.plan
        out = verb_logp.gather(1, plan.action_verb[taken].unsqueeze(1)).squeeze(1)
        kind, position = plan.action_kind[taken], plan.action_position[taken]
        for k, logp in enumerate(self.target_logp, start=1):
            flat = logp.flatten(1)
            picked = flat.gather(1, position.clamp(max=flat.shape[1] - 1).unsqueeze(1)).squeeze(1)
            out = out + torch.where(kind == k, picked, 0.0)
        return out

    def entropy(self, verb_logp: torch.Tensor) -> torch.Tensor:
        """The joint's entropy [L]: H(verb) + sum over verbs of p(verb) H(target | verb)."""
        p_verb = verb_logp.exp()
        # An illegal choice has p 0 and log p near FLOAT_MIN: clamped, so that no gradient overflows.
        entropy = -(p_verb * verb_logp.clamp(min=LOG_P_FLOOR)).sum(-1)
        for verbs, logp in zip(self.plan.target_verbs, self.target_logp, strict=True):
            given_verb = -(logp.exp() * logp.clamp(min=LOG_P_FLOOR)).sum(-1)  # [L, Vk]
            entropy = entropy + (p_verb[:, verbs] * given_verb).sum(-1)
        return entropy
