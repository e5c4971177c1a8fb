"""StarCraft II environments: the embedded engine, the pysc2 backend, and the entity env over both.

Importing `envs` registers `perceiver_sc2/<Map>-v0` with gymnasium for every map, the combat maps and the
economy maps, single (`envs.entity_env.EntityEnv`) and vectorised (`envs.vector_env.EntityVectorEnv`).
"""

import gymnasium as _gym

from envs.engine import ECONOMY_MAP_NAMES as _ECONOMY_MAP_NAMES
from envs.engine import MAP_NAMES as _MAP_NAMES

for _map in _MAP_NAMES + _ECONOMY_MAP_NAMES:
    _gym.register(
        id=f"perceiver_sc2/{_map}-v0",
        entry_point="envs.entity_env:EntityEnv",
        vector_entry_point="envs.vector_env:EntityVectorEnv",
        kwargs={"map_name": _map},
    )


def __getattr__(name: str):
    # `envs.EngineSC2Env` installs pysc2's Python 3.11 shims first, so a user's pysc2 imports after it work.
    if name == "EngineSC2Env":
        from envs import pysc2_compat

        pysc2_compat.install()
        from envs.engine_sc2env import EngineSC2Env

        return EngineSC2Env
    raise AttributeError(f"module 'envs' has no attribute {name!r}")
