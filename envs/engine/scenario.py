"""Hand-built situations for tests and experiments: chosen units at chosen points on an empty map.

    eng, obs = scenario([("Marine", 1, 30.0, 28.0), ("Zergling", 2, 34.0, 28.0)], disarm=("Zergling",))

Owner 1 is the agent, 2 the enemy, 16 neutral. The map is a copy of "3m" (duel rules: the episode ends
when a side is wiped out) with room for the units. `disarm` zeroes the named types' weapons in this
engine's copy of the unit table, so a victim stands still and does not shoot back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from envs.engine import layout as L
from envs.engine.engine import Engine, EngineObs
from envs.engine.maps import map_spec
from envs.engine.obs import write_obs
from envs.engine.rules import spawn
from envs.engine.units import F_DAMAGE, UNIT_INDEX


def scenario(units: Sequence[tuple[str, int, float, float]], *, seed: int = 0, step_mul: int = 1,
             disarm: Sequence[str] = (), base_map: str = "3m") -> tuple[Engine, EngineObs]:
    """An Engine whose only units are `units` (name, owner, x, y); returns it with its first observation."""
    spec = dataclasses.replace(map_spec(base_map), name=f"scenario:{base_map}", max_units=max(len(units), 1))
    eng = Engine(spec, seed=seed, step_mul=step_mul, enemy_bot="idle")
    eng.reset()
    b = eng._batch
    if disarm:
        b._tf = b._tf.copy()
        for name in disarm:
            b._tf[UNIT_INDEX[name], F_DAMAGE] = 0.0
    b._ui[0, :, L.ALIVE] = 0
    b._gi[0, L.NSLOT] = 0
    b._gi[0, L.N_AGENT] = b._gi[0, L.N_ENEMY] = 0
    for name, owner, x, y in units:
        spawn(b._uf, b._ui, b._gi, b._tf, b._mi, 0, UNIT_INDEX[name], int(owner), float(x), float(y),
              -1.0, -1.0)
    write_obs(b._uf, b._ui, b._gi, b._tf, b._ti, b._mf, b._mi, 0, b._ou, b._op, b._or, b._on, b._opl, b._osc)
    return eng, b._observe([[]])[0]
