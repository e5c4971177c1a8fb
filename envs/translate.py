"""Per-unit actions -> raw commands in pysc2's RAW_FUNCTIONS form, for every backend.

Units that chose the same (verb, target) share one command; a command carries at most
`max_selected_units` tags. Actions the mask forbids become no-ops here, so they never reach a backend.
"""

from __future__ import annotations

import numpy as np

from envs.action_space import Verb
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


class Translator:
    """Holds what is fixed per spec (the layout and the cells' raw coordinates)."""

    def __init__(self, spec: EntitySpec, max_selected_units: int = MAX_SELECTED_UNITS):
        self.spec = spec
        self.layout = spec.layout
        self.max_selected_units = max_selected_units
        self._cell_points = [tuple(p) for p in world_to_raw(spec.cell_centres(), spec).tolist()]

    def __call__(self, actions: np.ndarray, action_mask: np.ndarray, slots: SlotTags,
                 ) -> tuple[list[RawCommand], int]:
        """Raw commands for `actions` [U], and how many actions were illegal (and so dropped)."""
        actions = np.asarray(actions, dtype=np.int64)
        U = len(actions)
        in_range = (actions >= 0) & (actions < self.layout.num_actions)
        safe = np.where(in_range, actions, 0)
        legal = in_range & (action_mask[np.arange(U), safe] == 1)
        chosen = np.where(legal, safe, 0)
        commands: list[RawCommand] = []
        for action in np.unique(chosen[chosen > 0]).tolist():
            verb, target = self.layout.decode(action)
            tags = tuple(slots.tags[:U][chosen == action].tolist())
            commands.extend(self._commands(verb, target, tags, slots))
        return commands, int(U - np.count_nonzero(legal))

    def _commands(self, verb: Verb, target: int, tags: tuple[int, ...], slots: SlotTags) -> list[RawCommand]:
        function = _FUNCTION_OF_VERB[verb]
        if verb in (Verb.MOVE_ENTITY, Verb.ATTACK_ENTITY):
            arg = int(slots.tags[target])
        elif verb in (Verb.MOVE_POINT, Verb.ATTACK_POINT):
            arg = self._cell_points[target]
        else:
            arg = None
        k = self.max_selected_units
        return [RawCommand(int(function), False, tags[i : i + k], arg) for i in range(0, len(tags), k)]
