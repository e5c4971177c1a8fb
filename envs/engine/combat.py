"""Numba kernels for one unit's loop: orders, movement, target acquisition, engagement, collision.

Every kernel takes the game's `State` and `Tables` (state.py) and the game index g; weapons.py fires the
shots. Choices made where the game's behaviour is not published:
- Range is edge to edge: centre distance - both radii <= weapon range.
- Range slop: a unit keeps firing, without moving, at the target its weapon is engaged with (the one it
  was in range of on its last attacking loop) out to weapon range + RANGE_SLOP, so a melee unit nudged a
  hair out of reach by collisions keeps swinging instead of stepping back in (moving and firing are
  exclusive within a loop). Moving for any other reason, or losing the target beyond the slop, ends the
  engagement. Re-issuing the same attack order keeps it (the engagement belongs to the weapon, not to
  the order).
- No turning time: a unit faces its target at once (facing is only observed).
- Acquisition (`acquire`): an idle unit fires, without moving, at the best enemy inside its weapon range;
  if none is, it goes after the best one inside its weapon's scan range (units.py SCAN_RANGE). A holding
  unit only fires at what its weapon reaches. Attack-move engages the best enemy in range, else in scan
  range, else walks on. Chases have no leash: the game's AcquireLeashRadius (21) exceeds the minigames'
  arenas.
- Ground units push apart pairwise once per loop: the overlap is split evenly, except that a unit
  holding position is not pushed, and a unit that walked this loop cannot push an enemy - it takes the
  whole push itself - so surrounds and body blocks hold (in the game only a player's own units give way
  to its movers).
"""

from __future__ import annotations

import math

from envs.engine.grid import AGENT_GRID, ENEMY_GRID, GRID_SLACK, GROUND_GRID, build, cell_range, drift
from envs.engine.jit import hot, inline
from envs.engine.lookup import FAR, RANGE_EPS, RANGE_SLOP, edge_dist, radius, valid_unit
from envs.engine.maps import PLAY_X0, PLAY_X1, PLAY_Y0, PLAY_Y1
from envs.engine.rng import uniform
from envs.engine.state import (
    ALIVE,
    ATTACK_POINT,
    ATTACK_UNIT,
    CHASE_TAG,
    CHASE_TARGET,
    COOLDOWN,
    DIST_LEFT,
    FACING_X,
    FACING_Y,
    HOLD_POSITION,
    KIND,
    LOOP,
    MOVE_POINT,
    MOVE_UNIT,
    MOVED_AT,
    NO_ORDER,
    NUM_ORDERS,
    NUM_SLOTS,
    OWNER,
    OWNER_AGENT,
    OWNER_ENEMY,
    RELOCATIONS,
    TAG,
    TARGET,
    TARGET_RELOCATIONS,
    TARGET_TAG,
    TYPE,
    WEAPON_TAG,
    WEAPON_TARGET,
    WINDUP,
    X,
    Y,
)
from envs.engine.units import (
    DAMAGE,
    FLAG_GROUND,
    FLAG_MARKER,
    FLAG_STRUCTURE,
    FLAGS,
    RADIUS,
    RANGE,
    SCAN_RANGE,
    SPEED,
    TARGET_PRIORITY,
)
from envs.engine.weapons import regenerate, start_attack, wind_up

BOX_SLACK = 0.5  # > the fastest unit's move per loop (2.95 / 16): boxes stay conservative within a loop
ARRIVE_SLACK = 1.5  # a mover this close to its point that is pushed back (blocked) counts as arrived
TWO_PI = 2.0 * math.pi


@inline
def is_holding(state, g, u):
    return state.unit_i[g, u, NUM_ORDERS] > 0 and state.order_i[g, u, 0, KIND] == HOLD_POSITION


