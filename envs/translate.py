"""Per-unit actions -> raw commands in pysc2's RAW_FUNCTIONS form, for every backend.

Units that chose the same (verb, target) share one command; a command carries at most
`max_selected_units` tags, and a train verb's one (each structure that chose it trains a unit). Actions
the mask forbids are dropped here (and counted), so they never reach a backend. On the economy maps the
actions that cost minerals are sent in slot order while the step's spendable minerals last
(`Translator.affordable`; envs/economy_kernels.py says why). What was sent is recorded in the games'
`UnitMemory` (`unit_memory.remember_actions`), which the next observation reads.
"""

from __future__ import annotations

import numpy as np

from envs.action_space import VERB_TARGET, Target, Verb
from envs.economy_kernels import VERB_COST, spendable_minerals, withhold_unaffordable
from envs.entity_kernels import group_actions
from envs.featurize import EntitySpec, SlotTags
from envs.raw_schema import MAX_SELECTED_UNITS, RawCommand, RawFunction, RawObs
from envs.unit_memory import UnitMemory, remember_actions

_FUNCTION_OF_VERB = {
    Verb.STOP: RawFunction.Stop_quick,
    Verb.MOVE_ENTITY: RawFunction.Move_unit,
    Verb.ATTACK_ENTITY: RawFunction.Attack_unit,
    Verb.MOVE_POINT: RawFunction.Move_pt,
    Verb.ATTACK_POINT: RawFunction.Attack_pt,
    Verb.QUEUE_MOVE_ENTITY: RawFunction.Move_unit,  # queued
    Verb.GATHER: RawFunction.Harvest_Gather_unit,
    Verb.RETURN: RawFunction.Harvest_Return_quick,
    Verb.BUILD_SUPPLY_DEPOT: RawFunction.Build_SupplyDepot_pt,
    Verb.BUILD_BARRACKS: RawFunction.Build_Barracks_pt,
    Verb.BUILD_COMMAND_CENTER: RawFunction.Build_CommandCenter_pt,
    Verb.BUILD_REFINERY: RawFunction.Build_Refinery_pt,  # pysc2 raw_cmd_unit: the geyser's tag
    Verb.TRAIN_SCV: RawFunction.Train_SCV_quick,
    Verb.TRAIN_MARINE: RawFunction.Train_Marine_quick,
}
_UNIT_TARGET = tuple(int(f) for v, f in _FUNCTION_OF_VERB.items() if VERB_TARGET[v] is Target.ENTITY)
_POINT_TARGET = tuple(int(f) for v, f in _FUNCTION_OF_VERB.items() if VERB_TARGET[v] is Target.POINT)
_SOLO = (Verb.TRAIN_SCV, Verb.TRAIN_MARINE)  # one command per unit


class GroupedCommands:
    """Raw commands of a batch of games as flat arrays: command k belongs to game[k], is action[k] of the
    layout, calls RawFunction function[k] with unit tags tags[start[k] : start[k] + count[k]] and targets
    unit target_tag[k] (entity verbs) or raw point (px[k], py[k]) (point verbs), after the units' current
    orders where queued[k] is 1."""

    def __init__(self, ints: np.ndarray, tags: np.ndarray, points: np.ndarray, illegal: np.ndarray,
                 queued_of_action: np.ndarray, results: np.ndarray | None = None):
        self.game, self.action, self.function, self.start, self.count, self.target_tag = ints
        self.queued = queued_of_action[self.action]
        self.tags = tags
        self.px, self.py = points
        self.illegal = illegal  # [B] actions dropped as illegal
        self.results = results  # the engine's result code per command (0 = accepted), once stepped

    def raw_commands(self) -> list[RawCommand]:
        """The commands as pysc2 RawCommands (of every game, in order; one game's for a batch of one)."""
        tags = self.tags.tolist()
        commands = []
        for fn, queued, start, count, target_tag, px, py in zip(
                self.function.tolist(), self.queued.tolist(), self.start.tolist(), self.count.tolist(),
                self.target_tag.tolist(), self.px.tolist(), self.py.tolist(), strict=True):
            target = target_tag if fn in _UNIT_TARGET else (px, py) if fn in _POINT_TARGET else None
            commands.append(RawCommand(fn, bool(queued), tuple(tags[start : start + count]), target))
        return commands

    def engine_arrays(self) -> tuple:
        """The arguments of `BatchedEngine.step_grouped`."""
        return (self.game, self.function, self.queued, self.start, self.count, self.tags, self.target_tag,
                self.px, self.py)


