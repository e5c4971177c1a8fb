"""Numba kernels turning raw commands into unit orders.

A command is all or nothing: if any of its tags is unknown, dead or not the agent's, the whole command
is rejected with a reason (pysc2's game would silently ignore the bad tags and obey the rest; we prefer a
loud answer). `result_arg` carries the offending value (a tag) for the reason string.
"""

from __future__ import annotations

from numba import njit

from envs.engine import layout as L
from envs.engine import units as U
from envs.engine.combat import FAR, valid_unit
from envs.engine.obs import visible_to
from envs.engine.rules import TAG_SLOT_BITS

_SLOT_MASK = (1 << TAG_SLOT_BITS) - 1


@njit(cache=True, inline="always")
def decode_tag(UI, g, tag):
    """Slot of a living unit with this tag, or -1."""
    if tag <= 0:
        return -1
    s = tag & _SLOT_MASK
    if s >= UI.shape[1] or not valid_unit(UI, g, s, tag):
        return -1
    return s


@njit(cache=True)
def give_order(UF, UI, g, u, kind, queued, t, tag, gen, x, y):
    if not queued:
        UI[g, u, L.NORD] = 0
        UI[g, u, L.AUTO] = -1
    k = UI[g, u, L.NORD]
    UI[g, u, L.ORD_KIND + k] = kind
    UI[g, u, L.ORD_TGT + k] = t
    UI[g, u, L.ORD_TAG + k] = tag
    UI[g, u, L.ORD_GEN + k] = gen
    UF[g, u, L.ORD_X + 2 * k] = x
    UF[g, u, L.ORD_X + 2 * k + 1] = y
    UI[g, u, L.NORD] = k + 1
    if k == 0:
        UF[g, u, L.PREV_DIST] = FAR


@njit(cache=True)
def check(UF, UI, GI, TF, TI, MF, MI, g, f, queued, tags, t0, nt, ttag, px, py, out):
    """Validate one command; return (result code, offending value, target slot, world x, world y)."""
    if GI[g, L.DONE] == 1:
        return L.R_GAME_OVER, 0, -1, 0.0, 0.0
    need_weapon = f == L.C_ATTACK_PT or f == L.C_ATTACK_UNIT
    moves = f != L.C_STOP and f != L.C_HOLD
    for i in range(nt):
        tag = tags[t0 + i]
        s = decode_tag(UI, g, tag)
        if s < 0:
            return L.R_BAD_TAG, tag, -1, 0.0, 0.0
        if UI[g, s, L.OWNER] != L.OWNER_AGENT:
            return L.R_NOT_OWN, tag, -1, 0.0, 0.0
        typ = UI[g, s, L.TYPE]
        if moves and (TF[typ, U.F_SPEED] <= 0.0 or (TI[typ, U.I_FLAGS] & U.FL_STRUCTURE) != 0):
            return L.R_CANNOT_MOVE, tag, -1, 0.0, 0.0
        if need_weapon and TF[typ, U.F_DAMAGE] <= 0.0:
            return L.R_NO_WEAPON, tag, -1, 0.0, 0.0
        if queued and UI[g, s, L.NORD] >= L.MAX_ORDERS:
            return L.R_QUEUE_FULL, tag, -1, 0.0, 0.0
        out[i] = s
    t = -1
    wx, wy = 0.0, 0.0
    if f == L.C_MOVE_UNIT or f == L.C_ATTACK_UNIT or f == L.C_SMART_UNIT:
        t = decode_tag(UI, g, ttag)
        if t < 0:
            return L.R_BAD_TARGET_TAG, ttag, -1, 0.0, 0.0
        enemy = UI[g, t, L.OWNER] == L.OWNER_ENEMY
        if enemy and MI[L.PI_FOG] == 1 and not visible_to(UF, UI, GI, TF, g, t, L.OWNER_AGENT):
            return L.R_TARGET_HIDDEN, ttag, -1, 0.0, 0.0
        if f == L.C_ATTACK_UNIT and not enemy:
            return L.R_NOT_ENEMY, ttag, -1, 0.0, 0.0
    elif f == L.C_MOVE_PT or f == L.C_ATTACK_PT or f == L.C_SMART_PT:
        # raw pixel space at raw_resolution == map size: world x = px, world y = map_h - py (REFERENCE.md 5)
        wx, wy = px, MF[L.PF_MAP_H] - py
        if not (0.0 <= wx < MF[L.PF_MAP_H] and 0.0 <= wy < MF[L.PF_MAP_H]):
            return L.R_OFF_MAP, 0, -1, 0.0, 0.0
        if not (MF[L.PF_X0] <= wx <= MF[L.PF_X1] and MF[L.PF_Y0] <= wy <= MF[L.PF_Y1]):
            return L.R_OUTSIDE_PLAYABLE, 0, -1, 0.0, 0.0
    return L.R_OK, 0, t, wx, wy


@njit(cache=True)
def apply_commands(UF, UI, GI, TF, TI, MF, MI, games, funcs, queued, tag_start, tag_count, tags, ttags,
                   px, py, results, result_arg, scratch):
    """Validate and apply every command in order (commands of one game apply in list order)."""
    for k in range(funcs.shape[0]):
        f = funcs[k]
        if f == L.C_SKIP:
            continue
        g = games[k]
        q = queued[k] == 1
        code, arg, t, wx, wy = check(UF, UI, GI, TF, TI, MF, MI, g, f, q, tags, tag_start[k], tag_count[k],
                                     ttags[k], px[k], py[k], scratch)
        results[k] = code
        result_arg[k] = arg
        if code != L.R_OK or f == L.C_NOOP:
            continue
        kind = L.O_NONE
        if f == L.C_MOVE_PT or f == L.C_SMART_PT:
            kind = L.O_MOVE_PT
        elif f == L.C_ATTACK_PT:
            kind = L.O_ATTACK_PT
        elif f == L.C_MOVE_UNIT:
            kind = L.O_MOVE_UNIT
        elif f == L.C_ATTACK_UNIT:
            kind = L.O_ATTACK_UNIT
        elif f == L.C_HOLD:
            kind = L.O_HOLD
        for i in range(tag_count[k]):
            u = scratch[i]
            if f == L.C_STOP:
                UI[g, u, L.NORD] = 0
                UI[g, u, L.AUTO] = -1
                continue
            kk = kind
            if f == L.C_SMART_UNIT:  # on an enemy: attack (if armed); on a friend or neutral: move/follow
                armed = TF[UI[g, u, L.TYPE], U.F_DAMAGE] > 0.0
                kk = L.O_ATTACK_UNIT if UI[g, t, L.OWNER] == L.OWNER_ENEMY and armed else L.O_MOVE_UNIT
            if t >= 0:
                give_order(UF, UI, g, u, kk, q, t, UI[g, t, L.TAG], UI[g, t, L.GEN], 0.0, 0.0)
            else:
                give_order(UF, UI, g, u, kk, q, -1, 0, 0, wx, wy)