@inline
def pop_order(state, g, u):
    """End the current order; the queue moves up."""
    ui, uf, oi, oxy = state.unit_i, state.unit_f, state.order_i, state.order_xy
    n = ui[g, u, NUM_ORDERS]
    for k in range(n - 1):
        for c in range(oi.shape[3]):
            oi[g, u, k, c] = oi[g, u, k + 1, c]
        oxy[g, u, k, 0] = oxy[g, u, k + 1, 0]
        oxy[g, u, k, 1] = oxy[g, u, k + 1, 1]
    ui[g, u, NUM_ORDERS] = max(n - 1, 0)
    uf[g, u, DIST_LEFT] = FAR


@inline
def face(state, g, u, dx, dy):
    if dx != 0.0 or dy != 0.0:
        state.unit_f[g, u, FACING_X] = dx
        state.unit_f[g, u, FACING_Y] = dy


@inline
def step_toward(state, g, u, tx, ty, step):
    """Move up to `step` toward (tx, ty); return the distance left before the move."""
    uf = state.unit_f
    dx = tx - uf[g, u, X]
    dy = ty - uf[g, u, Y]
    d = math.sqrt(dx * dx + dy * dy)
    face(state, g, u, dx, dy)
    if d <= step:
        uf[g, u, X] = tx
        uf[g, u, Y] = ty
    elif d > 0.0:
        uf[g, u, X] += dx / d * step
        uf[g, u, Y] += dy / d * step
    if d > 0.0 and step > 0.0:
        state.unit_i[g, u, MOVED_AT] = state.game[g, LOOP]
    return d


@inline
def move_to_point(state, tables, g, u, tx, ty):
    """Advance toward a point; True when arrived (reached, or blocked within ARRIVE_SLACK)."""
    uf, step = state.unit_f, tables.type_f[state.unit_i[g, u, TYPE], SPEED]
    dx = tx - uf[g, u, X]
    dy = ty - uf[g, u, Y]
    d = math.sqrt(dx * dx + dy * dy)
    face(state, g, u, dx, dy)
    if d <= step:
        uf[g, u, X] = tx
        uf[g, u, Y] = ty
        state.unit_i[g, u, MOVED_AT] = state.game[g, LOOP]
        return True
    # pushed back by more than 3/4 of a step since the last loop: the spot is taken, stop here
    if d < ARRIVE_SLACK and d > uf[g, u, DIST_LEFT] + 0.75 * step:
        return True
    state.unit_i[g, u, MOVED_AT] = state.game[g, LOOP]
    uf[g, u, X] += dx / d * step
    uf[g, u, Y] += dy / d * step
    uf[g, u, DIST_LEFT] = d - step
    return False


@hot
def side_boxes(state, tables, g, scratch):
    """At the start of a loop, each side's living units and their bounding box and largest radius:
    sides[0, :side_count[0]] the agent's units in slot order, sides[1] the enemy's; boxes[0:5] the agent's
    (x0, y0, x1, y1, rmax), boxes[5:10] the enemy's. Lets `acquire` scan only the hostile side, and skip
    hopeless scans. The lists come with what `acquire` reads of each unit, in contiguous rows: side_xyr
    its position (kept current as units act: `note_moved`) and radius, side_score its `threat`; side_at
    maps a slot to its index in its list."""
    uf, ui = state.unit_f, state.unit_i
    boxes, sides, side_count = scratch.boxes, scratch.sides, scratch.side_count
    xyr, score, at = scratch.side_xyr, scratch.side_score, scratch.side_at
    for k in range(2):
        boxes[5 * k], boxes[5 * k + 1], boxes[5 * k + 2], boxes[5 * k + 3] = FAR, FAR, -FAR, -FAR
        boxes[5 * k + 4] = 0.0
        side_count[k] = 0
    for v in range(state.game[g, NUM_SLOTS]):
        at[v] = -1
        if ui[g, v, ALIVE] == 0:
            continue
        o = ui[g, v, OWNER]
        if o != OWNER_AGENT and o != OWNER_ENEMY:
            continue
        side = 0 if o == OWNER_AGENT else 1
        i = side_count[side]
        sides[side, i] = v
        side_count[side] = i + 1
        at[v] = i
        k = 5 * side
        x, y, r = uf[g, v, X], uf[g, v, Y], radius(state, tables, g, v)
        xyr[side, 0, i], xyr[side, 1, i], xyr[side, 2, i] = x, y, r
        score[side, i] = threat(tables, ui[g, v, TYPE])
        boxes[k] = min(boxes[k], x)
        boxes[k + 1] = min(boxes[k + 1], y)
        boxes[k + 2] = max(boxes[k + 2], x)
        boxes[k + 3] = max(boxes[k + 3], y)
        boxes[k + 4] = max(boxes[k + 4], r)


