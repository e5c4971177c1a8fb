"""What every command path shares: the result codes, a tag's slot, and writing an order into a unit's queue.

The combat commands (commands.py), the economy's (economy_commands.py) and the scripted bots (bots.py) all
order units through here.
"""

from __future__ import annotations

from envs.engine.jit import inline, kernel
from envs.engine.lookup import FAR, valid_unit
from envs.engine.rules import TAG_SLOT_BITS
from envs.engine.state import (
    CHASE_TARGET,
    DIST_LEFT,
    KIND,
    NUM_ORDERS,
    RELOCATIONS,
    TAG,
    TARGET,
    TARGET_RELOCATIONS,
    TARGET_TAG,
)

# --- command results (0 = accepted); engine.REASONS words them, the economy's start at 40
ACCEPTED, BAD_TAG, NOT_OWN_UNIT, BAD_TARGET_TAG, TARGET_HIDDEN, OFF_MAP, OUTSIDE_PLAYABLE, NOT_ENEMY, \
    NO_WEAPON, QUEUE_FULL, GAME_OVER, CANNOT_MOVE = range(12)

_SLOT_MASK = (1 << TAG_SLOT_BITS) - 1


@inline
def decode_tag(state, g, tag):
    """Slot of a living unit with this tag, or -1."""
    if tag <= 0:
        return -1
    s = tag & _SLOT_MASK
    if s >= state.unit_i.shape[1] or not valid_unit(state, g, s, tag):
        return -1
    return s


@kernel
def push_order(state, g, u, kind, queued, t, x, y):
    """Append one order to unit u's queue, or replace the queue with it: target unit t (slot, -1 for none)
    or point (x, y). A fresh current order has its distance still to find (DIST_LEFT = FAR)."""
    ui, oi = state.unit_i, state.order_i
    if not queued:
        ui[g, u, NUM_ORDERS] = 0
        ui[g, u, CHASE_TARGET] = -1
    k = ui[g, u, NUM_ORDERS]
    oi[g, u, k, KIND] = kind
    oi[g, u, k, TARGET] = t
    oi[g, u, k, TARGET_TAG] = ui[g, t, TAG] if t >= 0 else 0
    oi[g, u, k, TARGET_RELOCATIONS] = ui[g, t, RELOCATIONS] if t >= 0 else 0
    state.order_xy[g, u, k, 0] = x
    state.order_xy[g, u, k, 1] = y
    ui[g, u, NUM_ORDERS] = k + 1
    if k == 0:
        state.unit_f[g, u, DIST_LEFT] = FAR
