"""Compiled inner loops of `featurize` and `translate` (numba), batched over games.

Both the single env (a batch of one) and the vector env run these same kernels, so their observations
and commands are identical by construction. Per game: slot the units (`_slot_rows`), write the entity
features and the action mask, and group the units' chosen actions into commands. What carries over
between steps (slots, the units' last actions and orders) lives in `envs.unit_memory`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit

from envs.action_space import ECONOMY_VERBS, Verb
from envs.economy_kernels import ECONOMY_COLUMNS, economy_columns, economy_mask, economy_scalars
from envs.engine._numba_cache import ENGINE_SOURCES, refresh
from envs.engine.economy_data import PRODUCER, SCV
from envs.engine.state import TRAIN_MARINE, TRAIN_SCV
from envs.engine.units import UNIT_TYPES, Flag
from envs.raw_schema import FeatureUnit as FU
from envs.unit_memory import (
    END_X,
    END_Y,
    LAST_VERB,
    ORDER_VERB,
    ORDER_X,
    ORDER_Y,
    QUEUE_LIMIT,
    QUEUED,
    X,
    Y,
    assign_own_slots,
    resolve_orders,
    see_cells,
)

_HERE = Path(__file__).resolve().parent
# What this package's cached kernels compile in (engine_bridge's step calls the engine's step kernel).
KERNEL_SOURCES = ("action_space.py", "economy_kernels.py", "engine_bridge.py", "entity_kernels.py",
                  "raw_schema.py", "unit_memory.py")
refresh(_HERE, [_HERE / name for name in KERNEL_SOURCES] + ENGINE_SOURCES)  # before any cache is loaded

_SELF, _ALLY, _NEUTRAL, _ENEMY = 1, 2, 3, 4  # pysc2 PlayerRelative
OFFSET_SCALE = 16.0  # world distance of an offset feature 1.0 (a quarter of the 64-wide minigame maps)
# Columns after the 16 written one by one below (names: `featurize.entity_features`): a one-hot over the
# layout's V verbs (the unit's previous action), then (dx, dy) from the unit to its order's target, then
# the own units whose orders target this entity / U, then the unit's queued moves / QUEUE_LIMIT and (dx, dy)
# to where its last order aims, then on the economy maps economy_kernels' columns.
LAST_VERB_COLUMN = 16
# the unit type each train verb trains at (economy_data.PRODUCER); the other economy verbs are a worker's
_TRAINED_BY = {Verb.TRAIN_SCV: PRODUCER[TRAIN_SCV], Verb.TRAIN_MARINE: PRODUCER[TRAIN_MARINE]}
_WORKER_VERBS = tuple(v for v in ECONOMY_VERBS if v not in _TRAINED_BY)


def passive_types(unit_commands: bool, economy_verbs) -> np.ndarray:
    """By pysc2 unit type id: the own units no verb of the map applies to. They are observed among the
    entities and leave the action slots to the units that act: a BuildMarines policy's Supply Depots once
    held most of the 40 slots, and the SCVs trained after them, without one, idled to the end of the game.
    A structure acts if it trains a unit the map allows; a unit that moves acts if the map allows unit
    commands, and an SCV also if the map allows one of its economy verbs."""
    passive = np.zeros(4096, np.bool_)
    for k, t in enumerate(UNIT_TYPES):
        if t.flags & Flag.RESOURCE or t.flags & Flag.NEUTRAL_MARKER:
            continue
        if t.flags & Flag.STRUCTURE:
            acts = any(_TRAINED_BY.get(v) == k for v in economy_verbs)
        else:
            acts = unit_commands or (k == SCV and any(v in _WORKER_VERBS for v in economy_verbs))
        passive[t.sc2_id] = not acts
    return passive


def num_columns(num_verbs: int, economy: bool) -> int:
    """Entity feature columns with a layout of `num_verbs` verbs."""
    return LAST_VERB_COLUMN + num_verbs + 6 + (len(ECONOMY_COLUMNS) if economy else 0)


ORDER_MOVE, ORDER_ATTACK = 1, 2  # order kinds of featurize_batch's `order_kind` table


@njit(cache=True)
def _nearest_first(rows, n_rows, pos, anchor):
    """rows[:n_rows] ordered by distance to the nearest anchor point (stable)."""
    d = np.empty(n_rows)
    for k in range(n_rows):
        best = np.inf
        for a in range(anchor.shape[0]):
            dx = pos[rows[k], 0] - anchor[a, 0]
            dy = pos[rows[k], 1] - anchor[a, 1]
            best = min(best, np.sqrt(dx * dx + dy * dy))
        d[k] = best
    return rows[:n_rows][np.argsort(d, kind="mergesort")]


@njit(cache=True)
def _slot_rows(units, pos, n, memory_units, map_w, map_h, passive_type, rows_out):
    """Fill rows_out [N] with one game's raw row indices (-1 = empty slot); return the number dropped.

    Slots 0..U-1: own units that act, each in its slot for as long as it lives (`assign_own_slots`).
    Slots U..N-1: visible enemies nearest the own units first, then neutrals nearest first, then the own
    units left without an action slot (tag order), then the own units no verb applies to (`passive_types`).
    What does not fit is dropped."""
    own = np.empty(n, np.int64)
    passive = np.empty(n, np.int64)
    enemy = np.empty(n, np.int64)
    neutral = np.empty(n, np.int64)
    n_own = n_passive = n_enemy = n_neutral = 0
    for r in range(n):
        a = units[r, FU.alliance]
        if a == _SELF or a == _ALLY:
            if passive_type[min(max(units[r, FU.unit_type], 0), len(passive_type) - 1)]:
                passive[n_passive] = r
                n_passive += 1
            else:
                own[n_own] = r
                n_own += 1
        elif a == _ENEMY:
            enemy[n_enemy] = r
            n_enemy += 1
        elif a == _NEUTRAL:
            neutral[n_neutral] = r
            n_neutral += 1
    if n_own > 0:
        anchor = np.empty((n_own, 2))
        for k in range(n_own):
            anchor[k, 0] = pos[own[k], 0]
            anchor[k, 1] = pos[own[k], 1]
    else:
        anchor = np.empty((1, 2))
        anchor[0, 0] = map_w / 2.0
        anchor[0, 1] = map_h / 2.0
    enemy = _nearest_first(enemy, n_enemy, pos, anchor)
    neutral = _nearest_first(neutral, n_neutral, pos, anchor)
    overflow = np.empty(n_own, np.int64)
    n_overflow = assign_own_slots(units, own, n_own, memory_units, rows_out, overflow)

    U, N = memory_units.shape[0], rows_out.shape[0]
    rows_out[U:] = -1
    slot = U
    for group, size in ((enemy, n_enemy), (neutral, n_neutral), (overflow, n_overflow), (passive, n_passive)):
        for k in range(min(size, N - slot)):
            rows_out[slot] = group[k]
            slot += 1
    return n_enemy + n_neutral + n_overflow + n_passive - (slot - U)


@njit(cache=True)
def featurize_batch(units, pos, radii, counts, loops, player, int_params, float_params, type_lut, order_kind,
                    sites, passive_type, memory, entities, unit_type, entity_mask, scalars, action_mask, tags,
                    dropped):
    """Write the entity observation of every game b into the [B, ...] output arrays, and update the
    games' `UnitMemory` arrays (slots, orders, slot positions, cells seen).

    int_params: U, seg_move, seg_attack, seg_points, num_actions, num_verbs V, economy (0/1), the
    economy verbs allowed (bits), the economy segments (economy_kernels.economy_mask), whether the map
    allows unit commands (0/1), seg_queue; float_params: map width, map height, time limit in loops,
    feature bound, the playable area (x0, y0, x1, y1); order_kind: ORDER_MOVE, ORDER_ATTACK or 0 per
    order id; sites: economy_mask's; passive_type: `passive_types` of the map."""
    U, seg_move, seg_attack, seg_points = int_params[0], int_params[1], int_params[2], int_params[3]
    num_verbs, economy, allowed = int_params[5], int_params[6] == 1, int_params[7]
    order_column = LAST_VERB_COLUMN + num_verbs  # (dx, dy) from the unit to its order's target
    targeted_column = order_column + 2
    queue_column = targeted_column + 1  # queued moves, then (dx, dy) to the last order's aim
    map_w, map_h, time_limit, bound = float_params[0], float_params[1], float_params[2], float_params[3]
    mem_units, mem_points, mem_cells = memory
    num_cells = mem_cells.shape[1]  # 0 on a map without fog
    B = counts.shape[0]
    N = entities.shape[1]
    rows = np.empty(N, np.int64)
    slot_of_row = np.empty(units.shape[1], np.int64)
    targeted = np.empty(N)
    hx, hy = map_w / 2.0, map_h / 2.0
    for b in range(B):
        n = counts[b]
        u = units[b]
        p = pos[b]
        mu, mp = mem_units[b], mem_points[b]
        dropped[b] = _slot_rows(u, p, n, mu, map_w, map_h, passive_type, rows)
        slot_of_row[:n] = -1
        for s in range(N):
            if rows[s] >= 0:
                slot_of_row[rows[s]] = s
        resolve_orders(u, p, n, rows, mu, mp, slot_of_row, targeted)
        entities[b] = 0.0
        unit_type[b] = 0
        entity_mask[b] = 0
        tags[b] = 0
        action_mask[b] = 0
        # own units' centroid (for relative positions)
        cx = cy = 0.0
        n_own = n_enemy = 0
        for r in range(n):
            a = u[r, FU.alliance]
            if a == _SELF or a == _ALLY:
                cx += p[r, 0]
                cy += p[r, 1]
                n_own += 1
            elif a == _ENEMY:
                n_enemy += 1
        if n_own > 0:
            cx /= n_own
            cy /= n_own
        else:
            cx, cy = hx, hy
        for s in range(N):
            r = rows[s]
            if r < 0:
                continue
            a = u[r, FU.alliance]
            busy = u[r, FU.order_length] > 0
            order = u[r, FU.order_id_0]
            kind = order_kind[order] if 0 <= order < order_kind.shape[0] else 0
            f = entities[b, s]
            f[0] = a == _SELF or a == _ALLY
            f[1] = a == _ENEMY
            f[2] = a == _NEUTRAL
            f[3] = u[r, FU.health_ratio] / 255.0
            f[4] = u[r, FU.shield_ratio] / 255.0
            f[5] = u[r, FU.health] / 100.0
            f[6] = u[r, FU.shield] / 100.0
            f[7] = (p[r, 0] - hx) / hx
            f[8] = (p[r, 1] - hy) / hy
            f[9] = (p[r, 0] - cx) / OFFSET_SCALE
            f[10] = (p[r, 1] - cy) / OFFSET_SCALE
            f[11] = radii[b, r]
            f[12] = u[r, FU.weapon_cooldown] / 32.0
            f[13] = busy
            f[14] = busy and kind == ORDER_MOVE
            f[15] = busy and kind == ORDER_ATTACK
            if s < U:
                if mu[s, LAST_VERB] >= 0:
                    f[LAST_VERB_COLUMN + mu[s, LAST_VERB]] = 1.0
                if mu[s, ORDER_VERB] != 0:
                    f[order_column] = (mp[s, ORDER_X] - p[r, 0]) / OFFSET_SCALE
                    f[order_column + 1] = (mp[s, ORDER_Y] - p[r, 1]) / OFFSET_SCALE
                    f[queue_column] = mu[s, QUEUED] / QUEUE_LIMIT
                    f[queue_column + 1] = (mp[s, END_X] - p[r, 0]) / OFFSET_SCALE
                    f[queue_column + 2] = (mp[s, END_Y] - p[r, 1]) / OFFSET_SCALE
            f[targeted_column] = targeted[s] / U
            if economy:
                economy_columns(u[r], f, queue_column + 3)
            for c in range(f.shape[0]):
                f[c] = min(max(f[c], -bound), bound)
            t = u[r, FU.unit_type]
            # ids beyond the table share its last entry, the "other" bucket
            unit_type[b, s] = type_lut[min(max(t, 0), type_lut.shape[0] - 1)]
            entity_mask[b, s] = 1
            tags[b, s] = u[r, FU.tag]
            mp[s, X] = p[r, 0]
            mp[s, Y] = p[r, 1]
        sc = scalars[b]
        sc[0] = min(loops[b] / time_limit, 1.0)
        sc[1] = min(n_own, U) / U
        sc[2] = n_enemy / N
        sc[3] = dropped[b] / N
        if economy:
            economy_scalars(player[b], sc, 4)
        if num_cells > 0:  # the last scalars: time since each cell was seen / the time limit (1: never)
            see_cells(u, p, n, mem_cells[b], loops[b], float_params[4:8])
            for k in range(num_cells):
                sc[sc.shape[0] - num_cells + k] = min((loops[b] - mem_cells[b, k]) / time_limit, 1.0)
        for c in range(sc.shape[0]):
            sc[c] = min(max(sc[c], 0.0), bound)
        _fill_action_mask(entity_mask[b], entities[b, :, 1], mu[:, QUEUED], U, seg_move, seg_attack,
                          seg_points, int_params[17], int_params[16] == 1, action_mask[b])
        if economy:
            economy_mask(u, p, n, rows, player[b], int_params[8:16], allowed, float_params[4:8], sites,
                         action_mask[b])


