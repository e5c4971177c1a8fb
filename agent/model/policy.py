"""The AlphaStar-style policy network: torch and the action layout of envs.action_space (no Ray, and no
engine simulation: tests/test_policy.py checks the imports).

    entities, unit_type -> embed (type embedding + feature MLP) -> EntityEncoder (chosen by name)
    -> per-entity rows [B, N, D], pooled [B, D]
    own units' rows 0..U-1 + context -> per-unit heads:
        verb logits; pointer logits (query . key over the N entity slots) for entity verbs;
        cell logits over the G grid cells for point verbs
    joint logits per unit [B, U, A] in the ActionLayout order, illegal choices at FLOAT_MIN
    value from pooled + scalars

Two optional pointer terms (on by default; docs/RESULTS.md "Learning" measures them):
- ordered decoding: units are decoded in slot order, autoregressively (as AlphaStar's action heads
  are). Unit i's target logits see its claims (agent/model/claims.py): how many other units will be on
  each entity and each cell, counting what units 0..i-1 picked this step and the standing orders of
  the units that keep theirs, weighted by a gain unit i's query sets (negative: spread out, as two
  Marines collecting shards should; positive: focus fire). `decode` samples unit by unit;
  `forward(obs, actions)` recomputes the same logits in one pass from the actions taken, for training.
- distance term: a per-unit gain on the distance from the unit to each entity joins the pointer logits
  (an explicit spatial bias: "nearest" is hard to form from a dot product of position embeddings).
On a map with fog a third term is built: a per-unit gain on each cell's time since it was seen (the
last scalars) joins the cell logits, the same kind of explicit bias for where to look.

Only the units with a choice run through the heads (agent/model/deciding.py), and the encoder only over
the real entities (agent/model/encoders.py encode_real): the same numbers with less work. The pointer
logits of many units are one batched matmul of their queries against their own game's keys
(deciding.per_game_matmul), never a copy of a game's [N, K] keys per unit: at 500 entities and 250 units
such copies would be most of a training step.

Joint logit of (verb, target) = verb logit + log p(target | verb), the target distribution normalised
over the legal targets only; so softmax over the joint row is exactly p(verb) * p(target | verb) with
p(verb) spread over the verbs that have a legal target. No parameter depends on N or U, so the same
weights run with any entity cap (a padding-invariance test uses that).

Greedy play takes each head's mode in decoding order: the most likely verb, then its most likely target.
The joint argmax would instead weigh a verb by its best single target, so a verb spread over 64 cells or
4 equally good Roaches (log p(target | verb) of -4.2 or -1.4) loses to no-op however likely the verb is.
"""

from __future__ import annotations

import inspect
import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from agent.model.claims import claims_before, standing_targets
from agent.model.deciding import (
    FLOAT_MIN,
    HeadPlan,
    UnitFactors,
    choosing,
    head_plan,
    per_game_matmul,
    with_forced,
)
from agent.model.encoders import build_encoder, encode_real
from agent.model.memory import Core, State, flatten_steps
from agent.model.return_scale import ReturnScale
from envs.action_space import VERB_TARGET, ActionLayout, Target, Verb, layout_verbs

OBS_KEYS = ("entities", "unit_type", "entity_mask", "scalars", "action_mask")


def _mlp(dim_in: int, dim_hidden: int, dim_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim_in, dim_hidden), nn.ReLU(), nn.Linear(dim_hidden, dim_out))


def _small_init(layer: nn.Linear, std: float = 0.01) -> nn.Linear:
    # Near-uniform initial policy (CleanRL/PPO practice: policy head std 0.01) so PPO explores at first.
    nn.init.normal_(layer.weight, std=std)
    nn.init.zeros_(layer.bias)
    return layer


