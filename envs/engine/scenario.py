"""Hand-built situations for tests and experiments: chosen units at chosen points on an empty map.

    eng, obs = scenario([("Marine", 1, 30.0, 28.0), ("Zergling", 2, 34.0, 28.0)], disarm=("Zergling",))

Owner 1 is the agent, 2 the enemy, 16 neutral. The map is a copy of "3m" (duel rules: the episode ends
when a side is wiped out) with room for the units and at least SCENARIO_SECONDS to play, and its enemy
is idle unless `enemy_bot` names another bot. `disarm` zeroes the named types' weapons in this engine's
copy of the unit table, so a victim stands still and does not shoot back; `regenerate=False` stops hit
point and shield regeneration (for damage arithmetic by hand).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from envs.engine.engine import Engine, EngineObs
from envs.engine.maps import map_spec
from envs.engine.obs import write_obs
from envs.engine.reward import note_enemies
from envs.engine.rules import spawn
from envs.engine.state import ALIVE, NUM_AGENT, NUM_ENEMY, NUM_SLOTS
from envs.engine.units import DAMAGE, LIFE_REGEN, SHIELD_REGEN, UNIT_INDEX

SCENARIO_SECONDS = 120  # a scenario lasts at least this long (game seconds), whatever its base map's limit


def scenario(units: Sequence[tuple[str, int, float, float]], *, seed: int = 0, step_mul: int = 1,
             disarm: Sequence[str] = (), regenerate: bool = True, base_map: str = "3m",
             enemy_bot: str = "idle") -> tuple[Engine, EngineObs]:
    """An Engine whose only units are `units` (name, owner, x, y); returns it with its first observation."""
    base = map_spec(base_map)
    spec = dataclasses.replace(base, name=f"scenario:{base_map}", max_units=max(len(units), 1),
                               time_limit_s=max(base.time_limit_s, SCENARIO_SECONDS))
    eng = Engine(spec, seed=seed, step_mul=step_mul, enemy_bot=enemy_bot)
    eng.reset()
    b = eng._batch
    if disarm or not regenerate:
        type_f = b.tables.type_f  # the engine's own copy, which its kernels read
        for name in disarm:
            type_f[UNIT_INDEX[name], DAMAGE] = 0.0
        if not regenerate:
            type_f[:, LIFE_REGEN] = type_f[:, SHIELD_REGEN] = 0.0
    state = b.state
    state.unit_i[0, :, ALIVE] = 0
    state.game[0, NUM_SLOTS] = 0
    state.game[0, NUM_AGENT] = state.game[0, NUM_ENEMY] = 0
    for name, owner, x, y in units:
        spawn(state, b.tables, 0, UNIT_INDEX[name], int(owner), float(x), float(y), -1.0, -1.0)
    note_enemies(state, 0)
    write_obs(state, b.tables, 0, b.raw)
    return eng, b._observe({})[0]
