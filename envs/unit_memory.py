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

_NO_OP, _STOP, _MOVE_ENTITY, _ATTACK_ENTITY = int(Verb.NO_OP), int(Verb.STOP), int(Verb.MOVE_ENTITY), \
    int(Verb.ATTACK_ENTITY)
NO_VERB = -1  # `last_verb` of a unit that has not acted since it took its slot


class UnitMemory:
    """Per-game arrays, updated in place by the kernels; `arrays()` is what they take.

    slot_tag [B, U]     tag of the own unit holding action slot u, 0 = free
    last_verb [B, U]    verb of the unit's previous action (`envs.action_space.Verb`), NO_VERB = none yet
    order_verb [B, U]   verb of the unit's current commanded order, NO_OP = none
    order_tag [B, U]    target tag of an entity order
    order_xy [B, U, 2]  world (x, y) the order points at (an entity order: where the target was last seen)
    slot_xy [B, N, 2]   world (x, y) of every slot's entity in the latest observation
    """

    def __init__(self, num_games: int, max_units: int, max_entities: int):
        B, U, N = num_games, max_units, max_entities
        self.slot_tag = np.zeros((B, U), np.int64)
        self.last_verb = np.full((B, U), NO_VERB, np.int64)
        self.order_verb = np.zeros((B, U), np.int64)
        self.order_tag = np.zeros((B, U), np.int64)
        self.order_xy = np.zeros((B, U, 2))
        self.slot_xy = np.zeros((B, N, 2))

    def clear(self, game: int | None = None) -> None:
        """Forget everything of `game` (default: every game): a new episode starts."""
        at = slice(None) if game is None else game
        self.slot_tag[at] = 0
        self.last_verb[at] = NO_VERB
        self.order_verb[at] = _NO_OP

    def arrays(self) -> tuple:
        return self.slot_tag, self.last_verb, self.order_verb, self.order_tag, self.order_xy, self.slot_xy


@njit(cache=True)
def assign_own_slots(units, own, n_own, memory, b, rows_out, overflow):
    """One game b: own units (raw rows own[:n_own]) into action slots 0..U-1 of rows_out (-1 = empty).

    Returns how many own rows got no slot; those are written to overflow[:count], in tag order."""
    slot_tag, last_verb, order_verb = memory[0][b], memory[1][b], memory[2][b]
    U = slot_tag.shape[0]
    placed = np.zeros(n_own, np.bool_)
    for u in range(U):
        rows_out[u] = -1
        if slot_tag[u] == 0:
            continue
        for k in range(n_own):
            if units[own[k], FU.tag] == slot_tag[u]:
                rows_out[u] = own[k]
                placed[k] = True
                break
        if rows_out[u] < 0:
            slot_tag[u] = 0  # the unit is gone
    waiting = np.empty(n_own, np.int64)
    waiting_tags = np.empty(n_own, np.int64)
    n_waiting = 0
    for k in range(n_own):
        if not placed[k]:
            waiting[n_waiting] = own[k]
            waiting_tags[n_waiting] = units[own[k], FU.tag]
            n_waiting += 1
    order = np.argsort(waiting_tags[:n_waiting], kind="mergesort")
    u = 0
    n_overflow = 0
    for k in range(n_waiting):
        r = waiting[order[k]]
        while u < U and slot_tag[u] != 0:
            u += 1
        if u == U:
            overflow[n_overflow] = r
            n_overflow += 1
            continue
        slot_tag[u] = units[r, FU.tag]
        rows_out[u] = r
        last_verb[u] = NO_VERB
        order_verb[u] = _NO_OP
    return n_overflow


@njit(cache=True)
def resolve_orders(units, pos, n, rows, memory, b, slot_of_row, targeted):
    """One game b: end the orders its units no longer carry, move entity orders' points to their visible
    targets, and count in targeted[s] the units whose order targets the entity in slot s."""
    slot_tag, last_verb, order_verb, order_tag, order_xy, slot_xy = memory
    targeted[:] = 0.0
    for u in range(slot_tag.shape[1]):
        r = rows[u]
        if r < 0 or order_verb[b, u] == _NO_OP:
            continue
        if units[r, FU.order_length] == 0:
            order_verb[b, u] = _NO_OP
            continue
        if order_verb[b, u] != _MOVE_ENTITY and order_verb[b, u] != _ATTACK_ENTITY:
            continue
        for t in range(n):
            if units[t, FU.tag] == order_tag[b, u]:
                order_xy[b, u, 0] = pos[t, 0]
                order_xy[b, u, 1] = pos[t, 1]
                if slot_of_row[t] >= 0:
                    targeted[slot_of_row[t]] += 1.0
                break


@njit(cache=True)
def remember_actions(actions, action_mask, slot_tags, active, verb_of_action, slot_of_action, point_of_action,
                     memory):
    """Record what every active game's slotted units were sent: actions [B, U] chosen on the observation
    whose entity tags are slot_tags [B, N]; per layout action its verb, target slot (-1: none) and world
    target point."""
    slot_tag, last_verb, order_verb, order_tag, order_xy, slot_xy = memory
    B, U = actions.shape
    A = action_mask.shape[2]
    for b in range(B):
        if not active[b]:
            continue
        for u in range(U):
            if slot_tag[b, u] == 0:
                continue
            a = actions[b, u]
            if a < 0 or a >= A or action_mask[b, u, a] == 0:
                a = 0  # dropped by translate: nothing was sent
            verb = verb_of_action[a]
            last_verb[b, u] = verb
            if verb == _NO_OP:
                continue
            order_verb[b, u] = _NO_OP if verb == _STOP else verb
            j = slot_of_action[a]
            if j >= 0:
                order_tag[b, u] = slot_tags[b, j]
                order_xy[b, u, 0] = slot_xy[b, j, 0]
                order_xy[b, u, 1] = slot_xy[b, j, 1]
            else:
                order_xy[b, u, 0] = point_of_action[a, 0]
                order_xy[b, u, 1] = point_of_action[a, 1]