def _zero_linear(dim_in: int, dim_out: int) -> nn.Linear:
    layer = nn.Linear(dim_in, dim_out)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class UnitHeads(NamedTuple):
    per_entity: torch.Tensor  # [B, N, D] encoder output
    embedded: torch.Tensor  # [B, N, D] encoder input
    context: torch.Tensor  # [B, D] shared context of the units
    keys: torch.Tensor  # [B, N, K] pointer keys
    action_mask: torch.Tensor  # [B, U, A] bool
    entity_mask: torch.Tensor  # [B, N] bool
    layout: ActionLayout
    value_in: torch.Tensor  # [B, C] the core's features (without memory: pooled + scalars, C = D + S)
    distances: torch.Tensor | None  # [B, U, N] from each own unit to each entity, if positions are known
    state: State | None  # the memory's state after these observations (None without memory)
    standing: torch.Tensor | None  # [B, U, N + G] each unit's standing order target (claims.py), if known
    ordered: torch.Tensor | None  # [B, U] 1 for a unit that has an order, if the policy reads it
    unseen: torch.Tensor | None  # [B, G] each cell's time since an own unit saw it (maps with fog)


class ChosenUnits(NamedTuple):
    """The action distributions of the units that have a choice, as training reads them."""

    rows: torch.Tensor  # [L] flat indices of those units in [prod(units_shape)]
    factors: UnitFactors  # their (verb, target) distributions; factors.joint(): the joint logits [L, A]
    units_shape: tuple[int, ...]  # (B, U), or (B, T, U) with a time axis
    value_in: torch.Tensor  # [B, C] (or [B, T, C]) value features (feed to `value`)
    state: State | None  # the memory's state after the steps


