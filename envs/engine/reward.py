"""SMAC's reward (oxwhirl/smac starcraft2.py), paid by the engine after every agent step on the maps that
use it (maps.MapSpec.smac_reward); the pysc2 maps' score moves inside the loops instead (combat.kill,
rules.tick).
"""

from __future__ import annotations

from envs.engine.jit import kernel
from envs.engine.maps import REWARD_SCALE, SMAC_KILL, SMAC_REWARD, SMAC_WIN
from envs.engine.state import (
    ALIVE,
    DONE,
    ENEMY_LIFE,
    HEALTH,
    NUM_ENEMY,
    NUM_SLOTS,
    OUTCOME,
    OWNER,
    OWNER_ENEMY,
    SCORE,
    SCORE_UNITS,
    SHIELD,
    STEP_ENEMIES,
)


@kernel
def enemy_life(state, g):
    """Hit points + shields of the living enemies."""
    uf, ui = state.unit_f, state.unit_i
    life = 0.0
    for u in range(state.game[g, NUM_SLOTS]):
        if ui[g, u, ALIVE] == 1 and ui[g, u, OWNER] == OWNER_ENEMY:
            life += uf[g, u, HEALTH] + uf[g, u, SHIELD]
    return life


@kernel
def note_enemies(state, g):
    """Remember the enemies' life and number for the next step's SMAC reward."""
    state.game[g, ENEMY_LIFE] = round(enemy_life(state, g) * SCORE_UNITS)
    state.game[g, STEP_ENEMIES] = state.game[g, NUM_ENEMY]


@kernel
def end_step(state, tables, g):
    """After an agent step's loops: pay SMAC's reward on the maps that use it.

    SMAC's reward (oxwhirl/smac starcraft2.py `reward_battle` with its defaults, reward_only_positive):
    |hit points and shields the enemies lost + SMAC_KILL per enemy killed| + SMAC_WIN for a win, divided by
    max_reward / SMAC_SCALE_RATE; max_reward (MapSpec.smac_max_reward) counts every enemy's full hit points
    and shields, so a won episode pays SMAC_SCALE_RATE in all (more if enemy shields regenerate: the
    absolute value is SMAC's, and a step in which shields grow and nothing is hit pays the regeneration)."""
    if tables.map_i[SMAC_REWARD] == 0:
        return
    game = state.game
    life = round(enemy_life(state, g) * SCORE_UNITS)
    kills = game[g, STEP_ENEMIES] - game[g, NUM_ENEMY]
    reward = abs(game[g, ENEMY_LIFE] - life + SMAC_KILL * SCORE_UNITS * kills)
    if game[g, DONE] == 1 and game[g, OUTCOME] == 1:
        reward += SMAC_WIN * SCORE_UNITS
    game[g, SCORE] += round(reward * tables.map_f[REWARD_SCALE])
    game[g, ENEMY_LIFE] = life
    game[g, STEP_ENEMIES] = game[g, NUM_ENEMY]
