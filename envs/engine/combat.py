"""Numba kernels for one unit's loop: orders, movement, target acquisition, attacks, damage, collision.

Conventions (documented choices where SC2 facts are not in REFERENCE.md):
- Range is edge to edge: centre distance - both radii <= weapon range (REFERENCE.md section 4).
- Range slop: a unit keeps firing, without moving, at the target its weapon is engaged with (the one it
  was in range of on its last attacking loop) out to weapon range + RANGE_SLOP. So a melee unit that
  reached its target and is then nudged a hair out of reach by collisions does not spend the loop
  stepping back in (it used to move and never fire: move and fire are exclusive within a loop). Moving
  for any other reason, or losing the target beyond the slop, ends the engagement. Re-issuing the same
  attack order keeps it (the engagement belongs to the weapon, not to the order).
- Damage lands at once (no projectile flight, no damage point, no turning time).
- Acquisition: an idle or holding unit fires at the nearest enemy inside its weapon range without moving.
  A unit that is hit while idle turns on its attacker and chases it, and so do idle allies within
  HELP_RADIUS of it (SC2 units respond to being attacked; the radius is *unverified*). Attack-move
  acquires the nearest enemy within the unit's sight radius and chases it. An idle unit that is
  reloading and has nothing to chase skips its scan (it could only turn; facing is cosmetic).
- Baneling splash reaches every enemy whose edge is within 2.2 of the Baneling's centre (SC2 search areas
  include the victim's radius); friendly units are not hurt. The Baneling then dies (counted as a death).
- Shields absorb first (shield armour 0); what spills over hits HP minus armour, at least 0.5 per hit.
- Ground units push apart pairwise once per loop: the overlap is split evenly (a unit holding position
  is not pushed; the other takes the whole push).
"""

from __future__ import annotations

import math

from numba import njit

from envs.engine import layout as L
from envs.engine import units as U
from envs.engine.rng import uniform

RANGE_EPS = 1e-6  # float slack on the range test; REFERENCE.md section 8: tolerance shifts outcomes
# SC2 core.sc2mod CWeapon defaults: RangeSlop 1 (no minigame unit overrides it; *unverified* beyond the
# published default, quoted in "Simulating Starcraft Part 2 - Data Wrangling", Walnut356, 2024)
RANGE_SLOP = 1.0
HELP_RADIUS = 4.0  # idle allies this close to a victim join in (*unverified*)
JITTER_LO, JITTER_HI = -1.0, 2.0  # REFERENCE.md section 1: -1..+2 loops per cooldown (uniform, continuous)
BOX_SLACK = 0.5  # > the fastest unit's move per loop (4.13 / 22.4): boxes stay conservative within a loop
ARRIVE_SLACK = 1.5  # a mover this close to its point that is pushed back (blocked) counts as arrived
FAR = 1e9
TWO_PI = 2.0 * math.pi


@njit(cache=True, inline="always")
def valid_unit(UI, g, slot, tag):
    return slot >= 0 and UI[g, slot, L.ALIVE] == 1 and UI[g, slot, L.TAG] == tag


@njit(cache=True, inline="always")
def edge_dist(UF, TF, UI, g, a, b):
    dx = UF[g, b, L.X] - UF[g, a, L.X]
    dy = UF[g, b, L.Y] - UF[g, a, L.Y]
    return math.sqrt(dx * dx + dy * dy) - UF[g, a, L.RAD] - UF[g, b, L.RAD]


@njit(cache=True, inline="always")
def hostile(UI, g, a, b):
    oa = UI[g, a, L.OWNER]
    ob = UI[g, b, L.OWNER]
    return oa != ob and oa != L.OWNER_NEUTRAL and ob != L.OWNER_NEUTRAL


@njit(cache=True, inline="always")
def pop_order(UF, UI, g, u):
    n = UI[g, u, L.NORD]
    for k in range(n - 1):
        UI[g, u, L.ORD_KIND + k] = UI[g, u, L.ORD_KIND + k + 1]
        UI[g, u, L.ORD_TGT + k] = UI[g, u, L.ORD_TGT + k + 1]
        UI[g, u, L.ORD_TAG + k] = UI[g, u, L.ORD_TAG + k + 1]
        UI[g, u, L.ORD_GEN + k] = UI[g, u, L.ORD_GEN + k + 1]
        UF[g, u, L.ORD_X + 2 * k] = UF[g, u, L.ORD_X + 2 * k + 2]
        UF[g, u, L.ORD_X + 2 * k + 1] = UF[g, u, L.ORD_X + 2 * k + 3]
    if n > 0:
        UI[g, u, L.NORD] = n - 1
    UF[g, u, L.PREV_DIST] = FAR