@inline
def note_moved(state, g, u, scratch):
    """After unit u acted: its entry in the side lists gets its new position (within a loop, a unit moves
    only while it acts)."""
    i = scratch.side_at[u]
    if i >= 0:
        side = 0 if state.unit_i[g, u, OWNER] == OWNER_AGENT else 1
        scratch.side_xyr[side, 0, i] = state.unit_f[g, u, X]
        scratch.side_xyr[side, 1, i] = state.unit_f[g, u, Y]


@inline
def threat(tables, vt):
    """The part of `acquire`'s ranking that a unit's type fixes: its target priority, then whether it is
    armed."""
    return 4 * tables.type_i[vt, TARGET_PRIORITY] + (2 if tables.type_f[vt, DAMAGE] > 0.0 else 0)


@inline
def rank(state, g, v, dx, dy, rv, base, ur, owner, fire_range, scan_range, best):
    """`acquire`'s ranking of the living hostile unit v, at (dx, dy) from u's centre, of radius rv and
    `threat` base; `best` is (fire slot, score, distance, scan slot, score, distance), returned updated.
    Equal candidates go to the lower slot, whatever order they come in."""
    ui = state.unit_i
    best_fire, fire_score, fire_d, best_scan, scan_score, scan_d = best
    reach = scan_range + RANGE_EPS + ur + rv
    d2 = dx * dx + dy * dy
    if d2 > reach * reach:  # cheap reject before the square root
        return best
    d = math.sqrt(d2) - ur - rv
    # without short-circuits, so that the compiler picks rather than branches (the comparisons of close
    # distances are coin flips to a branch predictor); slot -1 reads a real row and is then discarded
    w = ui[g, v, WEAPON_TARGET]
    helping = (w >= 0) & (ui[g, w, ALIVE] == 1) & (ui[g, w, TAG] == ui[g, v, WEAPON_TAG]) & (
        ui[g, w, OWNER] == owner)
    score = base + (1 if helping else 0)
    to_scan = (score > scan_score) | ((score == scan_score) & (
        (d < scan_d) | ((d == scan_d) & (v < best_scan))))
    best_scan = v if to_scan else best_scan
    scan_score = score if to_scan else scan_score
    scan_d = d if to_scan else scan_d
    to_fire = (d <= fire_range + RANGE_EPS) & ((score > fire_score) | ((score == fire_score) & (
        (d < fire_d) | ((d == fire_d) & (v < best_fire)))))
    best_fire = v if to_fire else best_fire
    fire_score = score if to_fire else fire_score
    fire_d = d if to_fire else fire_d
    return best_fire, fire_score, fire_d, best_scan, scan_score, scan_d


