"""Numba kernels turning raw commands into unit orders, and the codes they speak.

A command is all or nothing: if any of its tags is unknown, dead or not the agent's, the whole command
is rejected with a reason (pysc2's game would silently ignore the bad tags and obey the rest; we prefer a
loud answer). `result_arg` carries the offending value (a tag) for the reason string.

A point order (move, attack-move) given to several units at once keeps their formation, as the game does
(the "magic box", TL.net's "The SC2 Magic Box"): if the point lies outside the box around the units and
the box is no wider or taller than FORMATION_SPREAD, each unit heads for the point plus its offset from
the group's centre (clamped to the playable area); otherwise all head for the point itself. Queued point
orders go to the point itself.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from envs.engine.economy_commands import NOT_ON_THIS_MAP, economy_command
from envs.engine.economy_data import CMD_FIRST_ECONOMY
from envs.engine.jit import kernel
from envs.engine.lookup import FAR
from envs.engine.maps import FOG, MAP_HEIGHT, PLAY_X0, PLAY_X1, PLAY_Y0, PLAY_Y1, UNIT_COMMANDS
from envs.engine.obs import visible_to
from envs.engine.orders import (  # noqa: F401  (the result codes are this module's interface too)
    ACCEPTED,
    BAD_TAG,
    BAD_TARGET_TAG,
    CANNOT_MOVE,
    GAME_OVER,
    NO_WEAPON,
    NOT_ENEMY,
    NOT_OWN_UNIT,
    OFF_MAP,
    OUTSIDE_PLAYABLE,
    QUEUE_FULL,
    TARGET_HIDDEN,
    decode_tag,
    push_order,
)
from envs.engine.state import (
    ATTACK_POINT,
    ATTACK_UNIT,
    CHASE_TARGET,
    DONE,
    HOLD_POSITION,
    MAX_ORDERS,
    MOVE_POINT,
    MOVE_UNIT,
    NO_ORDER,
    NUM_ORDERS,
    OWNER,
    OWNER_AGENT,
    OWNER_ENEMY,
    TAG,
    TYPE,
    WINDUP_TAG,
    WINDUP_TARGET,
    X,
    Y,
)
from envs.engine.units import DAMAGE, FLAG_STRUCTURE, FLAGS, SPEED
from envs.engine.weapons import cancel_attack

# --- command codes inside the kernels (engine.py maps pysc2 RawFunction ids to these)
CMD_SKIP, CMD_NO_OP, CMD_MOVE_POINT, CMD_MOVE_UNIT, CMD_ATTACK_POINT, CMD_ATTACK_UNIT, CMD_SMART_POINT, \
    CMD_SMART_UNIT, CMD_STOP, CMD_HOLD = range(10)


# The widest group that keeps its formation: the game's data gives 8 for air groups and 6 for mixed ones
# (GameData.xml CGame AirFormationDiameter, MixedFormationDiameter in SC2Mapster/SC2GameData); the ground
# figure is not in the public data, 6 is our *unverified* choice.
FORMATION_SPREAD = 6.0


class Commands(NamedTuple):
    """A batch of raw commands as flat arrays: command k is for game[k], runs `code[k]` (CMD_*) with the
    unit tags tags[tag_start[k]:tag_start[k] + tag_count[k]] on target_tag[k] or the raw point
    (x[k], y[k]); the kernel writes its result (ACCEPTED or a reason) and the offending tag."""

    game: np.ndarray  # int64 [K]
    code: np.ndarray  # int64 [K]
    queued: np.ndarray  # int64 [K], 1 = queue after the current orders
    tag_start: np.ndarray  # int64 [K]
    tag_count: np.ndarray  # int64 [K]
    tags: np.ndarray  # int64 [total tags]
    target_tag: np.ndarray  # int64 [K]
    x: np.ndarray  # float64 [K], raw pixel x
    y: np.ndarray  # float64 [K], raw pixel y (flipped)
    result: np.ndarray  # int64 [K], out
    result_arg: np.ndarray  # int64 [K], out


@kernel
def give_order(state, g, u, kind, queued, t, x, y):
    """Queue (or replace the orders with) one order on unit t (slot, -1 for none) or point (x, y). A new
    move, or an attack on another unit, interrupts the attack under way (weapons.py)."""
    ui = state.unit_i
    if not queued and (kind == MOVE_POINT or kind == MOVE_UNIT or (kind == ATTACK_UNIT and not (
            t == ui[g, u, WINDUP_TARGET] and ui[g, t, TAG] == ui[g, u, WINDUP_TAG]))):
        cancel_attack(state, g, u)
    push_order(state, g, u, kind, queued, t, x, y)


@kernel
def check(state, tables, cmds, k, slots):
    """Validate command k; its units' slots into `slots`. Returns (result, offending value, target slot,
    world x, world y)."""
    g, f, queued = cmds.game[k], cmds.code[k], cmds.queued[k] == 1
    if state.game[g, DONE] == 1:
        return GAME_OVER, 0, -1, 0.0, 0.0
    if f != CMD_NO_OP and tables.map_i[UNIT_COMMANDS] == 0:
        return NOT_ON_THIS_MAP, 0, -1, 0.0, 0.0
    ui, tf, mf = state.unit_i, tables.type_f, tables.map_f
    need_weapon = f == CMD_ATTACK_POINT or f == CMD_ATTACK_UNIT
    moves = f != CMD_STOP and f != CMD_HOLD
    t0 = cmds.tag_start[k]
    for i in range(cmds.tag_count[k]):
        tag = cmds.tags[t0 + i]
        s = decode_tag(state, g, tag)
        if s < 0:
            return BAD_TAG, tag, -1, 0.0, 0.0
        if ui[g, s, OWNER] != OWNER_AGENT:
            return NOT_OWN_UNIT, tag, -1, 0.0, 0.0
        typ = ui[g, s, TYPE]
        if moves and (tf[typ, SPEED] <= 0.0 or (tables.type_i[typ, FLAGS] & FLAG_STRUCTURE) != 0):
            return CANNOT_MOVE, tag, -1, 0.0, 0.0
        if need_weapon and tf[typ, DAMAGE] <= 0.0:
            return NO_WEAPON, tag, -1, 0.0, 0.0
        if queued and ui[g, s, NUM_ORDERS] >= MAX_ORDERS:
            return QUEUE_FULL, tag, -1, 0.0, 0.0
        slots[i] = s
    t = -1
    wx, wy = 0.0, 0.0
    if f == CMD_MOVE_UNIT or f == CMD_ATTACK_UNIT or f == CMD_SMART_UNIT:
        ttag = cmds.target_tag[k]
        t = decode_tag(state, g, ttag)
        if t < 0:
            return BAD_TARGET_TAG, ttag, -1, 0.0, 0.0
        enemy = ui[g, t, OWNER] == OWNER_ENEMY
        if enemy and tables.map_i[FOG] == 1 and not visible_to(state, tables, g, t, OWNER_AGENT):
            return TARGET_HIDDEN, ttag, -1, 0.0, 0.0
        if f == CMD_ATTACK_UNIT and not enemy:
            return NOT_ENEMY, ttag, -1, 0.0, 0.0
    elif f == CMD_MOVE_POINT or f == CMD_ATTACK_POINT or f == CMD_SMART_POINT:
        # raw pixel space at raw_resolution == map size: world x = px, world y = map height - py
        # (pysc2 lib/features.py flips y between world and raw points)
        wx, wy = cmds.x[k], mf[MAP_HEIGHT] - cmds.y[k]
        if not (0.0 <= wx < mf[MAP_HEIGHT] and 0.0 <= wy < mf[MAP_HEIGHT]):
            return OFF_MAP, 0, -1, 0.0, 0.0
        if not (mf[PLAY_X0] <= wx <= mf[PLAY_X1] and mf[PLAY_Y0] <= wy <= mf[PLAY_Y1]):
            return OUTSIDE_PLAYABLE, 0, -1, 0.0, 0.0
    return ACCEPTED, 0, t, wx, wy


@kernel
def group_box(state, g, slots, n):
    """Centre (mean) and bounding box of the first n units of `slots`: (cx, cy, x0, y0, x1, y1)."""
    uf = state.unit_f
    cx, cy = 0.0, 0.0
    x0, y0, x1, y1 = FAR, FAR, -FAR, -FAR
    for i in range(n):
        x, y = uf[g, slots[i], X], uf[g, slots[i], Y]
        cx += x
        cy += y
        x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
    return cx / n, cy / n, x0, y0, x1, y1


@kernel
def apply_commands(state, tables, cmds, slots):
    """Validate and apply every command in order (commands of one game apply in list order). `slots` is
    scratch space (int64, >= the largest tag count)."""
    ui = state.unit_i
    for k in range(cmds.code.shape[0]):
        f = cmds.code[k]
        if f == CMD_SKIP:
            continue
        if f >= CMD_FIRST_ECONOMY:  # harvest, build, train (economy_commands.py)
            cmds.result[k], cmds.result_arg[k] = economy_command(state, tables, cmds, k, slots)
            continue
        g = cmds.game[k]
        code, arg, t, wx, wy = check(state, tables, cmds, k, slots)
        cmds.result[k] = code
        cmds.result_arg[k] = arg
        if code != ACCEPTED or f == CMD_NO_OP:
            continue
        kind = NO_ORDER
        if f == CMD_MOVE_POINT or f == CMD_SMART_POINT:
            kind = MOVE_POINT
        elif f == CMD_ATTACK_POINT:
            kind = ATTACK_POINT
        elif f == CMD_MOVE_UNIT:
            kind = MOVE_UNIT
        elif f == CMD_ATTACK_UNIT:
            kind = ATTACK_UNIT
        elif f == CMD_HOLD:
            kind = HOLD_POSITION
        n = cmds.tag_count[k]
        keep = (kind == MOVE_POINT or kind == ATTACK_POINT) and n > 1 and cmds.queued[k] == 0
        cx, cy = 0.0, 0.0
        if keep:
            cx, cy, x0, y0, x1, y1 = group_box(state, g, slots, n)
            keep = not (x0 <= wx <= x1 and y0 <= wy <= y1) and max(x1 - x0, y1 - y0) <= FORMATION_SPREAD
        mf = tables.map_f
        for i in range(n):
            u = slots[i]
            x, y = wx, wy
            if keep:  # the point plus the unit's offset from the group's centre, inside the playable area
                x = min(max(wx + state.unit_f[g, u, X] - cx, mf[PLAY_X0]), mf[PLAY_X1])
                y = min(max(wy + state.unit_f[g, u, Y] - cy, mf[PLAY_Y0]), mf[PLAY_Y1])
            if f == CMD_STOP:
                ui[g, u, NUM_ORDERS] = 0
                ui[g, u, CHASE_TARGET] = -1
                cancel_attack(state, g, u)
                continue
            unit_kind = kind
            if f == CMD_SMART_UNIT:  # on an enemy: attack (if armed); on a friend or neutral: move/follow
                armed = tables.type_f[ui[g, u, TYPE], DAMAGE] > 0.0
                unit_kind = ATTACK_UNIT if ui[g, t, OWNER] == OWNER_ENEMY and armed else MOVE_UNIT
            give_order(state, g, u, unit_kind, cmds.queued[k] == 1, t, x, y)
