"""Numba kernels for one unit's loop: orders, movement, target acquisition, attacks, damage, collision.

Every kernel takes the game's `State` and `Tables` (state.py) and the game index g. Choices made where
the game's behaviour is not published:
- Range is edge to edge: centre distance - both radii <= weapon range.
- Range slop: a unit keeps firing, without moving, at the target its weapon is engaged with (the one it
  was in range of on its last attacking loop) out to weapon range + RANGE_SLOP, so a melee unit nudged a
  hair out of reach by collisions keeps swinging instead of stepping back in (moving and firing are
  exclusive within a loop). Moving for any other reason, or losing the target beyond the slop, ends the
  engagement. Re-issuing the same attack order keeps it (the engagement belongs to the weapon, not to
  the order).
- Damage lands at once (no projectile flight, no damage point, no turning time).
- Acquisition (`acquire`): an idle unit fires, without moving, at the best enemy inside its weapon range;
  if none is, it goes after the best one inside its weapon's scan range (units.py SCAN_RANGE). A holding
  unit only fires at what its weapon reaches. Attack-move engages the best enemy in range, else in scan
  range, else walks on. A unit that is hit while idle turns on its attacker and chases it, and so do idle
  allies within HELP_RADIUS of it (the game's call for help). Chases have no leash: the game's
  AcquireLeashRadius (21) exceeds the minigames' arenas.
- Baneling splash reaches every enemy whose edge is within 2.2 of the Baneling's centre (SC2 search areas
  include the victim's radius); friendly units are not hurt. The Baneling then dies (counted as a death).
- Shields absorb first (shield armour 0); what spills over hits HP minus armour, at least 0.5 per hit.
  Zerg hit points and Protoss shields regenerate (`regenerate`, units.py figures).
- Ground units push apart pairwise once per loop: the overlap is split evenly (a unit holding position
  is not pushed; the other takes the whole push).
"""

from __future__ import annotations

import math

from envs.engine.jit import inline, kernel
from envs.engine.maps import KILL_REWARD, LOSS_REWARD, PLAY_X0, PLAY_X1, PLAY_Y0, PLAY_Y1
from envs.engine.rng import uniform
from envs.engine.state import (
    ALIVE,
    ATTACK_POINT,
    ATTACK_UNIT,
    CHASE_TAG,
    CHASE_TARGET,
    COOLDOWN,
    DAMAGE_DEALT,
    DAMAGED_AT,
    DIST_LEFT,
    FACING_X,
    FACING_Y,
    HEALTH,
    HOLD_POSITION,
    KIND,
    LOOP,
    MOVE_POINT,
    MOVE_UNIT,
    NO_ORDER,
    NUM_AGENT,
    NUM_ENEMY,
    NUM_ORDERS,
    NUM_SLOTS,
    OWNER,
    OWNER_AGENT,
    OWNER_ENEMY,
    OWNER_NEUTRAL,
    RELOCATIONS,
    SCORE,
    SHIELD,
    TAG,
    TARGET,
    TARGET_RELOCATIONS,
    TARGET_TAG,
    TYPE,
    WEAPON_TAG,
    WEAPON_TARGET,
    X,
    Y,
)
from envs.engine.units import (
    ARMOR,
    ATTACKS,
    ATTRIBUTES,
    BONUS_ATTRIBUTES,
    BONUS_DAMAGE,
    DAMAGE,
    FLAG_GROUND,
    FLAG_MARKER,
    FLAG_STRUCTURE,
    FLAG_SUICIDE,
    FLAGS,
    LIFE_REGEN,
    MAX_HEALTH,
    MAX_SHIELD,
    RADIUS,
    RANGE,
    SCAN_RANGE,
    SHIELD_REGEN,
    SHIELD_REGEN_DELAY,
    SPEED,
    SPLASH,
    TARGET_PRIORITY,
    WEAPON_COOLDOWN,
)