@njit(cache=True)
def _fill_action_mask(entity_mask, is_enemy, queued, U, seg_move, seg_attack, seg_points, seg_queue,
                      unit_commands, out):
    """[U, A]: absent units, and every unit on a map without unit commands, may only no-op (of the
    combat verbs); present units may stop, move to any other entity, attack visible enemies, move or
    attack-move to any cell, and queue a move to any other entity while they hold fewer than QUEUE_LIMIT
    queued."""
    N = entity_mask.shape[0]
    for unit in range(U):
        out[unit, 0] = 1  # no-op is always legal
        if entity_mask[unit] == 0 or not unit_commands:
            continue
        out[unit, 1] = 1
        for j in range(N):
            out[unit, seg_move + j] = entity_mask[j] == 1 and j != unit
            out[unit, seg_attack + j] = is_enemy[j] > 0.5
            out[unit, seg_queue + j] = out[unit, seg_move + j] and queued[unit] < QUEUE_LIMIT
        for a in range(seg_points, seg_queue):  # the two point verbs' cells
            out[unit, a] = 1


@njit(cache=True)
def group_actions(actions, action_mask, tags, active, max_selected, function_of_action, slot_of_action,
                  point_of_action, solo_of_action, out_ints, out_tags, out_points):
    """Group each game's legal non-no-op unit actions into raw commands of at most `max_selected` units.

    Per action of the layout: its raw function id, the entity slot whose tag is its target (-1: none), its
    raw target point, and whether each unit gets a command of its own (a train verb: the game trains one
    unit per command, whatever the structures selected). Command k is written as out_ints[:, k] =
    (game, action, function, tag start, tag count, target tag), its unit tags
    out_tags[start:start+count], its point out_points[:, k].
    Returns (commands, illegal[B]); illegal or out-of-range actions are counted and dropped."""
    B, U = actions.shape
    A = action_mask.shape[2]
    illegal = np.zeros(B, np.int64)
    k = 0
    t = 0
    order = np.empty(U, np.int64)
    for b in range(B):
        if not active[b]:
            continue
        chosen = np.zeros(U, np.int64)
        for unit in range(U):
            a = actions[b, unit]
            if a < 0 or a >= A or action_mask[b, unit, a] == 0:
                illegal[b] += 1
            else:
                chosen[unit] = a
        order[:] = np.argsort(chosen, kind="mergesort")
        i = 0
        while i < U:
            a = chosen[order[i]]
            j = i
            while j < U and chosen[order[j]] == a:
                j += 1
            if a > 0:
                slot = slot_of_action[a]
                chunk = 1 if solo_of_action[a] else max_selected
                for c in range(i, j, chunk):
                    count = min(chunk, j - c)
                    out_ints[0, k] = b
                    out_ints[1, k] = a
                    out_ints[2, k] = function_of_action[a]
                    out_ints[3, k] = t
                    out_ints[4, k] = count
                    out_ints[5, k] = tags[b, slot] if slot >= 0 else 0
                    out_points[0, k] = point_of_action[a, 0]
                    out_points[1, k] = point_of_action[a, 1]
                    for m in range(c, c + count):
                        out_tags[t] = tags[b, order[m]]
                        t += 1
                    k += 1
            i = j
    return k, illegal