@inline
def acquire(state, tables, g, u, fire_range, scan_range, scratch):
    """The best hostile targets of u whose edge is within `fire_range` and within `scan_range` of u's edge
    (two slots, -1 when none). Best: the highest target priority, then a threat (it is armed: it can attack
    back), then one attacking u's side (a call for help), then the nearest - pysc2 docs/environment.md:
    auto-targeting "is based on weapon scan distance, threat and assistance ... If two targets have the
    same priority the nearest one will be chosen". Neutrals, markers included, are never hostile."""
    uf, ui, tf = state.unit_f, state.unit_i, tables.type_f
    boxes, grids = scratch.boxes, scratch.grids
    owner = ui[g, u, OWNER]
    if owner != OWNER_AGENT and owner != OWNER_ENEMY:
        return -1, -1  # no side: neutrals never fight
    ux, uy, ur = uf[g, u, X], uf[g, u, Y], tf[ui[g, u, TYPE], RADIUS]
    # early out: the hostile side's box (from the loop start, grown by BOX_SLACK for moves since) is too far
    hostile_side = 1 if owner == OWNER_AGENT else 0
    k = 5 * hostile_side
    bx = max(boxes[k] - ux, ux - boxes[k + 2], 0.0)
    by = max(boxes[k + 1] - uy, uy - boxes[k + 3], 0.0)
    reach_max = scan_range + RANGE_EPS + ur + boxes[k + 4] + BOX_SLACK
    if bx > reach_max or by > reach_max or bx * bx + by * by > reach_max * reach_max:
        return -1, -1
    best = (-1, -1, FAR, -1, -1, FAR)
    if grids.on[0] == 1:  # the hostile units in the cells within reach
        k = ENEMY_GRID if hostile_side == 1 else AGENT_GRID
        cx0, cx1 = cell_range(grids, k, ux - reach_max, ux + reach_max, 0)
        cy0, cy1 = cell_range(grids, k, uy - reach_max, uy + reach_max, 1)
        for cy in range(cy0, cy1 + 1):
            row = cy * grids.shape[k, 0]
            for i in range(grids.start[k, row + cx0], grids.start[k, row + cx1 + 1]):
                v = grids.items[k, i]
                if ui[g, v, ALIVE] == 1:  # else killed earlier in this loop
                    vt = ui[g, v, TYPE]
                    best = rank(state, g, v, uf[g, v, X] - ux, uf[g, v, Y] - uy, tf[vt, RADIUS],
                                threat(tables, vt), ur, owner, fire_range, scan_range, best)
    else:  # the hostile side's list
        sides, xyr, score = scratch.sides[hostile_side], scratch.side_xyr[hostile_side], \
            scratch.side_score[hostile_side]
        for i in range(scratch.side_count[hostile_side]):
            v = sides[i]
            if ui[g, v, ALIVE] == 1:
                best = rank(state, g, v, xyr[0, i] - ux, xyr[1, i] - uy, xyr[2, i], score[i], ur, owner,
                            fire_range, scan_range, best)
    return best[0], best[3]


@inline
def engaged_with(state, g, u, t):
    ui = state.unit_i
    return ui[g, u, WEAPON_TARGET] == t and ui[g, u, WEAPON_TAG] == ui[g, t, TAG]


@inline
def held_target(state, tables, g, u):
    """The unit's engaged target if it is alive and within weapon range + RANGE_SLOP, else -1."""
    t = state.unit_i[g, u, WEAPON_TARGET]
    ok = valid_unit(state, g, t, state.unit_i[g, u, WEAPON_TAG])
    reach = tables.type_f[state.unit_i[g, u, TYPE], RANGE] + RANGE_EPS + RANGE_SLOP
    return t if ok and edge_dist(state, tables, g, u, t) <= reach else -1


@inline
def engage_with(state, g, u, t):
    state.unit_i[g, u, WEAPON_TARGET] = t
    state.unit_i[g, u, WEAPON_TAG] = state.unit_i[g, t, TAG]


