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
  dropped, so it counts as a no-op); a stop ends the remembered orders, a targeted verb replaces them, a
  queued move appends its target behind them (or is the order, on an idle unit), a no-op keeps them.
- `resolve_orders` (featurize): the orders end when the unit reports none (raw order_length 0), and the
  first ones end while the unit reports fewer than are remembered (orders finish in turn); an entity
  order follows its target while the target is visible and keeps its last seen point after.
- `see_cells` (featurize, maps with fog): the game loop at which an own unit last saw each point-target
  cell's centre. pysc2's minimap visibility layer tells seen from never seen; the time since tells
  where enemies may have come back.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from envs.action_space import Verb
from envs.engine.units import UNIT_TYPES
from envs.raw_schema import FeatureUnit as FU

_NO_OP, _STOP = int(Verb.NO_OP), int(Verb.STOP)
_ENTITY_VERBS = (int(Verb.MOVE_ENTITY), int(Verb.ATTACK_ENTITY), int(Verb.GATHER), int(Verb.BUILD_REFINERY))
_IN_PLACE_VERBS = (int(Verb.RETURN), int(Verb.TRAIN_SCV), int(Verb.TRAIN_MARINE))  # no target: the order
# point is the unit's own position
_MOVE_ENTITY, _QUEUE = int(Verb.MOVE_ENTITY), int(Verb.QUEUE_MOVE_ENTITY)
NO_VERB = -1  # LAST_VERB of a unit that has not acted since it took its slot
QUEUE_LIMIT = 3  # queued moves a unit may hold behind its current order (the mask offers no more)

# columns of UnitMemory.units [B, U, 5 + QUEUE_LIMIT], per action slot
SLOT_TAG = 0  # tag of the own unit holding the slot, 0 = free
LAST_VERB = 1  # verb of the unit's previous action (`envs.action_space.Verb`), NO_VERB = none yet
ORDER_VERB = 2  # verb of the unit's current commanded order, NO_OP = none
ORDER_TAG = 3  # target tag of an entity order
QUEUED = 4  # moves queued behind the current order; their target tags follow in QUEUE_TAG + k
QUEUE_TAG = 5
# columns of UnitMemory.points [B, N, 6], per entity slot
X, Y = 0, 1  # world position of the slot's entity in the latest observation
ORDER_X, ORDER_Y = 2, 3  # action slots: the world point the unit's order aims at (an entity order:
# where its target was last seen)
END_X, END_Y = 4, 5  # action slots: where its last order, queued or current, aims (last seen)
NEVER_SEEN = -np.inf  # UnitMemory.cells of a cell no own unit has seen this episode
# By pysc2 unit type id: how far an own unit sees, centre to centre (game data, envs/engine/units.py, as
# the engine's fog); a Marine's 9 for a type the engine does not model.
SIGHT_BY_SC2_ID = np.full(4096, 9.0)
for _type in UNIT_TYPES:
    SIGHT_BY_SC2_ID[_type.sc2_id] = _type.sight


class UnitMemory:
    """Per-game arrays `units` (int64), `points` and `cells` (float64: the game loop each point-target cell
    was last seen at; no cells on a map without fog), updated in place by the kernels, which take
    `arrays()`. A few packed arrays rather than one per field: every array a kernel takes costs numba's
    dispatcher time on every call."""

    def __init__(self, num_games: int, max_units: int, max_entities: int, num_cells: int = 0):
        self.units = np.zeros((num_games, max_units, QUEUE_TAG + QUEUE_LIMIT), np.int64)
        self.points = np.zeros((num_games, max_entities, 6))
        self.cells = np.zeros((num_games, num_cells))
        self.clear()

    def clear(self, game: int | None = None) -> None:
        """Forget everything of `game` (default: every game): a new episode starts."""
        units = self.units if game is None else self.units[game]
        units[..., SLOT_TAG] = 0
        units[..., LAST_VERB] = NO_VERB
        units[..., ORDER_VERB] = _NO_OP
        units[..., QUEUED] = 0
        (self.cells if game is None else self.cells[game])[...] = NEVER_SEEN

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.units, self.points, self.cells


@njit(cache=True)
def assign_own_slots(raw, own, n_own, units, rows_out, overflow):
    """One game: own units (raw rows own[:n_own]) into action slots 0..U-1 of rows_out (-1 = empty), with
    the game's memory `units` [U, columns]. Returns how many own rows got no slot; they are written to
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
        units[u, QUEUED] = 0
        rows_out[u] = r
    return n_overflow


@njit(cache=True)
def _pop_order(units, u):
    """The unit's first queued move becomes its current order."""
    units[u, ORDER_VERB] = _MOVE_ENTITY
    units[u, ORDER_TAG] = units[u, QUEUE_TAG]
    for k in range(units[u, QUEUED] - 1):
        units[u, QUEUE_TAG + k] = units[u, QUEUE_TAG + k + 1]
    units[u, QUEUED] -= 1