class Translator:
    """Holds what is fixed per spec: the layout, each action's raw function and target."""

    def __init__(self, spec: EntitySpec, max_selected_units: int = MAX_SELECTED_UNITS):
        self.spec = spec
        self.layout = spec.layout
        self.max_selected_units = max_selected_units
        verbs = self.layout.verb_of_action
        target = self.layout.target_of_action
        self._function = np.array([int(_FUNCTION_OF_VERB.get(v, RawFunction.no_op)) for v in verbs])
        kind = [VERB_TARGET[Verb(v)] for v in verbs]
        is_point = np.array([k is Target.POINT for k in kind])
        self._slot = np.where([k is Target.ENTITY for k in kind], target, -1)
        self._solo = np.isin(verbs, _SOLO)
        self.queued_of_action = (verbs == Verb.QUEUE_MOVE_ENTITY).astype(np.int64)
        # Each cell's target is the centre of the raw pixel holding the cell's centre [G, 2], so every
        # backend sends the unit to the same world point (EntitySpec.target_pixels).
        pixels = spec.target_pixels()
        chosen = np.minimum(target, len(pixels) - 1)
        # the unit memory keeps the cell's centre (within half a pixel of where the unit goes)
        self._world_point = np.where(is_point[:, None], spec.cell_centres()[chosen], 0.0)
        self._point = np.where(is_point[:, None], pixels[chosen], 0.0)
        self._verb = verbs.astype(np.int64)
        self.cost_of_action = VERB_COST[verbs]  # minerals per action (all 0 on the combat maps)
        self._one_game = np.ones(1, np.bool_)

    def kernel_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per layout action: raw function id, target entity slot (-1: none), raw target point, one command
        per unit."""
        return self._function, self._slot, self._point, self._solo

    def affordable(self, actions: np.ndarray, raw: RawObs) -> tuple[np.ndarray, int]:
        """One game: (the actions [U] to send, how many were withheld): those that cost minerals, in slot
        order, while what the raw observation `raw` leaves spendable covers them; the rest become no-ops."""
        actions = np.reshape(np.asarray(actions, np.int64), (1, -1))
        if not self.cost_of_action.any():
            return actions[0], 0
        spendable = np.array([spendable_minerals(raw.raw_units, len(raw.raw_units), raw.player)])
        sent, withheld = np.empty_like(actions), np.zeros(1, np.int64)
        withhold_unaffordable(actions, self.cost_of_action, spendable, self._one_game, sent, withheld)
        return sent[0], int(withheld[0])

    def memory_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """Per layout action, for `remember_actions` after the target slot: verb, world target point."""
        return self._verb, self._world_point

    def group(self, actions: np.ndarray, action_mask: np.ndarray, slot_tags: np.ndarray,
              active: np.ndarray) -> GroupedCommands:
        """Batched: actions [B, U], masks [B, U, A], slot tags [B, N], active [B] -> grouped commands."""
        actions = np.asarray(actions)
        U = self.spec.max_units
        if actions.ndim != 2 or actions.shape[1] != U or action_mask.shape[:2] != actions.shape:
            raise ValueError(f"expected {U} actions (one per unit slot) per game, "
                             f"matching the masks; got shape {actions.shape}")
        size = actions.size
        ints, tags, points = np.empty((6, size), np.int64), np.empty(size, np.int64), np.empty((2, size))
        k, illegal = group_actions(np.ascontiguousarray(actions, np.int64), action_mask, slot_tags, active,
                                   self.max_selected_units, *self.kernel_tables(), ints, tags, points)
        return GroupedCommands(ints[:, :k], tags, points[:, :k], illegal, self.queued_of_action)

    def __call__(self, actions: np.ndarray, action_mask: np.ndarray, slots: SlotTags,
                 memory: UnitMemory | None = None) -> tuple[list[RawCommand], int]:
        """One game: raw commands for `actions` [U], and how many actions were illegal (and so dropped).
        With the game's `memory` (the one its observation was featurized with), record what was sent."""
        actions = np.reshape(actions, (1, -1))
        c = self.group(actions, action_mask[None], slots.tags[None], self._one_game)
        if memory is not None:
            remember_actions(actions.astype(np.int64, copy=False), action_mask[None], slots.tags[None],
                             self._one_game, self._slot, *self.memory_tables(), memory.arrays())
        return c.raw_commands(), int(c.illegal[0])