@hot
def engage(state, tables, g, u, t, can_move, grids):
    """Fire at t if in range (+ RANGE_SLOP if already engaged with t) and ready; otherwise close in (if
    allowed) just to weapon range, becoming engaged with t on arrival (it fires from the next loop)."""
    uf, ui, tf = state.unit_f, state.unit_i, tables.type_f
    ut = ui[g, u, TYPE]
    weapon_range = tf[ut, RANGE]
    d = edge_dist(state, tables, g, u, t)
    reach = weapon_range + RANGE_EPS + (RANGE_SLOP if engaged_with(state, g, u, t) else 0.0)
    if d <= reach:
        engage_with(state, g, u, t)
        face(state, g, u, uf[g, t, X] - uf[g, u, X], uf[g, t, Y] - uf[g, u, Y])
        if uf[g, u, COOLDOWN] <= 0.0:
            start_attack(state, tables, g, u, t, grids)
        return
    ui[g, u, WEAPON_TARGET] = -1
    if can_move:
        step = min(tf[ut, SPEED], d - weapon_range)
        step_toward(state, g, u, uf[g, t, X], uf[g, t, Y], step)
        if d - step <= weapon_range + RANGE_EPS:  # arrived at weapon range
            engage_with(state, g, u, t)


@hot
def current_order(state, g, u):
    """Kind of the unit's current order after dropping the ones whose target died or jumped."""
    ui, oi = state.unit_i, state.order_i
    while ui[g, u, NUM_ORDERS] > 0:
        kind = oi[g, u, 0, KIND]
        if kind == MOVE_UNIT or kind == ATTACK_UNIT:
            t = oi[g, u, 0, TARGET]
            ok = valid_unit(state, g, t, oi[g, u, 0, TARGET_TAG])
            if ok and kind == MOVE_UNIT and ui[g, t, RELOCATIONS] != oi[g, u, 0, TARGET_RELOCATIONS]:
                ok = False  # the target jumped (beacon relocation): the order ends
            if not ok:
                pop_order(state, g, u)
                continue
        return kind
    return NO_ORDER


@hot
def act(state, tables, g, u, scratch):
    """One loop of one unit: regenerate; finish the attack under way, or resolve its current order and
    carry it out."""
    uf, ui, tf, oi, oxy = state.unit_f, state.unit_i, tables.type_f, state.order_i, state.order_xy
    grids = scratch.grids
    regenerate(state, tables, g, u)
    ut = ui[g, u, TYPE]
    if (tables.type_i[ut, FLAGS] & (FLAG_MARKER | FLAG_STRUCTURE)) != 0:
        return
    cd = uf[g, u, COOLDOWN] - 1.0
    uf[g, u, COOLDOWN] = cd if cd > 0.0 else 0.0
    if uf[g, u, WINDUP] > 0.0:  # standing still until the shot
        wind_up(state, tables, g, u, grids)
        return
    kind = current_order(state, g, u)
    armed = tf[ut, DAMAGE] > 0.0
    if kind == NO_ORDER or kind == HOLD_POSITION:
        if not armed:
            return
        a = ui[g, u, CHASE_TARGET]
        chase = kind == NO_ORDER and valid_unit(state, g, a, ui[g, u, CHASE_TAG])
        if not chase:
            ui[g, u, CHASE_TARGET] = -1
        # holding: only what the weapon reaches; idle: the weapon's scan range, and it goes after the target
        scan = tf[ut, SCAN_RANGE] if kind == NO_ORDER else tf[ut, RANGE]
        in_range, in_scan = acquire(state, tables, g, u, tf[ut, RANGE], scan, scratch)
        t = in_range if in_range >= 0 else held_target(state, tables, g, u)  # else the engaged one, in slop
        if t >= 0:
            engage(state, tables, g, u, t, False, grids)
        elif chase:
            engage(state, tables, g, u, a, True, grids)
        elif in_scan >= 0:
            ui[g, u, CHASE_TARGET] = in_scan
            ui[g, u, CHASE_TAG] = ui[g, in_scan, TAG]
            engage(state, tables, g, u, in_scan, True, grids)
    elif kind == MOVE_POINT:
        ui[g, u, WEAPON_TARGET] = -1
        if move_to_point(state, tables, g, u, oxy[g, u, 0, 0], oxy[g, u, 0, 1]):
            pop_order(state, g, u)
    elif kind == MOVE_UNIT:
        ui[g, u, WEAPON_TARGET] = -1
        t = oi[g, u, 0, TARGET]
        step = tf[ut, SPEED]
        if (tables.type_i[ui[g, t, TYPE], FLAGS] & FLAG_MARKER) != 0:
            step_toward(state, g, u, uf[g, t, X], uf[g, t, Y], step)  # markers: go onto the centre
        else:
            d = edge_dist(state, tables, g, u, t)
            if d > 0.5:  # follow, stopping half a unit short of contact
                step_toward(state, g, u, uf[g, t, X], uf[g, t, Y], min(step, d - 0.5))
    elif kind == ATTACK_UNIT:
        engage(state, tables, g, u, oi[g, u, 0, TARGET], True, grids)
    elif kind == ATTACK_POINT:
        t = -1
        if armed:
            in_range, in_scan = acquire(state, tables, g, u, tf[ut, RANGE], tf[ut, SCAN_RANGE], scratch)
            t = in_range if in_range >= 0 else in_scan
        if t >= 0:
            engage(state, tables, g, u, t, True, grids)
        else:
            ui[g, u, WEAPON_TARGET] = -1
            if move_to_point(state, tables, g, u, oxy[g, u, 0, 0], oxy[g, u, 0, 1]):
                pop_order(state, g, u)


