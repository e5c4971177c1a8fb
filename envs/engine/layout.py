"""Column layout of the engine's struct-of-arrays state and its command/result codes.

State arrays have a leading games axis: unit floats UF[B, M, NUF], unit ints UI[B, M, NUI], game ints
GI[B, NGI], per-game RNG state RNG[B] (uint64). Module-level ints are compile-time constants in numba.
"""

from __future__ import annotations

MAX_ORDERS = 8  # order queue capacity (SC2 queues more; raw_units shows 4 order ids)

# --- unit floats UF[g, u, :]
# FDX, FDY: the facing direction (atan2 only when observed); RAD: the type's radius, cached for hot loops
X, Y, HP, SH, CD, FDX, FDY, PREV_DIST, RAD = range(9)
ORD_X = 9  # ORD_X + 2k, ORD_X + 2k + 1: point of order k
NUF = ORD_X + 2 * MAX_ORDERS

# --- unit ints UI[g, u, :]
# ENG, ENG_TAG: the target the unit's weapon is engaged with (slot, tag), -1 when none: it keeps firing at
# it out to weapon range + RANGE_SLOP (combat.py)
ALIVE, TYPE, OWNER, TAG, GEN, NORD, AUTO, AUTO_TAG, ENG, ENG_TAG = range(10)
ORD_KIND = 10  # ORD_KIND + k
ORD_TGT = ORD_KIND + MAX_ORDERS  # target slot of order k
ORD_TAG = ORD_TGT + MAX_ORDERS  # target tag of order k (the slot may be reused later)
ORD_GEN = ORD_TAG + MAX_ORDERS  # target's relocation count when ordered (a beacon jump ends the order)
NUI = ORD_GEN + MAX_ORDERS

# --- game ints GI[g, :]
# N_AGENT / N_ENEMY: living units per side, kept by spawn/kill (the triggers read them every loop)
# DAMAGE_DEALT: hit points and shields the agent's units took from enemies this episode, counted in half
# points (SC2's smallest hit is 0.5), rounded down; the game reports it in score_by_vital.
LOOP, NSLOT, NEXT_UID, SCORE, PREV_SCORE, DONE, OUTCOME, SIDE, WAVE, LOOP_LIMIT, N_AGENT, N_ENEMY, \
    DAMAGE_DEALT = range(13)
NGI = 13

# --- owners (pysc2 raw owner column) and alliances
OWNER_AGENT, OWNER_ENEMY, OWNER_NEUTRAL = 1, 2, 16

# --- order kinds
O_NONE, O_MOVE_PT, O_MOVE_UNIT, O_ATTACK_PT, O_ATTACK_UNIT, O_HOLD = range(6)

# raw_units order_id values: pysc2 writes RAW_ABILITY_ID_TO_FUNC_ID[ability] (features.py, raw_order),
# the smallest raw function id of the order's ability: Attack 3674 -> 2 (Attack_pt), Move 3794 -> 13
# (Move_pt), HoldPosition 3793 -> 17 (pysc2 4.0.0 actions.py). Whether the game reports the general
# ability id or a specific one (Attack_Attack 23 -> 4) for these orders is *unverified*.
ORDER_FUNC_ID = (0, 13, 13, 2, 2, 17)

# --- command function codes inside the kernel (the Python side maps RawFunction ids to these)
C_SKIP, C_NOOP, C_MOVE_PT, C_MOVE_UNIT, C_ATTACK_PT, C_ATTACK_UNIT, C_SMART_PT, C_SMART_UNIT, C_STOP, \
    C_HOLD = range(10)

# --- command result codes (0 = accepted); reasons for the others in engine.REASONS
R_OK, R_BAD_TAG, R_NOT_OWN, R_BAD_TARGET_TAG, R_TARGET_HIDDEN, R_OFF_MAP, R_OUTSIDE_PLAYABLE, R_NOT_ENEMY, \
    R_NO_WEAPON, R_QUEUE_FULL, R_GAME_OVER, R_CANNOT_MOVE, R_PRECHECKED = range(13)

# --- map rule kinds (maps.py)
K_BEACON, K_SHARDS, K_HUNT, K_WAVES, K_DUEL = range(5)

# --- map parameters MP_F (floats) and MP_I (ints)
(PF_X0, PF_Y0, PF_X1, PF_Y1, PF_LX0, PF_LY0, PF_LX1, PF_LY1, PF_RX0, PF_RY0, PF_RX1, PF_RY1, PF_SX0, PF_SY0,
 PF_SX1, PF_SY1, PF_MIN_SEP, PF_MIN_FROM_AGENT, PF_CENTRE_X, PF_CENTRE_Y, PF_EXCLUDE_R, PF_RESPAWN_FROM_AGENT,
 PF_MAP_H) = range(23)
NPF = 23
(PI_KIND, PI_KILL_REWARD, PI_LOSS_REWARD, PI_WIN_REWARD, PI_LOOP_LIMIT, PI_END_WHEN_AGENT_DEAD, PI_FOG,
 PI_NEUTRAL_TYPE, PI_NEUTRAL_COUNT, PI_WAVE_EXTRA_TYPE, PI_WAVE_EXTRA_COUNT, PI_HAS_WIN, PI_MAX_UNITS,
 PI_RANDOM_SIDE, PI_ENEMY_CLUMP) = range(15)
NPI = 15
# spawn groups SG[k, :]: (owner, unit type index, count)
SG_OWNER, SG_TYPE, SG_COUNT = range(3)

# Bots
BOT_IDLE, BOT_ATTACK_NEAREST, BOT_FOCUS_FIRE = range(3)