RANGE_EPS = 1e-6  # float slack on the range test (a looser test shifts close fights' outcomes)
# SC2 core.sc2mod CWeapon defaults: RangeSlop 1 (no minigame unit overrides it; *unverified* beyond the
# published default, quoted in "Simulating Starcraft Part 2 - Data Wrangling", Walnut356, 2024)
RANGE_SLOP = 1.0
HELP_RADIUS = 4.0  # idle allies this close to a victim join in (SC2GameData GameData.xml: CallForHelpRadius)
JITTER_LO, JITTER_HI = -1.0, 2.0  # pysc2 docs/environment.md: -1..+2 game loops on each cooldown
BOX_SLACK = 0.5  # > the fastest unit's move per loop (2.95 / 16): boxes stay conservative within a loop
ARRIVE_SLACK = 1.5  # a mover this close to its point that is pushed back (blocked) counts as arrived
FAR = 1e9
TWO_PI = 2.0 * math.pi


@inline
def valid_unit(state, g, slot, tag):
    """True if `slot` (-1 for none) holds a living unit with this tag (the unit an order or engagement
    refers to)."""
    ui = state.unit_i
    return slot >= 0 and ui[g, slot, ALIVE] == 1 and ui[g, slot, TAG] == tag


@inline
def radius(state, tables, g, u):
    return tables.type_f[state.unit_i[g, u, TYPE], RADIUS]


@inline
def edge_dist(state, tables, g, a, b):
    uf = state.unit_f
    dx = uf[g, b, X] - uf[g, a, X]
    dy = uf[g, b, Y] - uf[g, a, Y]
    return math.sqrt(dx * dx + dy * dy) - radius(state, tables, g, a) - radius(state, tables, g, b)


@inline
def hostile(state, g, a, b):
    oa = state.unit_i[g, a, OWNER]
    ob = state.unit_i[g, b, OWNER]
    return oa != ob and oa != OWNER_NEUTRAL and ob != OWNER_NEUTRAL


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


@kernel
def kill(state, tables, g, u):
    """Remove a unit at once and book the map's kill/loss score."""
    ui, game = state.unit_i, state.game
    ui[g, u, ALIVE] = 0
    owner = ui[g, u, OWNER]
    if owner == OWNER_ENEMY:
        game[g, SCORE] += tables.map_i[KILL_REWARD]
        game[g, NUM_ENEMY] -= 1
    elif owner == OWNER_AGENT:
        game[g, SCORE] += tables.map_i[LOSS_REWARD]
        game[g, NUM_AGENT] -= 1


@kernel
def alert(state, tables, g, victim, attacker):
    """The victim, and idle allies near it, turn on the attacker if they are idle and unengaged."""
    uf, ui = state.unit_f, state.unit_i
    vx = uf[g, victim, X]
    vy = uf[g, victim, Y]
    owner = ui[g, victim, OWNER]
    atag = ui[g, attacker, TAG]
    for a in range(state.game[g, NUM_SLOTS]):
        if ui[g, a, ALIVE] == 0 or ui[g, a, OWNER] != owner or ui[g, a, NUM_ORDERS] != 0:
            continue
        if tables.type_f[ui[g, a, TYPE], DAMAGE] <= 0.0:
            continue
        if valid_unit(state, g, ui[g, a, CHASE_TARGET], ui[g, a, CHASE_TAG]):
            continue
        if a != victim:
            dx = uf[g, a, X] - vx
            dy = uf[g, a, Y] - vy
            if dx * dx + dy * dy > HELP_RADIUS * HELP_RADIUS:
                continue
        ui[g, a, CHASE_TARGET] = attacker
        ui[g, a, CHASE_TAG] = atag