@inline
def push_apart(state, tables, g, i, j, ri, hold_i, moved_i, loop):
    """Separate ground units i and j if they overlap (`collide`)."""
    uf, ui = state.unit_f, state.unit_i
    dx = uf[g, j, X] - uf[g, i, X]
    dy = uf[g, j, Y] - uf[g, i, Y]
    min_d = ri + radius(state, tables, g, j)
    d2 = dx * dx + dy * dy
    if d2 >= min_d * min_d:
        return
    d = math.sqrt(d2)
    if d < 1e-9:  # exactly on top of each other: a random direction
        ang = TWO_PI * uniform(state.rng, g)
        dx, dy, d = math.cos(ang), math.sin(ang), 1.0
    push = min_d - d
    stay_i, stay_j = hold_i, is_holding(state, g, j)
    if ui[g, i, OWNER] != ui[g, j, OWNER]:  # enemies: only one that walked into the other yields
        moved_j = ui[g, j, MOVED_AT] == loop
        stay_i = stay_i or (moved_j and not moved_i)
        stay_j = stay_j or (moved_i and not moved_j)
    wi = 0.0 if stay_i else (1.0 if stay_j else 0.5)
    wj = 0.0 if stay_j else (1.0 if stay_i else 0.5)
    uf[g, i, X] -= dx / d * push * wi
    uf[g, i, Y] -= dy / d * push * wi
    uf[g, j, X] += dx / d * push * wj
    uf[g, j, Y] += dy / d * push * wj


@inline
def nearby_ground(state, tables, g, i, grids):
    """The ground units of higher slot than i whose gap to i is under GRID_SLACK, from the ground grid,
    into grids.near in slot order (the order a scan meets them in); returns how many. Exact while i moves
    less than GRID_SLACK and the others drift less than GRID_SLACK from where the grid saw them (a cell
    is two touching units wide plus twice the slack)."""
    uf, near, k = state.unit_f, grids.near, GROUND_GRID
    x, y, ri = uf[g, i, X], uf[g, i, Y], radius(state, tables, g, i)
    r = grids.origin[k, 2]
    cx0, cx1 = cell_range(grids, k, x - r, x + r, 0)
    cy0, cy1 = cell_range(grids, k, y - r, y + r, 1)
    n = 0
    for cy in range(cy0, cy1 + 1):
        row = cy * grids.shape[k, 0]
        for c in range(grids.start[k, row + cx0], grids.start[k, row + cx1 + 1]):
            j = grids.items[k, c]
            if j <= i:
                continue
            dx = uf[g, j, X] - x
            dy = uf[g, j, Y] - y
            reach = ri + radius(state, tables, g, j) + GRID_SLACK
            if dx * dx + dy * dy >= reach * reach:
                continue
            p = n  # insertion into slot order
            while p > 0 and near[p - 1] > j:
                near[p] = near[p - 1]
                p -= 1
            near[p] = j
            n += 1
    return n