@njit(cache=True)
def kill(UI, GI, MI, g, u):
    """Remove a unit at once and book the map's kill/loss score."""
    UI[g, u, L.ALIVE] = 0
    owner = UI[g, u, L.OWNER]
    if owner == L.OWNER_ENEMY:
        GI[g, L.SCORE] += MI[L.PI_KILL_REWARD]
        GI[g, L.N_ENEMY] -= 1
    elif owner == L.OWNER_AGENT:
        GI[g, L.SCORE] += MI[L.PI_LOSS_REWARD]
        GI[g, L.N_AGENT] -= 1


@njit(cache=True)
def alert(UF, UI, GI, TF, g, victim, attacker):
    """The victim, and idle allies near it, turn on the attacker if they are idle and unengaged."""
    n = GI[g, L.NSLOT]
    vx = UF[g, victim, L.X]
    vy = UF[g, victim, L.Y]
    owner = UI[g, victim, L.OWNER]
    atag = UI[g, attacker, L.TAG]
    for a in range(n):
        if UI[g, a, L.ALIVE] == 0 or UI[g, a, L.OWNER] != owner or UI[g, a, L.NORD] != 0:
            continue
        if TF[UI[g, a, L.TYPE], U.F_DAMAGE] <= 0.0:
            continue
        if valid_unit(UI, g, UI[g, a, L.AUTO], UI[g, a, L.AUTO_TAG]):
            continue
        if a != victim:
            dx = UF[g, a, L.X] - vx
            dy = UF[g, a, L.Y] - vy
            if dx * dx + dy * dy > HELP_RADIUS * HELP_RADIUS:
                continue
        UI[g, a, L.AUTO] = attacker
        UI[g, a, L.AUTO_TAG] = atag


@njit(cache=True)
def damage(UF, UI, GI, TF, TI, MI, g, attacker, victim, base, bonus, bonus_attr, hits):
    """Apply `hits` hits of (base + bonus vs attribute); shields first. Returns True if the victim died."""
    vt = UI[g, victim, L.TYPE]
    per_hit = base
    if bonus_attr != 0 and (TI[vt, U.I_ATTR] & bonus_attr) != 0:
        per_hit += bonus
    armor = TF[vt, U.F_ARMOR]
    by_agent = UI[g, attacker, L.OWNER] == L.OWNER_AGENT and UI[g, victim, L.OWNER] == L.OWNER_ENEMY
    for _ in range(hits):
        sh = UF[g, victim, L.SH]
        if sh >= per_hit:
            UF[g, victim, L.SH] = sh - per_hit
            if by_agent:
                GI[g, L.DAMAGE_DEALT] += int(2.0 * per_hit)
            continue
        rest = per_hit - sh
        UF[g, victim, L.SH] = 0.0
        hp = UF[g, victim, L.HP]
        UF[g, victim, L.HP] = hp - max(0.5, rest - armor)
        if by_agent:  # overkill does not count: a kill takes the hit points that were left
            GI[g, L.DAMAGE_DEALT] += int(2.0 * (sh + min(hp, max(0.5, rest - armor))))
        if UF[g, victim, L.HP] <= 0.0:
            kill(UI, GI, MI, g, victim)
            return True
    alert(UF, UI, GI, TF, g, victim, attacker)
    return False


@njit(cache=True)
def fire(UF, UI, GI, RNG, TF, TI, MI, g, a, t):
    """Unit a attacks unit t now (its cooldown is ready and t is in range)."""
    at = UI[g, a, L.TYPE]
    base = TF[at, U.F_DAMAGE]
    bonus = TF[at, U.F_BONUS]
    battr = TI[at, U.I_BONUS_ATTR]
    if (TI[at, U.I_FLAGS] & U.FL_SUICIDE) != 0:
        splash = TF[at, U.F_SPLASH]
        ax = UF[g, a, L.X]
        ay = UF[g, a, L.Y]
        for v in range(GI[g, L.NSLOT]):
            if UI[g, v, L.ALIVE] == 0 or not hostile(UI, g, a, v):
                continue
            if (TI[UI[g, v, L.TYPE], U.I_FLAGS] & U.FL_MARKER) != 0:
                continue
            dx = UF[g, v, L.X] - ax
            dy = UF[g, v, L.Y] - ay
            if math.sqrt(dx * dx + dy * dy) - UF[g, v, L.RAD] <= splash + RANGE_EPS:
                damage(UF, UI, GI, TF, TI, MI, g, a, v, base, bonus, battr, TI[at, U.I_ATTACKS])
        kill(UI, GI, MI, g, a)
        return
    damage(UF, UI, GI, TF, TI, MI, g, a, t, base, bonus, battr, TI[at, U.I_ATTACKS])
    UF[g, a, L.CD] = TF[at, U.F_COOLDOWN] + JITTER_LO + (JITTER_HI - JITTER_LO) * uniform(RNG, g)


