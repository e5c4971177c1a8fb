"""Embedded StarCraft II minigame engine: pysc2's raw schema over a numba simulation at game-loop resolution.

    from envs.engine import Engine, BatchedEngine, MAP_NAMES, ENEMY_BOTS, map_spec

See engine.py for the API and the view semantics of observations, combat.py for the simulation's
documented choices, maps.py for the map rules. Exports load lazily, so that importing a light submodule
(maps, demo for `--help`) does not import numba.
"""

from envs.engine import _numba_cache

_numba_cache.refresh()  # before any kernel is compiled or loaded from the cache

_EXPORTS = {
    "ENEMY_BOTS": "envs.engine.engine",
    "BatchedEngine": "envs.engine.engine",
    "ECONOMY_MAP_NAMES": "envs.engine.maps",
    "Engine": "envs.engine.engine",
    "EngineObs": "envs.engine.engine",
    "MAP_NAMES": "envs.engine.maps",
    "MapSpec": "envs.engine.maps",
    "map_spec": "envs.engine.maps",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'envs.engine' has no attribute {name!r}")
