"""The engine's map registry is the one list of maps: every other per-map table covers exactly it."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym

import envs  # noqa: F401  (registers the gymnasium ids)
from agent.evaluation.scripted import SCRIPTED_AGENTS
from envs.engine import ECONOMY_MAP_NAMES, MAP_NAMES
from envs.engine.scripted import SCRIPTED
from envs.entity_env import ENTITY_CAPS
from envs.scripted_economy import SCRIPTED_ECONOMY

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_every_per_map_table_lists_the_engines_maps():
    assert "8m" in MAP_NAMES and "3s5z" in MAP_NAMES
    assert ECONOMY_MAP_NAMES == ("CollectMineralsAndGas", "BuildMarines")
    for table in (SCRIPTED_AGENTS, SCRIPTED):  # the combat maps' scripted agents
        assert sorted(table) == sorted(MAP_NAMES)
    assert sorted(SCRIPTED_ECONOMY) == sorted(ECONOMY_MAP_NAMES)  # the economy maps' scripted players
    assert sorted(ENTITY_CAPS) == sorted(MAP_NAMES + ECONOMY_MAP_NAMES)
    for name in MAP_NAMES + ECONOMY_MAP_NAMES:
        assert (CONFIGS / f"{name}.yaml").is_file(), name
        assert f"perceiver_sc2/{name}-v0" in gym.registry