@njit(cache=True, inline="always")
def face(UF, g, u, dx, dy):
    if dx != 0.0 or dy != 0.0:
        UF[g, u, L.FDX] = dx
        UF[g, u, L.FDY] = dy


@njit(cache=True, inline="always")
def step_toward(UF, MF, g, u, tx, ty, step):
    """Move up to `step` toward (tx, ty); return the distance left before the move."""
    dx = tx - UF[g, u, L.X]
    dy = ty - UF[g, u, L.Y]
    d = math.sqrt(dx * dx + dy * dy)
    face(UF, g, u, dx, dy)
    if d <= step:
        UF[g, u, L.X] = tx
        UF[g, u, L.Y] = ty
    elif d > 0.0:
        UF[g, u, L.X] += dx / d * step
        UF[g, u, L.Y] += dy / d * step
    return d


@njit(cache=True, inline="always")
def move_to_point(UF, UI, TF, MF, g, u, tx, ty):
    """Advance toward a point; True when arrived (reached, or blocked within ARRIVE_SLACK)."""
    step = TF[UI[g, u, L.TYPE], U.F_SPEED]
    dx = tx - UF[g, u, L.X]
    dy = ty - UF[g, u, L.Y]
    d = math.sqrt(dx * dx + dy * dy)
    face(UF, g, u, dx, dy)
    if d <= step:
        UF[g, u, L.X] = tx
        UF[g, u, L.Y] = ty
        return True
    # pushed back by more than 3/4 of a step since the last loop: the spot is taken, stop here
    if d < ARRIVE_SLACK and d > UF[g, u, L.PREV_DIST] + 0.75 * step:
        return True
    UF[g, u, L.X] += dx / d * step
    UF[g, u, L.Y] += dy / d * step
    UF[g, u, L.PREV_DIST] = d - step
    return False


@njit(cache=True)
def side_boxes(UF, UI, GI, g, bb):
    """Bounding box and largest radius of each side's living units at the start of a loop:
    bb[0:5] agent (x0, y0, x1, y1, rmax), bb[5:10] enemy. Lets `acquire` skip hopeless scans."""
    for k in range(2):
        bb[5 * k], bb[5 * k + 1], bb[5 * k + 2], bb[5 * k + 3], bb[5 * k + 4] = FAR, FAR, -FAR, -FAR, 0.0
    for v in range(GI[g, L.NSLOT]):
        if UI[g, v, L.ALIVE] == 0:
            continue
        o = UI[g, v, L.OWNER]
        if o != L.OWNER_AGENT and o != L.OWNER_ENEMY:
            continue
        k = 0 if o == L.OWNER_AGENT else 5
        x, y = UF[g, v, L.X], UF[g, v, L.Y]
        bb[k] = min(bb[k], x)
        bb[k + 1] = min(bb[k + 1], y)
        bb[k + 2] = max(bb[k + 2], x)
        bb[k + 3] = max(bb[k + 3], y)
        bb[k + 4] = max(bb[k + 4], UF[g, v, L.RAD])


@njit(cache=True, inline="always")
def acquire(UF, UI, GI, TF, TI, g, u, radius, bb):
    """Nearest hostile unit whose edge is within `radius` of u's edge; -1 if none (neutrals, markers
    included, are never hostile)."""
    best = -1
    best_d = FAR
    owner = UI[g, u, L.OWNER]
    ux, uy, ur = UF[g, u, L.X], UF[g, u, L.Y], UF[g, u, L.RAD]
    # early out: the hostile side's box (from the loop start, grown by BOX_SLACK for moves since) is too far
    k = 5 if owner == L.OWNER_AGENT else 0
    bx = max(bb[k] - ux, ux - bb[k + 2], 0.0)
    by = max(bb[k + 1] - uy, uy - bb[k + 3], 0.0)
    reach_max = radius + RANGE_EPS + ur + bb[k + 4] + BOX_SLACK
    if bx > reach_max or by > reach_max or bx * bx + by * by > reach_max * reach_max:
        return -1
    for v in range(GI[g, L.NSLOT]):
        if UI[g, v, L.ALIVE] == 0:
            continue
        ov = UI[g, v, L.OWNER]
        if ov == owner or ov == L.OWNER_NEUTRAL:
            continue
        dx = UF[g, v, L.X] - ux
        dy = UF[g, v, L.Y] - uy
        rv = UF[g, v, L.RAD]
        reach = radius + RANGE_EPS + ur + rv
        d2 = dx * dx + dy * dy
        if d2 > reach * reach:  # cheap reject before the square root
            continue
        d = math.sqrt(d2) - ur - rv
        if d <= radius + RANGE_EPS and d < best_d:
            best_d = d
            best = v
    return best