@njit(cache=True)
def _visible(raw, n, tag, slot_of_row, targeted):
    """Row of the unit `tag` in this observation (-1: out of sight); its slot is counted in `targeted`."""
    for t in range(n):
        if raw[t, FU.tag] == tag:
            if slot_of_row[t] >= 0:
                targeted[slot_of_row[t]] += 1.0
            return t
    return -1


@njit(cache=True)
def resolve_orders(raw, pos, n, rows, units, points, slot_of_row, targeted):
    """One game: end the orders its units no longer carry, move entity orders' points to their visible
    targets, and count in targeted[s] the units whose orders, current or queued, target the entity in
    slot s."""
    targeted[:] = 0.0
    for u in range(units.shape[0]):
        r = rows[u]
        if r < 0 or units[u, ORDER_VERB] == _NO_OP:
            continue
        if raw[r, FU.order_length] == 0:
            units[u, ORDER_VERB] = _NO_OP
            units[u, QUEUED] = 0
            continue
        while units[u, QUEUED] > 0 and raw[r, FU.order_length] < 1 + units[u, QUEUED]:
            _pop_order(units, u)
        if units[u, ORDER_VERB] in _ENTITY_VERBS:
            t = _visible(raw, n, units[u, ORDER_TAG], slot_of_row, targeted)
            if t >= 0:
                points[u, ORDER_X], points[u, ORDER_Y] = pos[t, 0], pos[t, 1]
        last = units[u, QUEUED] - 1
        if last < 0:
            points[u, END_X], points[u, END_Y] = points[u, ORDER_X], points[u, ORDER_Y]
        for k in range(last + 1):
            t = _visible(raw, n, units[u, QUEUE_TAG + k], slot_of_row, targeted)
            if t >= 0 and k == last:
                points[u, END_X], points[u, END_Y] = pos[t, 0], pos[t, 1]


@njit(cache=True)
def remember_actions(actions, action_mask, slot_tags, active, slot_of_action, verb_of_action, point_of_action,
                     memory):
    """Record what every active game's slotted units were sent: actions [B, U] chosen on the observation
    whose entity tags are slot_tags [B, N]; per layout action its target slot (-1: none), verb and world
    target point (`Translator.memory_tables`)."""
    units, points = memory[0], memory[1]
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
            j = slot_of_action[a]
            if verb == _QUEUE and units[b, u, ORDER_VERB] != _NO_OP:
                if units[b, u, QUEUED] == QUEUE_LIMIT:  # the mask offers no more; the oldest wins
                    continue
                units[b, u, QUEUE_TAG + units[b, u, QUEUED]] = slot_tags[b, j]
                units[b, u, QUEUED] += 1
                points[b, u, END_X] = points[b, j, X]
                points[b, u, END_Y] = points[b, j, Y]
                continue
            units[b, u, ORDER_VERB] = _NO_OP if verb == _STOP else _MOVE_ENTITY if verb == _QUEUE else verb
            units[b, u, QUEUED] = 0
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
            points[b, u, END_X] = points[b, u, ORDER_X]
            points[b, u, END_Y] = points[b, u, ORDER_Y]


@njit(cache=True)
def see_cells(raw, pos, n, cells, loop, playable):
    """One game: stamp `loop` into cells [G * G] (row-major from the lowest x and y over the playable
    area x0, y0, x1, y1) for every cell whose centre is within an own unit's sight."""
    C = cells.shape[0]
    g = int(np.sqrt(C) + 0.5)
    w, h = (playable[2] - playable[0]) / g, (playable[3] - playable[1]) / g
    for r in range(n):
        a = raw[r, FU.alliance]
        if a != 1 and a != 2:  # pysc2 PlayerRelative self, ally
            continue
        sight = SIGHT_BY_SC2_ID[min(max(raw[r, FU.unit_type], 0), SIGHT_BY_SC2_ID.shape[0] - 1)]
        for k in range(C):
            dx = playable[0] + (k % g + 0.5) * w - pos[r, 0]
            dy = playable[1] + (k // g + 0.5) * h - pos[r, 1]
            if dx * dx + dy * dy <= sight * sight:
                cells[k] = loop