class EntityPolicy(nn.Module):
    """Entity embedding -> encoder -> per-unit (verb, target) logits and a value.

    The constructor's defaults are the model defaults of the whole project (the training config reads
    them through `defaults()`). The policy keeps its constructor arguments in `constructor_kwargs`, JSON-able:
    a checkpoint saves them next to the weights and `EntityPolicy(**kwargs)` rebuilds the same network
    (as stable-baselines3's `BasePolicy._get_constructor_parameters`).
    """

    def __init__(
        self,
        *,
        num_features: int,
        num_scalars: int,
        num_unit_types: int,
        grid_size: int,
        width: int = 64,
        key_dim: int = 32,
        encoder: str = "perceiver_io",
        encoder_options: dict | None = None,
        noop_bias: float = 0.0,
        keep_bias: float = 3.0,
        order_column: int | None = None,
        position_features: tuple[int, int] | None = None,
        ordered_decoding: bool = True,
        memory: bool = False,
        order_features: tuple[int, int, int, int] | None = None,
        economy: bool = False,
        unseen_cells: bool = False,
    ) -> None:
        """num_features F, num_scalars S, num_unit_types V and grid_size g come from the env's spaces;
        width D is the entity embedding (AlphaStar: 256), key_dim the pointer keys (AlphaStar: 32).
        noop_bias: initial logit bonus of no-op ("keep the current order") for every unit.
        keep_bias: initial no-op logit bonus of a unit that has an order (entity column `order_column`:
        has_order; None: no such bonus), learned from there. With it an untrained unit keeps its order
        about 3 times in 4 (e^3 against about 7 other legal verbs), so its random orders run long enough
        to matter: a worker's first harvest trip takes about 25 agent steps, and an economy map pays
        nothing until one ends. As AlphaStar's units, which keep their orders unless selected.
        position_features: the columns of the entity features holding x and y (None: no distance term).
        ordered_decoding: False decodes every unit independently (no claims).
        memory: an LSTM core of `width` cells between the encoded observation and the heads
        (agent/model/memory.py); forward and decode then take and return its state.
        order_features: the entity feature columns dx_own, dy_own, order_dx, order_dy, from which ordered
        decoding reads each unit's standing order target (None: the claims count this step's picks only).
        economy: the economy maps' layout (envs.action_space: gather, return, build, train after the
        combat verbs), with a verb logit and a target head for each of its verbs.
        unseen_cells: the last grid_size**2 scalars are each cell's time since an own unit saw it (a map
        with fog, envs/featurize.py); a per-unit gain on them joins the point verbs' cell logits, so a
        unit can head for what it has not seen without first learning where each scalar's cell is."""
        super().__init__()
        self.constructor_kwargs = {
            "num_features": num_features, "num_scalars": num_scalars, "num_unit_types": num_unit_types,
            "grid_size": grid_size, "width": width, "key_dim": key_dim, "encoder": encoder,
            "encoder_options": dict(encoder_options or {}), "noop_bias": noop_bias,
            "keep_bias": keep_bias, "order_column": order_column,
            "position_features": None if position_features is None else list(position_features),
            "ordered_decoding": ordered_decoding, "memory": memory,
            "order_features": None if order_features is None else list(order_features),
            "economy": economy, "unseen_cells": unseen_cells,
        }
        self.economy = economy
        verbs = layout_verbs(economy)
        self.order_features = None if order_features is None else tuple(order_features)
        self.grid_size = grid_size
        self.position_features = None if position_features is None else list(position_features)
        self.width = width
        self.key_dim = key_dim
        self.type_embed = nn.Embedding(num_unit_types, width, padding_idx=0)
        self.feature_mlp = _mlp(num_features, width, width)
        self.encoder = build_encoder(encoder, dim_in=width, dim_out=width, **(encoder_options or {}))
        self.core = Core(width + num_scalars, width) if memory else None
        core_dim = width if memory else width + num_scalars
        self.context = nn.Sequential(nn.Linear(core_dim, width), nn.ReLU())
        # Unit queries see the decoded row, the unit's own embedding (skip) and the shared context.
        self.unit_mlp = nn.Sequential(
            nn.Linear(3 * width, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU()
        )
        self.verb_head = _small_init(nn.Linear(width, len(verbs)))
        with torch.no_grad():
            self.verb_head.bias[int(Verb.NO_OP)] = noop_bias
        self.entity_key = nn.Sequential(nn.LayerNorm(2 * width), nn.Linear(2 * width, key_dim))
        cells = grid_size * grid_size
        self.target_heads = nn.ModuleDict()
        for verb in verbs:
            target = VERB_TARGET[verb]
            if target is Target.ENTITY:
                self.target_heads[verb.name] = _small_init(nn.Linear(width, key_dim), std=0.1)
            elif target is Target.POINT:
                self.target_heads[verb.name] = _small_init(nn.Linear(width, cells))
        # Per unit: logit added per earlier unit that claimed the same entity / cell, and per unit of
        # distance to an entity. Zero at first: the untrained policy is as without them. Built only when
        # used, so that a policy without them holds no idle parameters and draws the same initial weights
        # as a network that never had them.
        self.claim_gain = _zero_linear(width, 2) if ordered_decoding else None
        self.order_column = order_column
        self.keep_gain = nn.Parameter(torch.tensor(float(keep_bias))) if order_column is not None else None
        self.distance_gain = _zero_linear(width, 1) if position_features is not None else None
        self.unseen_gain = _zero_linear(width, 1) if unseen_cells else None
        self.value_head = nn.Sequential(nn.Linear(core_dim, width), nn.ReLU(), nn.Linear(width, 1))
        self.return_scale = ReturnScale()  # the value head's unit (PPO adapts it; raw value = scale x value)
        self._layouts: dict[int, ActionLayout] = {}
        self._claim_tables: dict[int, torch.Tensor] = {}
        self._plans: dict[int, HeadPlan] = {}

    @classmethod
    def defaults(cls) -> dict:
        """The constructor's default arguments, by name."""
        params = inspect.signature(cls.__init__).parameters.values()
        return {p.name: p.default for p in params if p.default is not p.empty}

    def layout(self, num_entities: int) -> ActionLayout:
        if num_entities not in self._layouts:
            self._layouts[num_entities] = ActionLayout(max_entities=num_entities, grid_size=self.grid_size,
                                                       economy=self.economy)
        return self._layouts[num_entities]

    def claim_table(self, num_entities: int, device: torch.device) -> torch.Tensor:
        """[A, N + G]: row a is one-hot on the entity slot (first N) or the cell (last G) action a targets."""
        if num_entities not in self._claim_tables:
            layout = self.layout(num_entities)
            table = torch.zeros(layout.num_actions, num_entities + layout.num_cells)
            for seg in layout.segments:
                offset = {Target.ENTITY: 0, Target.POINT: num_entities}.get(seg.target)
                if offset is not None:
                    rows = torch.arange(seg.start, seg.start + seg.size)
                    table[rows, offset + torch.arange(seg.size)] = 1.0
            self._claim_tables[num_entities] = table
        return self._claim_tables[num_entities].to(device)

    def encode(self, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> embedded [B, N, D] (pre-encoder), per_entity [B, N, D], value features [B, D + S]."""
        mask = obs["entity_mask"].bool()
        # Zero padded rows before the MLP too: garbage in padded slots must not reach anything.
        feats = obs["entities"].float() * mask.unsqueeze(-1)
        types = obs["unit_type"].long() * mask
        embedded = self.type_embed(types) + self.feature_mlp(feats)
        per_entity, pooled = encode_real(self.encoder, embedded, mask)
        return embedded, per_entity, torch.cat([pooled, obs["scalars"].float()], dim=-1)

    def remember(self, value_in: torch.Tensor, lead: tuple[int, ...],
                 state: State | None) -> tuple[torch.Tensor, State | None]:
        """The core over encoded steps: value features [prod(lead), D + S] of the steps `lead` ([B]: one
        each, [B, T]: T each) -> (core features, the state after them). Without memory: unchanged, None."""
        if self.core is None:
            return value_in, None
        return self.core(value_in, lead, state)

    def heads(self, obs: dict[str, torch.Tensor], state: State | None = None,
              lead: tuple[int, ...] | None = None, encoded: tuple | None = None) -> UnitHeads:
        """Everything the per-unit logits are made of, computed once per observation batch [M, ...] (the
        steps `lead` flattened, by default one step per game; `state`: the memory's before them; `encoded`:
        what `encode(obs)` returns, if already known)."""
        embedded, per_entity, value_in = self.encode(obs) if encoded is None else encoded
        value_in, state = self.remember(value_in, lead or (per_entity.shape[0],), state)
        entity_mask = obs["entity_mask"].bool()
        action_mask = obs["action_mask"].bool()
        num_units = action_mask.shape[1]
        num_entities = per_entity.shape[1]
        layout = self.layout(num_entities)
        if action_mask.shape[-1] != layout.num_actions:
            raise ValueError(
                f"action_mask has {action_mask.shape[-1]} choices per unit, the layout for N={num_entities}"
                f" and grid {self.grid_size} has {layout.num_actions}"
            )
        keys = self.entity_key(torch.cat([per_entity, embedded], dim=-1))  # [B, N, K]
        distances = None
        if self.position_features is not None:
            positions = obs["entities"][..., self.position_features].float()  # [B, N, 2]
            positions = torch.where(entity_mask.unsqueeze(-1), positions, 0.0)
            distances = torch.cdist(positions[:, :num_units], positions)
        standing = None
        if self.claim_gain is not None and self.order_features is not None:
            standing = standing_targets(obs["entities"], entity_mask, num_units, self.order_features,
                                        layout.num_cells)
        ordered = None
        if self.keep_gain is not None:
            ordered = (obs["entities"][:, :num_units, self.order_column] > 0).to(keys.dtype)
        unseen = None
        if self.unseen_gain is not None:
            unseen = obs["scalars"][:, -layout.num_cells:].float()
        return UnitHeads(per_entity, embedded, self.context(value_in), keys, action_mask, entity_mask, layout,
                         value_in, distances, state, standing, ordered, unseen)

    def unit_logits(self, heads: UnitHeads, rows: torch.Tensor, claims: torch.Tensor | None) -> torch.Tensor:
        """Masked joint logits [L, A] of the units at flat indices `rows` of [B * U] (unit u of game b at
        b * U + u), given their claims [L, N + G] (see claim_table; None without ordered decoding)."""
        return self.unit_factors(heads, rows, claims).joint()

    def unit_factors(self, heads: UnitHeads, rows: torch.Tensor, claims: torch.Tensor | None) -> UnitFactors:
        """The (verb, target) distributions of the units at `rows`, factored as the heads give them
        (`unit_logits`' arguments)."""
        batch_size, num_units, num_actions = heads.action_mask.shape
        games = torch.div(rows, num_units, rounding_mode="floor")
        layout = heads.layout
        plan = self._plans.get(layout.max_entities)
        if plan is None:
            plan = self._plans[layout.max_entities] = head_plan(layout)

        def own(x: torch.Tensor) -> torch.Tensor:  # [B, U, ...] -> the rows' [L, ...]
            return x[:, :num_units].reshape(batch_size * num_units, *x.shape[2:])[rows]

        # Unit queries see the decoded row, the unit's own embedding (skip) and the shared context.
        queries = self.unit_mlp(torch.cat([own(heads.per_entity), own(heads.embedded),
                                           heads.context[games]], dim=-1))  # [L, D]
        action_mask = heads.action_mask.reshape(batch_size * num_units, num_actions)[rows]
        if plan.grouped is not None:
            action_mask = action_mask[:, plan.grouped]
        ordered = None if heads.ordered is None else own(heads.ordered)
        verb_logits = self.keep_orders(self.verb_head(queries), ordered)  # [L, V]
        entity_bias, point_bias = 0.0, 0.0
        if claims is not None:
            gain = self.claim_gain(queries)  # [L, 2]
            entity_bias = gain[:, :1] * claims[:, : layout.max_entities]
            point_bias = gain[:, 1:] * claims[:, layout.max_entities :]
        if heads.distances is not None:
            entity_bias = entity_bias + self.distance_gain(queries) * own(heads.distances)
        if heads.unseen is not None:
            point_bias = point_bias + self.unseen_gain(queries) * heads.unseen[games]
        target_logp, target_legal = [], []
        column = len(plan.none_verbs)
        for names, bias in ((plan.entity_verbs, entity_bias), (plan.point_verbs, point_bias)):
            if not names:
                continue
            # The verbs of one target kind in one matmul: their heads' weights side by side.
            weight = torch.cat([self.target_heads[name].weight for name in names])
            bias_term = torch.cat([self.target_heads[name].bias for name in names])
            target_logits = nn.functional.linear(queries, weight, bias_term).view(len(rows), len(names), -1)
            size = layout.max_entities if names is plan.entity_verbs else layout.num_cells
            legal = action_mask[:, column : column + len(names) * size].view(len(rows), len(names), size)
            if names is plan.entity_verbs:  # pointer: the unit's query . each entity's key, game by game
                scaled = target_logits / math.sqrt(self.key_dim)  # on the [L, V, K] queries, not [L, V, N]
                target_logits = per_game_matmul(scaled, heads.keys.transpose(1, 2), rows, num_units)
                legal = legal & heads.entity_mask[games].unsqueeze(1)
            if not isinstance(bias, float):
                bias = bias.unsqueeze(1)  # the same for every verb of the kind
            target_logits = torch.where(legal, target_logits + bias, FLOAT_MIN)
            target_logp.append(torch.log_softmax(target_logits, dim=-1))
            target_legal.append(legal)
            column += len(names) * size
        return UnitFactors(verb_logits, tuple(target_logp), tuple(target_legal), action_mask, plan)

    def keep_orders(self, verb_logits: torch.Tensor, ordered: torch.Tensor | None) -> torch.Tensor:
        """Verb logits [..., V] with the keep gain added to no-op where the unit has an order [...]."""
        if ordered is None:
            return verb_logits
        noop = torch.zeros(verb_logits.shape[-1], dtype=verb_logits.dtype, device=verb_logits.device)
        noop[int(Verb.NO_OP)] = 1.0
        return verb_logits + (self.keep_gain * ordered).unsqueeze(-1) * noop

    def forward(self, obs: dict[str, torch.Tensor], actions: torch.Tensor,
                state: State | None = None) -> tuple[torch.Tensor, torch.Tensor, State | None]:
        """Logits [B, U, A] of every unit given the `actions` [B, U] taken (unit i's see the claims of
        actions 0..i-1 only), value features [B, C] (feed to `value`) and the memory's state after them.
        Observations and actions may carry a time axis ([B, T, ...]: T steps of each game from `state`,
        the memory's state before the first; outputs then have it too)."""
        chosen = self.choosing_forward(obs, actions, state)
        mask = obs["action_mask"].bool()
        mask = mask.reshape(-1, *mask.shape[-2:])
        logits = with_forced(mask, chosen.rows, chosen.factors.joint()).reshape(*chosen.units_shape, -1)
        return logits, chosen.value_in, chosen.state

    def choosing_forward(self, obs: dict[str, torch.Tensor], actions: torch.Tensor,
                         state: State | None = None) -> ChosenUnits:
        """`forward` for training: the distributions of the units with a choice only (every other unit's
        one legal action has probability 1: agent/model/deciding.py), factored, which is all PPO's loss
        needs."""
        obs, lead = flatten_steps(obs)
        heads = self.heads(obs, state, lead)
        rows = choosing(heads.action_mask).flatten().nonzero().squeeze(1)
        claims = None
        if self.claim_gain is not None:
            table = self.claim_table(heads.layout.max_entities, heads.keys.device)
            actions = torch.as_tensor(actions).long().reshape(heads.action_mask.shape[:2])
            noop = actions == heads.layout.segment(Verb.NO_OP).start
            claims = claims_before(table[actions], noop, heads.standing).flatten(0, 1)[rows]
        return ChosenUnits(rows, self.unit_factors(heads, rows, claims), (*lead, heads.action_mask.shape[1]),
                           _steps(heads.value_in, lead), heads.state)

    def decode(self, obs: dict[str, torch.Tensor], *, sample: bool, generator: torch.Generator | None = None,
               state: State | None = None, uniforms: torch.Tensor | None = None,
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, State | None]:
        """Choose the units' actions in slot order: -> actions [B, U], their logits [B, U, A] (as
        `forward(obs, actions, state)` gives them), value features [B, C], the memory's next state.
        Greedy unless `sample`. A time axis in `obs` is kept, as in `forward`.

        Sampling draws one uniform number per unit slot up front ([B, U] from `generator`, or the caller's
        `uniforms`) and inverts the unit's cumulative distribution, so a unit's draw does not depend on
        which other units had to be decoded."""
        obs, lead = flatten_steps(obs)
        heads = self.heads(obs, state, lead)
        if not sample:
            uniforms = None
        elif uniforms is None:
            uniforms = torch.rand(heads.action_mask.shape[:2], generator=generator)
        elif uniforms.shape != heads.action_mask.shape[:2]:
            raise ValueError(f"uniforms of shape {tuple(uniforms.shape)} for units of shape "
                             f"{tuple(heads.action_mask.shape[:2])}")
        actions, logits = self._decode_units(heads, uniforms)
        return _steps(actions, lead), _steps(logits, lead), _steps(heads.value_in, lead), heads.state

    def _decode_units(self, heads: UnitHeads,
                      uniforms: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        layout, mask = heads.layout, heads.action_mask
        num_units = mask.shape[1]
        deciding = choosing(mask)
        if self.claim_gain is None:  # independent units: all at once
            rows = deciding.flatten().nonzero().squeeze(1)
            logits = with_forced(mask, rows, self.unit_logits(heads, rows, None))
            return choose(logits, layout, uniforms), logits
        table = self.claim_table(layout.max_entities, heads.keys.device)
        noop_action = layout.segment(Verb.NO_OP).start
        # Units with a single legal action take it. Their claims, and the standing orders of the units
        # after each unit, are known before any unit decides.
        actions = mask.to(torch.uint8).argmax(dim=-1) * ~deciding  # [B, U]
        single = (~deciding).unsqueeze(-1).to(table.dtype)
        known = claims_before(table[actions] * single, (actions == noop_action) & ~deciding, heads.standing)
        known = known.flatten(0, 1)
        standing = None if heads.standing is None else heads.standing.flatten(0, 1)
        decided = table.new_zeros(mask.shape[0], table.shape[1])  # what the deciding units projected so far
        # Step k decodes the k-th deciding unit of every game: as many steps as the most in one game.
        rank = deciding.cumsum(dim=1) - 1
        all_rows, all_logits = [], []
        for step in range(int(deciding.sum(dim=1).max()) if deciding.any() else 0):
            rows = (deciding & (rank == step)).flatten().nonzero().squeeze(1)
            games = torch.div(rows, num_units, rounding_mode="floor")
            unit_logits = self.unit_logits(heads, rows, decided[games] + known[rows])  # [L, A]
            action = choose(unit_logits, layout, None if uniforms is None else uniforms.flatten()[rows])
            actions.view(-1)[rows] = action
            projected = table[action]
            if standing is not None:  # no-op keeps the standing order, which it then claims
                projected = projected + standing[rows] * (action == noop_action).unsqueeze(-1)
            decided = decided.index_add(0, games, projected)
            all_rows.append(rows)
            all_logits.append(unit_logits)
        rows = torch.cat(all_rows) if all_rows else actions.new_zeros(0)
        logits = torch.cat(all_logits) if all_logits else heads.keys.new_zeros(0, mask.shape[-1])
        return actions, with_forced(mask, rows, logits)

    def value(self, value_in: torch.Tensor) -> torch.Tensor:
        """Value features [..., C] -> value [...], in units of `return_scale.scale`."""
        return self.value_head(value_in).squeeze(-1)

    def features(self, obs: dict[str, torch.Tensor], state: State | None = None) -> torch.Tensor:
        """Value features [B, C] (or [B, T, C]) of observations, without the heads."""
        obs, lead = flatten_steps(obs)
        _, _, value_in = self.encode(obs)
        return _steps(self.remember(value_in, lead, state)[0], lead)

    @torch.no_grad()
    def act(self, obs: dict, *, sample: bool = False, generator: torch.Generator | None = None,
            state: State | None = None, uniforms: torch.Tensor | None = None,
            ) -> tuple[np.ndarray, State | None]:
        """Actions [B, U] (int64) for a batch of observations (numpy or torch), greedy unless `sample`
        (`decode` says where its draws come from), and the memory's state to pass with the next step's
        observations (None without memory; a new episode starts from None)."""
        actions, _, _, state = self.decode(to_tensors(obs), sample=sample, generator=generator, state=state,
                                           uniforms=uniforms)
        return actions.numpy(), state


def choose(logits: torch.Tensor, layout: ActionLayout, uniforms: torch.Tensor | None) -> torch.Tensor:
    """Logits [..., A] -> actions [...]: each head's mode in turn (greedy), or with uniforms [...] in
    [0, 1) the action where the unit's cumulative probability first exceeds its uniform (inverse-CDF
    sampling)."""
    if uniforms is None:
        return greedy(logits, layout)
    cumulative = torch.softmax(logits, dim=-1).cumsum(dim=-1)
    # Scaled by the total so that rounding in the sum cannot run past the last legal action.
    threshold = uniforms.unsqueeze(-1) * cumulative[..., -1:]
    return torch.searchsorted(cumulative, threshold, right=True).squeeze(-1)  # how many are <= threshold


def greedy(logits: torch.Tensor, layout: ActionLayout) -> torch.Tensor:
    """Logits [..., A] -> actions [...]: the verb of highest probability (summed over its targets), then
    that verb's most likely target."""
    log_p = torch.log_softmax(logits, dim=-1)
    verb_log_p = torch.stack([torch.logsumexp(log_p[..., seg.start:seg.start + seg.size], dim=-1)
                              for seg in layout.segments], dim=-1)
    verb_of_action = torch.as_tensor(layout.verb_of_action, device=logits.device)
    inside = verb_of_action == verb_log_p.argmax(dim=-1, keepdim=True)
    return torch.where(inside, logits, FLOAT_MIN).argmax(dim=-1)


def _steps(x: torch.Tensor, lead: tuple[int, ...]) -> torch.Tensor:
    """[prod(lead), ...] -> [*lead, ...]: a flattened batch (and time) axis restored."""
    return x.reshape(*lead, *x.shape[1:])


def to_tensors(obs: dict) -> dict[str, torch.Tensor]:
    """A (batched) observation dict of numpy arrays or tensors -> tensors; adds a batch axis if missing."""
    out = {key: torch.as_tensor(np.asarray(obs[key])) for key in OBS_KEYS}
    if out["entities"].dim() == 2:
        out = {key: value.unsqueeze(0) for key, value in out.items()}
    return out

