"""The per-unit action space: one flat categorical of joint (verb, target) choices per own unit.

Layout of the A choices of one unit:

    [no_op] [stop] [move to entity j, j < N] [attack entity j, j < N]
    [move to cell c, c < G] [attack-move to cell c, c < G] [then move to entity j, j < N]

and on the economy maps (`economy=True`) the economy's verbs after them:

    [gather from entity j] [return cargo] [build a Supply Depot / Barracks / Command Center at cell c]
    [build a Refinery on entity j] [train an SCV] [train a Marine]

where N is the number of entity slots and G = grid_size**2 cells over the map's playable area
(row-major from the lowest world x and y). A layout's verbs are always a prefix of `Verb`, so a verb's
value is its index in every layout that has it, and a combat map's layout is the same whether or not the
economy verbs exist. The env, `translate` and the policy heads all read this one layout.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property

import numpy as np


class Target(enum.Enum):
    NONE = "none"
    ENTITY = "entity"
    POINT = "point"


class Verb(enum.IntEnum):
    NO_OP = 0  # keep the current order
    STOP = 1
    MOVE_ENTITY = 2
    ATTACK_ENTITY = 3
    MOVE_POINT = 4
    ATTACK_POINT = 5
    # after the unit's current orders (pysc2's `queued` argument): a unit that takes one mineral shard walks
    # on to the next without waiting for a decision
    QUEUE_MOVE_ENTITY = 6
    # the economy's (pysc2 RAW_FUNCTIONS Harvest_*, Build_*, Train_*), on the economy maps only
    GATHER = 7  # a mineral field or an own Refinery
    RETURN = 8  # carry the cargo to the nearest Command Center
    BUILD_SUPPLY_DEPOT = 9
    BUILD_BARRACKS = 10
    BUILD_COMMAND_CENTER = 11
    BUILD_REFINERY = 12  # on a vespene geyser
    TRAIN_SCV = 13  # a Command Center's verb
    TRAIN_MARINE = 14  # a Barracks' verb


VERB_TARGET = {
    Verb.NO_OP: Target.NONE,
    Verb.STOP: Target.NONE,
    Verb.MOVE_ENTITY: Target.ENTITY,
    Verb.ATTACK_ENTITY: Target.ENTITY,
    Verb.MOVE_POINT: Target.POINT,
    Verb.ATTACK_POINT: Target.POINT,
    Verb.QUEUE_MOVE_ENTITY: Target.ENTITY,
    Verb.GATHER: Target.ENTITY,
    Verb.RETURN: Target.NONE,
    Verb.BUILD_SUPPLY_DEPOT: Target.POINT,
    Verb.BUILD_BARRACKS: Target.POINT,
    Verb.BUILD_COMMAND_CENTER: Target.POINT,
    Verb.BUILD_REFINERY: Target.ENTITY,
    Verb.TRAIN_SCV: Target.NONE,
    Verb.TRAIN_MARINE: Target.NONE,
}
COMBAT_VERBS = tuple(Verb)[: Verb.QUEUE_MOVE_ENTITY + 1]
ECONOMY_VERBS = tuple(Verb)[Verb.GATHER :]


def layout_verbs(economy: bool) -> tuple[Verb, ...]:
    """The verbs of a layout: the combat verbs, and the economy's after them on the economy maps."""
    return COMBAT_VERBS + ECONOMY_VERBS if economy else COMBAT_VERBS


@dataclass(frozen=True)
class Segment:
    """A contiguous run of actions sharing one verb: actions start .. start+size-1."""

    verb: Verb
    target: Target
    start: int
    size: int


@dataclass(frozen=True)
class ActionLayout:
    max_entities: int
    grid_size: int
    economy: bool = False  # the economy verbs too

    @property
    def verbs(self) -> tuple[Verb, ...]:
        return layout_verbs(self.economy)

    @property
    def num_cells(self) -> int:
        return self.grid_size * self.grid_size

    @cached_property
    def segments(self) -> tuple[Segment, ...]:
        sizes = {Target.NONE: 1, Target.ENTITY: self.max_entities, Target.POINT: self.num_cells}
        out, start = [], 0
        for verb in self.verbs:
            size = sizes[VERB_TARGET[verb]]
            out.append(Segment(verb, VERB_TARGET[verb], start, size))
            start += size
        return tuple(out)

    @cached_property
    def num_actions(self) -> int:
        last = self.segments[-1]
        return last.start + last.size

    def segment(self, verb: Verb) -> Segment:
        if int(verb) >= len(self.segments):
            raise ValueError(f"{Verb(verb).name} is an economy verb; this layout has the combat verbs only")
        return self.segments[int(verb)]

    def encode(self, verb: Verb, target: int = 0) -> int:
        seg = self.segment(verb)
        if not 0 <= target < seg.size:
            raise ValueError(f"target {target} out of range for {verb.name} (size {seg.size})")
        return seg.start + target

    def decode(self, action: int) -> tuple[Verb, int]:
        if not 0 <= action < self.num_actions:
            raise ValueError(f"action {action} out of range 0..{self.num_actions - 1}")
        return Verb(int(self.verb_of_action[action])), int(self.target_of_action[action])

    @cached_property
    def verb_of_action(self) -> np.ndarray:
        """[A] the verb of every action."""
        return np.concatenate([np.full(seg.size, int(seg.verb)) for seg in self.segments])

    @cached_property
    def target_of_action(self) -> np.ndarray:
        """[A] the target index (entity slot or cell; 0 for verbs without target) of every action."""
        return np.concatenate([np.arange(seg.size) for seg in self.segments])
