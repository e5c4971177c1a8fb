"""Compiled inner loops of `featurize` and `translate` (numba), batched over games.

Both the single env (a batch of one) and the vector env run these same kernels, so their observations
and commands are identical by construction. Per game: slot the units (own by tag, then enemies and
neutrals nearest the own units first), write the entity features, the action mask, and group the
units' chosen actions into commands.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from envs.raw_schema import FeatureUnit as FU

_SELF, _ALLY, _NEUTRAL, _ENEMY = 1, 2, 3, 4  # pysc2 PlayerRelative


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
def _slot_rows(units, pos, n, U, N, map_w, map_h, rows_out):
    """Fill rows_out [N] with raw row indices (-1 = empty slot); return the number dropped."""
    own = np.empty(n, np.int64)
    enemy = np.empty(n, np.int64)
    neutral = np.empty(n, np.int64)
    n_own = n_enemy = n_neutral = 0
    for r in range(n):
        a = units[r, FU.alliance]
        if a == _SELF or a == _ALLY:
            own[n_own] = r
            n_own += 1
        elif a == _ENEMY:
            enemy[n_enemy] = r
            n_enemy += 1
        elif a == _NEUTRAL:
            neutral[n_neutral] = r
            n_neutral += 1
    own_tags = np.empty(n_own, np.int64)
    for k in range(n_own):
        own_tags[k] = units[own[k], FU.tag]
    own = own[:n_own][np.argsort(own_tags, kind="mergesort")]
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

    rows_out[:] = -1
    for k in range(min(U, n_own)):
        rows_out[k] = own[k]
    slot = U
    for group, size, first in ((own, n_own, U), (enemy, n_enemy, 0), (neutral, n_neutral, 0)):
        for k in range(first, size):
            if slot == N:
                break
            rows_out[slot] = group[k]
            slot += 1
    placed = min(U, n_own) + slot - U
    return n_own + n_enemy + n_neutral - placed


@njit(cache=True)
def featurize_batch(units, pos, radii, counts, loops, int_params, float_params, type_lut,
                    entities, unit_type, entity_mask, scalars, action_mask, tags, dropped):
    """Write the entity observation of every game b into the [B, ...] output arrays.

    int_params: U, seg_move, seg_attack, seg_points, num_actions, and the order ids (raw function ids)
    of attack, move and smart; float_params: map width, map height, time limit in loops, feature bound."""
    U, seg_move, seg_attack, seg_points, num_actions = int_params[0], int_params[1], int_params[2], \
        int_params[3], int_params[4]
    attack_order, move_order, smart_order = int_params[5], int_params[6], int_params[7]
    map_w, map_h, time_limit, bound = float_params[0], float_params[1], float_params[2], float_params[3]
    B = counts.shape[0]
    N = entities.shape[1]
    rows = np.empty(N, np.int64)
    hx, hy = map_w / 2.0, map_h / 2.0
    for b in range(B):
        n = counts[b]
        u = units[b]
        p = pos[b]
        dropped[b] = _slot_rows(u, p, n, U, N, map_w, map_h, rows)
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
            f[9] = (p[r, 0] - cx) / 16.0
            f[10] = (p[r, 1] - cy) / 16.0
            f[11] = radii[b, r]
            f[12] = u[r, FU.weapon_cooldown] / 32.0
            f[13] = busy
            f[14] = busy and (order == move_order or order == smart_order)
            f[15] = busy and order == attack_order
            for c in range(f.shape[0]):
                f[c] = min(max(f[c], -bound), bound)
            t = u[r, FU.unit_type]
            # ids beyond the table share its last entry, the "other" bucket
            unit_type[b, s] = type_lut[min(max(t, 0), type_lut.shape[0] - 1)]
            entity_mask[b, s] = 1
            tags[b, s] = u[r, FU.tag]
        sc = scalars[b]
        sc[0] = min(loops[b] / time_limit, 1.0)
        sc[1] = min(n_own, U) / U
        sc[2] = n_enemy / N
        sc[3] = dropped[b] / N
        for c in range(sc.shape[0]):
            sc[c] = min(max(sc[c], 0.0), bound)
        _fill_action_mask(entity_mask[b], entities[b, :, 1], U, seg_move, seg_attack, seg_points, num_actions,
                          action_mask[b])


@njit(cache=True)
def _fill_action_mask(entity_mask, is_enemy, U, seg_move, seg_attack, seg_points, num_actions, out):
    """[U, A]: absent units may only no-op; present units may stop, move to any other entity, attack
    visible enemies, and move or attack-move to any cell."""
    N = entity_mask.shape[0]
    for unit in range(U):
        out[unit, 0] = 1  # no-op is always legal
        if entity_mask[unit] == 0:
            continue
        out[unit, 1] = 1
        for j in range(N):
            out[unit, seg_move + j] = entity_mask[j] == 1 and j != unit
            out[unit, seg_attack + j] = is_enemy[j] > 0.5
        for a in range(seg_points, num_actions):
            out[unit, a] = 1


@njit(cache=True)
def group_actions(actions, action_mask, tags, active, max_selected, function_of_action, slot_of_action,
                  point_of_action, out_ints, out_tags, out_points):
    """Group each game's legal non-no-op unit actions into raw commands of at most `max_selected` units.

    Per action of the layout: its raw function id, the entity slot whose tag is its target (-1: none) and
    its raw target point. Command k is written as out_ints[:, k] = (game, action, function, tag start,
    tag count, target tag), its unit tags out_tags[start:start+count], its point out_points[:, k].
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
                for c in range(i, j, max_selected):
                    count = min(max_selected, j - c)
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