@kernel
def damage(state, tables, g, attacker, victim, base, bonus, bonus_attr, hits):
    """Apply `hits` hits of (base + bonus vs attribute); shields first. Returns True if the victim died."""
    uf, game = state.unit_f, state.game
    vt = state.unit_i[g, victim, TYPE]
    per_hit = base
    if bonus_attr != 0 and (tables.type_i[vt, ATTRIBUTES] & bonus_attr) != 0:
        per_hit += bonus
    armor = tables.type_f[vt, ARMOR]
    by_agent = state.unit_i[g, attacker, OWNER] == OWNER_AGENT and state.unit_i[g, victim, OWNER] == \
        OWNER_ENEMY
    state.unit_i[g, victim, DAMAGED_AT] = game[g, LOOP]
    for _ in range(hits):
        sh = uf[g, victim, SHIELD]
        if sh >= per_hit:
            uf[g, victim, SHIELD] = sh - per_hit
            if by_agent:
                game[g, DAMAGE_DEALT] += int(2.0 * per_hit)
            continue
        rest = per_hit - sh
        uf[g, victim, SHIELD] = 0.0
        hp = uf[g, victim, HEALTH]
        uf[g, victim, HEALTH] = hp - max(0.5, rest - armor)
        if by_agent:  # overkill does not count: a kill takes the hit points that were left
            game[g, DAMAGE_DEALT] += int(2.0 * (sh + min(hp, max(0.5, rest - armor))))
        if uf[g, victim, HEALTH] <= 0.0:
            kill(state, tables, g, victim)
            return True
    alert(state, tables, g, victim, attacker)
    return False


@kernel
def fire(state, tables, g, a, t):
    """Unit a attacks unit t now (its cooldown is ready and t is in range)."""
    uf, ui, tf, ti = state.unit_f, state.unit_i, tables.type_f, tables.type_i
    at = ui[g, a, TYPE]
    base = tf[at, DAMAGE]
    bonus = tf[at, BONUS_DAMAGE]
    battr = ti[at, BONUS_ATTRIBUTES]
    if (ti[at, FLAGS] & FLAG_SUICIDE) != 0:
        splash = tf[at, SPLASH]
        ax = uf[g, a, X]
        ay = uf[g, a, Y]
        for v in range(state.game[g, NUM_SLOTS]):
            if ui[g, v, ALIVE] == 0 or not hostile(state, g, a, v):
                continue
            if (ti[ui[g, v, TYPE], FLAGS] & FLAG_MARKER) != 0:
                continue
            dx = uf[g, v, X] - ax
            dy = uf[g, v, Y] - ay
            if math.sqrt(dx * dx + dy * dy) - radius(state, tables, g, v) <= splash + RANGE_EPS:
                damage(state, tables, g, a, v, base, bonus, battr, ti[at, ATTACKS])
        kill(state, tables, g, a)
        return
    damage(state, tables, g, a, t, base, bonus, battr, ti[at, ATTACKS])
    uf[g, a, COOLDOWN] = tf[at, WEAPON_COOLDOWN] + JITTER_LO + (JITTER_HI - JITTER_LO) * uniform(state.rng, g)


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
        return True
    # pushed back by more than 3/4 of a step since the last loop: the spot is taken, stop here
    if d < ARRIVE_SLACK and d > uf[g, u, DIST_LEFT] + 0.75 * step:
        return True
    uf[g, u, X] += dx / d * step
    uf[g, u, Y] += dy / d * step
    uf[g, u, DIST_LEFT] = d - step
    return False


@kernel
def side_boxes(state, tables, g, boxes):
    """Bounding box and largest radius of each side's living units at the start of a loop:
    boxes[0:5] agent (x0, y0, x1, y1, rmax), boxes[5:10] enemy. Lets `acquire` skip hopeless scans."""
    uf, ui = state.unit_f, state.unit_i
    for k in range(2):
        boxes[5 * k], boxes[5 * k + 1], boxes[5 * k + 2], boxes[5 * k + 3] = FAR, FAR, -FAR, -FAR
        boxes[5 * k + 4] = 0.0
    for v in range(state.game[g, NUM_SLOTS]):
        if ui[g, v, ALIVE] == 0:
            continue
        o = ui[g, v, OWNER]
        if o != OWNER_AGENT and o != OWNER_ENEMY:
            continue
        k = 0 if o == OWNER_AGENT else 5
        x, y = uf[g, v, X], uf[g, v, Y]
        boxes[k] = min(boxes[k], x)
        boxes[k + 1] = min(boxes[k + 1], y)
        boxes[k + 2] = max(boxes[k + 2], x)
        boxes[k + 3] = max(boxes[k + 3], y)
        boxes[k + 4] = max(boxes[k + 4], radius(state, tables, g, v))