@njit(cache=True, inline="always")
def engaged_with(UI, g, u, t):
    return UI[g, u, L.ENG] == t and UI[g, u, L.ENG_TAG] == UI[g, t, L.TAG]


@njit(cache=True, inline="always")
def held_target(UF, UI, TF, g, u):
    """The unit's engaged target if it is alive and within weapon range + RANGE_SLOP, else -1."""
    t = UI[g, u, L.ENG]
    if not valid_unit(UI, g, t, UI[g, u, L.ENG_TAG]):
        return -1
    if edge_dist(UF, TF, UI, g, u, t) > TF[UI[g, u, L.TYPE], U.F_RANGE] + RANGE_EPS + RANGE_SLOP:
        return -1
    return t


@njit(cache=True, inline="always")
def engage(UF, UI, GI, RNG, TF, TI, MF, MI, g, u, t, can_move):
    """Fire at t if in range (+ RANGE_SLOP if already engaged with t) and ready; otherwise close in (if
    allowed) just to weapon range, becoming engaged with t on arrival (it fires from the next loop)."""
    ut = UI[g, u, L.TYPE]
    rng_ = TF[ut, U.F_RANGE]
    d = edge_dist(UF, TF, UI, g, u, t)
    reach = rng_ + RANGE_EPS + (RANGE_SLOP if engaged_with(UI, g, u, t) else 0.0)
    if d <= reach:
        UI[g, u, L.ENG] = t
        UI[g, u, L.ENG_TAG] = UI[g, t, L.TAG]
        face(UF, g, u, UF[g, t, L.X] - UF[g, u, L.X], UF[g, t, L.Y] - UF[g, u, L.Y])
        if UF[g, u, L.CD] <= 0.0:
            fire(UF, UI, GI, RNG, TF, TI, MI, g, u, t)
        return
    UI[g, u, L.ENG] = -1
    if can_move:
        step = min(TF[ut, U.F_SPEED], d - rng_)
        step_toward(UF, MF, g, u, UF[g, t, L.X], UF[g, t, L.Y], step)
        if d - step <= rng_ + RANGE_EPS:  # arrived at weapon range
            UI[g, u, L.ENG] = t
            UI[g, u, L.ENG_TAG] = UI[g, t, L.TAG]


