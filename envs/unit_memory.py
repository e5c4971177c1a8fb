"""What the entity env carries from one step to the next, per game: which own unit holds which slot, and
what each unit was last commanded.

A raw observation alone cannot tell a unit's previous action or its order's target (pysc2's raw units
report the order's ability, not its target), so the env remembers what it commanded. AlphaStar feeds
each step's action back as an input for the same reason (Vinyals et al. 2019, "Grandmaster level in
StarCraft II using multi-agent reinforcement learning", Nature 575). Both envs and every backend keep
this state in a `UnitMemory` and update it with the kernels below, so they agree by construction:

- `assign_own_slots` (featurize): a living own unit keeps its slot; a unit that is gone frees its slot;
  units without a slot take the lowest free ones in tag order, and their memory starts empty.
- `remember_actions` (translate): each slotted unit's verb as sent (an action the mask forbids is
  dropped, so it counts as a no-op); a stop ends the remembered order, a targeted verb replaces it, a
  no-op keeps it.
- `resolve_orders` (featurize): an order ends when the unit reports no order (raw order_length 0);
  an entity order follows its target while the target is visible and keeps its last seen point after.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from envs.action_space import Verb
from envs.raw_schema import FeatureUnit as FU

_NO_OP, _STOP = int(Verb.NO_OP), int(Verb.STOP)
_ENTITY_VERBS = (int(Verb.MOVE_ENTITY), int(Verb.ATTACK_ENTITY), int(Verb.GATHER), int(Verb.BUILD_REFINERY))
_IN_PLACE_VERBS = (int(Verb.RETURN), int(Verb.TRAIN_SCV), int(Verb.TRAIN_MARINE))  # no target: the order
# point is the unit's own position
NO_VERB = -1  # LAST_VERB of a unit that has not acted since it took its slot

# columns of UnitMemory.units [B, U, 4], per action slot
SLOT_TAG = 0  # tag of the own unit holding the slot, 0 = free
LAST_VERB = 1  # verb of the unit's previous action (`envs.action_space.Verb`), NO_VERB = none yet
ORDER_VERB = 2  # verb of the unit's current commanded order, NO_OP = none
ORDER_TAG = 3  # target tag of an entity order
# columns of UnitMemory.points [B, N, 4], per entity slot
X, Y = 0, 1  # world position of the slot's entity in the latest observation
ORDER_X, ORDER_Y = 2, 3  # action slots: the world point the unit's order aims at (an entity order:
# where its target was last seen)


class UnitMemory:
    """Per-game arrays `units` (int64) and `points` (float64), updated in place by the kernels, which take
    `arrays()`. Two packed arrays rather than one per field: every array a kernel takes costs numba's
    dispatcher time on every call."""

    def __init__(self, num_games: int, max_units: int, max_entities: int):
        self.units = np.zeros((num_games, max_units, 4), np.int64)
        self.points = np.zeros((num_games, max_entities, 4))
        self.clear()

    def clear(self, game: int | None = None) -> None:
        """Forget everything of `game` (default: every game): a new episode starts."""
        units = self.units if game is None else self.units[game]
        units[..., SLOT_TAG] = 0
        units[..., LAST_VERB] = NO_VERB
        units[..., ORDER_VERB] = _NO_OP

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.units, self.points


@njit(cache=True)
def assign_own_slots(raw, own, n_own, units, rows_out, overflow):
    """One game: own units (raw rows own[:n_own]) into action slots 0..U-1 of rows_out (-1 = empty), with
    the game's memory `units` [U, 4]. Returns how many own rows got no slot; they are written to
    overflow[:count], in tag order."""
    U = units.shape[0]
    placed = np.zeros(n_own, np.bool_)
    n_placed = 0
    for u in range(U):
        rows_out[u] = -1
        if units[u, SLOT_TAG] == 0:
            continue
        for k in range(n_own):
            if raw[own[k], FU.tag] == units[u, SLOT_TAG]:
                rows_out[u] = own[k]
                placed[k] = True
                n_placed += 1
                break
        if rows_out[u] < 0:
            units[u, SLOT_TAG] = 0  # the unit is gone
    if n_placed == n_own:  # the usual step: nobody new
        return 0
    waiting = np.empty(n_own - n_placed, np.int64)
    waiting_tags = np.empty(n_own - n_placed, np.int64)
    w = 0
    for k in range(n_own):
        if not placed[k]:
            waiting[w] = own[k]
            waiting_tags[w] = raw[own[k], FU.tag]
            w += 1
    u = 0
    n_overflow = 0
    for k in np.argsort(waiting_tags, kind="mergesort"):
        r = waiting[k]
        while u < U and units[u, SLOT_TAG] != 0:
            u += 1
        if u == U:
            overflow[n_overflow] = r
            n_overflow += 1
            continue
        units[u, SLOT_TAG] = raw[r, FU.tag]
        units[u, LAST_VERB] = NO_VERB
        units[u, ORDER_VERB] = _NO_OP
        rows_out[u] = r
    return n_overflow


@njit(cache=True)
def resolve_orders(raw, pos, n, rows, units, points, slot_of_row, targeted):
    """One game: end the orders its units no longer carry, move entity orders' points to their visible
    targets, and count in targeted[s] the units whose order targets the entity in slot s."""
    targeted[:] = 0.0
    for u in range(units.shape[0]):
        r = rows[u]
        verb = units[u, ORDER_VERB]
        if r < 0 or verb == _NO_OP:
            continue
        if raw[r, FU.order_length] == 0:
            units[u, ORDER_VERB] = _NO_OP
            continue
        if verb not in _ENTITY_VERBS:
            continue
        for t in range(n):
            if raw[t, FU.tag] == units[u, ORDER_TAG]:
                points[u, ORDER_X] = pos[t, 0]
                points[u, ORDER_Y] = pos[t, 1]
                if slot_of_row[t] >= 0:
                    targeted[slot_of_row[t]] += 1.0
                break


@njit(cache=True)
def remember_actions(actions, action_mask, slot_tags, active, slot_of_action, verb_of_action, point_of_action,
                     memory):
    """Record what every active game's slotted units were sent: actions [B, U] chosen on the observation
    whose entity tags are slot_tags [B, N]; per layout action its target slot (-1: none), verb and world
    target point (`Translator.memory_tables`)."""
    units, points = memory
    B, U = actions.shape
    A = action_mask.shape[2]
    for b in range(B):
        if not active[b]:
            continue
        for u in range(U):
            if units[b, u, SLOT_TAG] == 0:
                continue
            a = actions[b, u]
            if a < 0 or a >= A or action_mask[b, u, a] == 0:
                a = 0  # dropped by translate: nothing was sent
            verb = verb_of_action[a]
            units[b, u, LAST_VERB] = verb
            if verb == _NO_OP:
                continue
            units[b, u, ORDER_VERB] = _NO_OP if verb == _STOP else verb
            j = slot_of_action[a]
            if j >= 0:
                units[b, u, ORDER_TAG] = slot_tags[b, j]
                points[b, u, ORDER_X] = points[b, j, X]
                points[b, u, ORDER_Y] = points[b, j, Y]
            elif verb in _IN_PLACE_VERBS:
                points[b, u, ORDER_X] = points[b, u, X]
                points[b, u, ORDER_Y] = points[b, u, Y]
            else:
                points[b, u, ORDER_X] = point_of_action[a, 0]
                points[b, u, ORDER_Y] = point_of_action[a, 1]