@inline
def acquire(state, tables, g, u, fire_range, scan_range, boxes):
    """The best hostile targets of u whose edge is within `fire_range` and within `scan_range` of u's edge
    (two slots, -1 when none). Best: the highest target priority, then a threat (it is armed: it can attack
    back), then one attacking u's side (a call for help), then the nearest - pysc2 docs/environment.md:
    auto-targeting "is based on weapon scan distance, threat and assistance ... If two targets have the
    same priority the nearest one will be chosen". Neutrals, markers included, are never hostile."""
    uf, ui, tf, ti, n = state.unit_f, state.unit_i, tables.type_f, tables.type_i, state.game[g, NUM_SLOTS]
    best_fire, best_scan = -1, -1
    fire_score, fire_d, scan_score, scan_d = -1, FAR, -1, FAR
    owner = ui[g, u, OWNER]
    ux, uy, ur = uf[g, u, X], uf[g, u, Y], tf[ui[g, u, TYPE], RADIUS]
    # early out: the hostile side's box (from the loop start, grown by BOX_SLACK for moves since) is too far
    k = 5 if owner == OWNER_AGENT else 0
    bx = max(boxes[k] - ux, ux - boxes[k + 2], 0.0)
    by = max(boxes[k + 1] - uy, uy - boxes[k + 3], 0.0)
    reach_max = scan_range + RANGE_EPS + ur + boxes[k + 4] + BOX_SLACK
    if bx > reach_max or by > reach_max or bx * bx + by * by > reach_max * reach_max:
        return -1, -1
    for v in range(n):
        if ui[g, v, ALIVE] == 0:
            continue
        ov = ui[g, v, OWNER]
        if ov == owner or ov == OWNER_NEUTRAL:
            continue
        dx = uf[g, v, X] - ux
        dy = uf[g, v, Y] - uy
        vt = ui[g, v, TYPE]
        rv = tf[vt, RADIUS]
        reach = scan_range + RANGE_EPS + ur + rv
        d2 = dx * dx + dy * dy
        if d2 > reach * reach:  # cheap reject before the square root
            continue
        d = math.sqrt(d2) - ur - rv
        w = ui[g, v, WEAPON_TARGET]
        helping = valid_unit(state, g, w, ui[g, v, WEAPON_TAG]) and ui[g, w, OWNER] == owner
        score = 4 * ti[vt, TARGET_PRIORITY] + (2 if tf[vt, DAMAGE] > 0.0 else 0) + (1 if helping else 0)
        if score > scan_score or (score == scan_score and d < scan_d):
            best_scan, scan_score, scan_d = v, score, d
        if d <= fire_range + RANGE_EPS and (score > fire_score or (score == fire_score and d < fire_d)):
            best_fire, fire_score, fire_d = v, score, d
    return best_fire, best_scan


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


@kernel
def engage(state, tables, g, u, t, can_move):
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
            fire(state, tables, g, u, t)
        return
    ui[g, u, WEAPON_TARGET] = -1
    if can_move:
        step = min(tf[ut, SPEED], d - weapon_range)
        step_toward(state, g, u, uf[g, t, X], uf[g, t, Y], step)
        if d - step <= weapon_range + RANGE_EPS:  # arrived at weapon range
            engage_with(state, g, u, t)


@kernel
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


@inline
def regenerate(state, tables, g, u):
    """Zerg hit points grow every loop; shields once SHIELD_REGEN_DELAY loops passed without damage."""
    uf, tf, t = state.unit_f, tables.type_f, state.unit_i[g, u, TYPE]
    uf[g, u, HEALTH] = min(uf[g, u, HEALTH] + tf[t, LIFE_REGEN], tf[t, MAX_HEALTH])
    if state.game[g, LOOP] - state.unit_i[g, u, DAMAGED_AT] >= tf[t, SHIELD_REGEN_DELAY]:
        uf[g, u, SHIELD] = min(uf[g, u, SHIELD] + tf[t, SHIELD_REGEN], tf[t, MAX_SHIELD])