@njit(cache=True)
def act(UF, UI, GI, RNG, TF, TI, MF, MI, g, u, bb):
    """One loop of one unit: resolve its current order and carry it out."""
    ut = UI[g, u, L.TYPE]
    if (TI[ut, U.I_FLAGS] & (U.FL_MARKER | U.FL_STRUCTURE)) != 0:
        return
    cd = UF[g, u, L.CD] - 1.0
    UF[g, u, L.CD] = cd if cd > 0.0 else 0.0
    kind = L.O_NONE
    while UI[g, u, L.NORD] > 0:
        kind = UI[g, u, L.ORD_KIND]
        if kind == L.O_MOVE_UNIT or kind == L.O_ATTACK_UNIT:
            t = UI[g, u, L.ORD_TGT]
            ok = valid_unit(UI, g, t, UI[g, u, L.ORD_TAG])
            if ok and kind == L.O_MOVE_UNIT and UI[g, t, L.GEN] != UI[g, u, L.ORD_GEN]:
                ok = False  # the target jumped (beacon relocation): the order ends
            if not ok:
                pop_order(UF, UI, g, u)
                kind = L.O_NONE
                continue
        break
    armed = TF[ut, U.F_DAMAGE] > 0.0
    if kind == L.O_NONE or kind == L.O_HOLD:
        if not armed:
            return
        a = UI[g, u, L.AUTO]
        chase = kind == L.O_NONE and valid_unit(UI, g, a, UI[g, u, L.AUTO_TAG])
        if not chase:
            UI[g, u, L.AUTO] = -1
            if UF[g, u, L.CD] > 0.0:
                return  # reloading, nothing to chase: a scan could only turn the unit (cosmetic)
        t = acquire(UF, UI, GI, TF, TI, g, u, TF[ut, U.F_RANGE], bb)
        if t < 0:
            t = held_target(UF, UI, TF, g, u)  # nothing in range: the engaged target, if within the slop
        if t >= 0:
            engage(UF, UI, GI, RNG, TF, TI, MF, MI, g, u, t, False)
        elif chase:
            engage(UF, UI, GI, RNG, TF, TI, MF, MI, g, u, a, True)
    elif kind == L.O_MOVE_PT:
        UI[g, u, L.ENG] = -1
        if move_to_point(UF, UI, TF, MF, g, u, UF[g, u, L.ORD_X], UF[g, u, L.ORD_X + 1]):
            pop_order(UF, UI, g, u)
    elif kind == L.O_MOVE_UNIT:
        UI[g, u, L.ENG] = -1
        t = UI[g, u, L.ORD_TGT]
        step = TF[ut, U.F_SPEED]
        if (TI[UI[g, t, L.TYPE], U.I_FLAGS] & U.FL_MARKER) != 0:
            step_toward(UF, MF, g, u, UF[g, t, L.X], UF[g, t, L.Y], step)  # markers: go onto the centre
        else:
            d = edge_dist(UF, TF, UI, g, u, t)
            if d > 0.5:  # follow, stopping half a unit short of contact
                step_toward(UF, MF, g, u, UF[g, t, L.X], UF[g, t, L.Y], min(step, d - 0.5))
    elif kind == L.O_ATTACK_UNIT:
        engage(UF, UI, GI, RNG, TF, TI, MF, MI, g, u, UI[g, u, L.ORD_TGT], True)
    elif kind == L.O_ATTACK_PT:
        t = acquire(UF, UI, GI, TF, TI, g, u, TF[ut, U.F_SIGHT], bb) if armed else -1
        if t >= 0:
            engage(UF, UI, GI, RNG, TF, TI, MF, MI, g, u, t, True)
        else:
            UI[g, u, L.ENG] = -1
            if move_to_point(UF, UI, TF, MF, g, u, UF[g, u, L.ORD_X], UF[g, u, L.ORD_X + 1]):
                pop_order(UF, UI, g, u)


@njit(cache=True)
def collide(UF, UI, GI, RNG, TF, TI, MF, g, ground):
    """Push overlapping ground units apart once, then keep centres inside the playable area.
    `ground` is scratch space (int64, >= the slot count)."""
    n = GI[g, L.NSLOT]
    m = 0
    for i in range(n):
        if UI[g, i, L.ALIVE] == 1 and (TI[UI[g, i, L.TYPE], U.I_FLAGS] & U.FL_GROUND) != 0:
            ground[m] = i
            m += 1
    for a in range(m):
        i = ground[a]
        ri = UF[g, i, L.RAD]
        hold_i = UI[g, i, L.NORD] > 0 and UI[g, i, L.ORD_KIND] == L.O_HOLD
        for b in range(a + 1, m):
            j = ground[b]
            dx = UF[g, j, L.X] - UF[g, i, L.X]
            dy = UF[g, j, L.Y] - UF[g, i, L.Y]
            min_d = ri + UF[g, j, L.RAD]
            d2 = dx * dx + dy * dy
            if d2 >= min_d * min_d:
                continue
            d = math.sqrt(d2)
            if d < 1e-9:  # exactly on top of each other: a random direction
                ang = TWO_PI * uniform(RNG, g)
                dx, dy, d = math.cos(ang), math.sin(ang), 1.0
            push = min_d - d
            hold_j = UI[g, j, L.NORD] > 0 and UI[g, j, L.ORD_KIND] == L.O_HOLD
            wi = 0.0 if hold_i else (1.0 if hold_j else 0.5)
            wj = 0.0 if hold_j else (1.0 if hold_i else 0.5)
            UF[g, i, L.X] -= dx / d * push * wi
            UF[g, i, L.Y] -= dy / d * push * wi
            UF[g, j, L.X] += dx / d * push * wj
            UF[g, j, L.Y] += dy / d * push * wj
    for i in range(n):
        if UI[g, i, L.ALIVE] == 1:
            UF[g, i, L.X] = min(max(UF[g, i, L.X], MF[L.PF_X0]), MF[L.PF_X1])
            UF[g, i, L.Y] = min(max(UF[g, i, L.Y], MF[L.PF_Y0]), MF[L.PF_Y1])