@hot
def collide(state, tables, g, ground, gxyr, grids):
    """Push overlapping ground units apart once, then keep centres inside the playable area.
    `ground` and `gxyr` are scratch space (int64 [>= the slot count], float64 [3, >= the slot count]).
    Pairs are taken in slot order. With the grids on, each unit meets only the units the ground grid
    finds near it (`nearby_ground`); pushes in a crowd can carry units further than the grid allows for,
    and then the grid is rebuilt (a unit pushed away from others), or the unit's remaining pairs are
    scanned (the unit itself pushed far), so the pairs that touch are the scan's."""
    uf, ui, mf, loop = state.unit_f, state.unit_i, tables.map_f, state.game[g, LOOP]
    n = state.game[g, NUM_SLOTS]
    m = 0
    for i in range(n):
        if ui[g, i, ALIVE] == 1 and (tables.type_i[ui[g, i, TYPE], FLAGS] & FLAG_GROUND) != 0:
            ground[m] = i
            m += 1
    use_grid = grids.on[0] == 1
    stale = use_grid
    if not use_grid:
        for a in range(m):
            gxyr[0, a] = uf[g, ground[a], X]
            gxyr[1, a] = uf[g, ground[a], Y]
            gxyr[2, a] = radius(state, tables, g, ground[a])
    for a in range(m):
        i = ground[a]
        ri = radius(state, tables, g, i)
        hold_i = is_holding(state, g, i)
        moved_i = ui[g, i, MOVED_AT] == loop
        rest = a + 1  # where the scan of i's pairs starts
        if use_grid:
            if stale:
                build(state, g, grids, GROUND_GRID, ground, m)
                stale = False
            x, y = uf[g, i, X], uf[g, i, Y]
            rest = m  # nothing left to scan, unless i is pushed too far
            for c in range(nearby_ground(state, tables, g, i, grids)):
                j = grids.near[c]
                push_apart(state, tables, g, i, j, ri, hold_i, moved_i, loop)
                stale = stale or drift(state, g, grids, j) > GRID_SLACK
                if math.hypot(uf[g, i, X] - x, uf[g, i, Y] - y) > GRID_SLACK:
                    rest = a + 1
                    while rest < m and ground[rest] <= j:
                        rest += 1
                    break
        if use_grid:
            for b in range(rest, m):
                j = ground[b]
                push_apart(state, tables, g, i, j, ri, hold_i, moved_i, loop)
                stale = stale or drift(state, g, grids, j) > GRID_SLACK
            continue
        # the scan, on contiguous copies of the positions and radii (kept equal to the state's)
        xi, yi = gxyr[0, a], gxyr[1, a]
        for b in range(a + 1, m):
            dx = gxyr[0, b] - xi
            dy = gxyr[1, b] - yi
            min_d = ri + gxyr[2, b]
            if dx * dx + dy * dy >= min_d * min_d:
                continue
            j = ground[b]
            push_apart(state, tables, g, i, j, ri, hold_i, moved_i, loop)
            xi, yi = uf[g, i, X], uf[g, i, Y]
            gxyr[0, b], gxyr[1, b] = uf[g, j, X], uf[g, j, Y]
    for i in range(n):
        if ui[g, i, ALIVE] == 1:
            uf[g, i, X] = min(max(uf[g, i, X], mf[PLAY_X0]), mf[PLAY_X1])
            uf[g, i, Y] = min(max(uf[g, i, Y], mf[PLAY_Y0]), mf[PLAY_Y1])