@kernel
def act(state, tables, g, u, boxes):
    """One loop of one unit: regenerate, then resolve its current order and carry it out."""
    uf, ui, tf, oi, oxy = state.unit_f, state.unit_i, tables.type_f, state.order_i, state.order_xy
    regenerate(state, tables, g, u)
    ut = ui[g, u, TYPE]
    if (tables.type_i[ut, FLAGS] & (FLAG_MARKER | FLAG_STRUCTURE)) != 0:
        return
    cd = uf[g, u, COOLDOWN] - 1.0
    uf[g, u, COOLDOWN] = cd if cd > 0.0 else 0.0
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
        in_range, in_scan = acquire(state, tables, g, u, tf[ut, RANGE], scan, boxes)
        t = in_range if in_range >= 0 else held_target(state, tables, g, u)  # else the engaged one, in slop
        if t >= 0:
            engage(state, tables, g, u, t, False)
        elif chase:
            engage(state, tables, g, u, a, True)
        elif in_scan >= 0:
            ui[g, u, CHASE_TARGET] = in_scan
            ui[g, u, CHASE_TAG] = ui[g, in_scan, TAG]
            engage(state, tables, g, u, in_scan, True)
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
        engage(state, tables, g, u, oi[g, u, 0, TARGET], True)
    elif kind == ATTACK_POINT:
        t = -1
        if armed:
            in_range, in_scan = acquire(state, tables, g, u, tf[ut, RANGE], tf[ut, SCAN_RANGE], boxes)
            t = in_range if in_range >= 0 else in_scan
        if t >= 0:
            engage(state, tables, g, u, t, True)
        else:
            ui[g, u, WEAPON_TARGET] = -1
            if move_to_point(state, tables, g, u, oxy[g, u, 0, 0], oxy[g, u, 0, 1]):
                pop_order(state, g, u)


@kernel
def collide(state, tables, g, ground):
    """Push overlapping ground units apart once, then keep centres inside the playable area.
    `ground` is scratch space (int64, >= the slot count)."""
    uf, ui, mf = state.unit_f, state.unit_i, tables.map_f
    n = state.game[g, NUM_SLOTS]
    m = 0
    for i in range(n):
        if ui[g, i, ALIVE] == 1 and (tables.type_i[ui[g, i, TYPE], FLAGS] & FLAG_GROUND) != 0:
            ground[m] = i
            m += 1
    for a in range(m):
        i = ground[a]
        ri = radius(state, tables, g, i)
        hold_i = is_holding(state, g, i)
        for b in range(a + 1, m):
            j = ground[b]
            dx = uf[g, j, X] - uf[g, i, X]
            dy = uf[g, j, Y] - uf[g, i, Y]
            min_d = ri + radius(state, tables, g, j)
            d2 = dx * dx + dy * dy
            if d2 >= min_d * min_d:
                continue
            d = math.sqrt(d2)
            if d < 1e-9:  # exactly on top of each other: a random direction
                ang = TWO_PI * uniform(state.rng, g)
                dx, dy, d = math.cos(ang), math.sin(ang), 1.0
            push = min_d - d
            hold_j = is_holding(state, g, j)
            wi = 0.0 if hold_i else (1.0 if hold_j else 0.5)
            wj = 0.0 if hold_j else (1.0 if hold_i else 0.5)
            uf[g, i, X] -= dx / d * push * wi
            uf[g, i, Y] -= dy / d * push * wi
            uf[g, j, X] += dx / d * push * wj
            uf[g, j, Y] += dy / d * push * wj
    for i in range(n):
        if ui[g, i, ALIVE] == 1:
            uf[g, i, X] = min(max(uf[g, i, X], mf[PLAY_X0]), mf[PLAY_X1])
            uf[g, i, Y] = min(max(uf[g, i, Y], mf[PLAY_Y0]), mf[PLAY_Y1])
