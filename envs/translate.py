"""Per-unit actions -> raw commands in pysc2's RAW_FUNCTIONS form, for every backend.

Units that chose the same (verb, target) share one command; a command carries at most
`max_selected_units` tags. Actions the mask forbids are dropped here (and counted), so they never
reach a backend.
"""

from __future__ import annotations

import numpy as np

from envs.action_space import Verb
from envs.entity_kernels import group_actions
from envs.featurize import EntitySpec, SlotTags
from envs.raw_schema import MAX_SELECTED_UNITS, RawCommand, RawFunction

_FUNCTION_OF_VERB = {
    Verb.STOP: RawFunction.Stop_quick,
    Verb.MOVE_ENTITY: RawFunction.Move_unit,
    Verb.ATTACK_ENTITY: RawFunction.Attack_unit,
    Verb.MOVE_POINT: RawFunction.Move_pt,
    Verb.ATTACK_POINT: RawFunction.Attack_pt,
}


def world_to_raw(xy: np.ndarray, spec: EntitySpec) -> np.ndarray:
    """World (x, y) -> pysc2 raw pixel coordinates (y flipped, scaled to raw_resolution)."""
    w, h = spec.map_size
    res = spec.raw_resolution
    return np.stack([xy[..., 0] * res / w, (h - xy[..., 1]) * res / h], axis=-1)


class GroupedCommands:
    """Commands of a batch of games as flat arrays: command k belongs to game[k], is action[k] of the
    layout, and carries the unit tags tags[start[k] : start[k] + count[k]]."""

    def __init__(self, game, action, start, count, tags, illegal):
        self.game, self.action, self.start, self.count, self.tags = game, action, start, count, tags
        self.illegal = illegal  # [B] actions dropped as illegal


class Translator:
    """Holds what is fixed per spec: the layout, each action's raw function and target."""

    def __init__(self, spec: EntitySpec, max_selected_units: int = MAX_SELECTED_UNITS):
        self.spec = spec
        self.layout = spec.layout
        self.max_selected_units = max_selected_units
        verbs = self.layout.verb_of_action
        self.function_of_action = np.array([int(_FUNCTION_OF_VERB.get(v, RawFunction.no_op)) for v in verbs])
        self.target_of_action = self.layout.target_of_action
        self.is_entity_target = np.isin(verbs, [Verb.MOVE_ENTITY, Verb.ATTACK_ENTITY])
        self.is_point_target = np.isin(verbs, [Verb.MOVE_POINT, Verb.ATTACK_POINT])
        self.cell_points = world_to_raw(spec.cell_centres(), spec)  # [G, 2] raw pixel points
        # Per action, as Python lists for the per-command loop of the single-game path: the function,
        # the entity slot whose tag is the target (-1: none), else the fixed target (a point or None).
        self._function = self.function_of_action.tolist()
        self._entity_slot = np.where(self.is_entity_target, self.target_of_action, -1).tolist()
        points = [tuple(p) for p in self.cell_points.tolist()]
        targets = self.target_of_action.tolist()
        self._fixed_target = [points[t] if is_point else None
                              for t, is_point in zip(targets, self.is_point_target, strict=True)]
        self._one_game = np.ones(1, np.bool_)
        self._buffer = np.empty((5, spec.max_units), np.int64)  # game, action, start, count, tags

    def group(self, actions: np.ndarray, action_mask: np.ndarray, slot_tags: np.ndarray,
              active: np.ndarray) -> GroupedCommands:
        """Batched: actions [B, U], masks [B, U, A], slot tags [B, N], active [B] -> grouped commands."""
        B, U = actions.shape
        if U != self.spec.max_units or action_mask.shape[:2] != (B, U):
            raise ValueError(f"expected actions [B, {self.spec.max_units}] matching the masks, "
                             f"got {actions.shape}")
        out = np.empty((5, B * U), np.int64)  # game, action, start, count, tags
        k, illegal = group_actions(np.ascontiguousarray(actions, np.int64), action_mask, slot_tags,
                                   active, self.max_selected_units, *out)
        return GroupedCommands(out[0, :k], out[1, :k], out[2, :k], out[3, :k], out[4], illegal)

    def __call__(self, actions: np.ndarray, action_mask: np.ndarray, slots: SlotTags,
                 ) -> tuple[list[RawCommand], int]:
        """One game: raw commands for `actions` [U], and how many actions were illegal (and so dropped)."""
        actions = np.asarray(actions, np.int64).reshape(1, -1)
        if actions.shape[1] != self.spec.max_units:
            raise ValueError(f"expected {self.spec.max_units} actions (one per unit slot), "
                             f"got {actions.shape[1]}")
        buf = self._buffer  # reused: the commands are built from it before this call returns
        k, illegal = group_actions(actions, action_mask[None], slots.tags[None], self._one_game,
                                   self.max_selected_units, *buf)
        action, start, count = buf[1:4, :k].tolist()
        unit_tags, slot_tags = buf[4].tolist(), slots.tags.tolist()
        function, entity_slot, fixed_target = self._function, self._entity_slot, self._fixed_target
        commands = []
        for a, s, c in zip(action, start, count, strict=True):
            slot = entity_slot[a]
            target = slot_tags[slot] if slot >= 0 else fixed_target[a]
            commands.append(RawCommand(function[a], False, tuple(unit_tags[s : s + c]), target))
        return commands, int(illegal[0])
