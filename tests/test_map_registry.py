"""The engine's map registry is the one list of maps: every other per-map table covers exactly it."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym

import envs  # noqa: F401  (registers the gymnasium ids)
from agent.evaluation.scripted import SCRIPTED_AGENTS
from envs.engine import MAP_NAMES
from envs.engine.scripted import SCRIPTED
from envs.entity_env import ENTITY_CAPS

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_every_per_map_table_lists_the_engines_maps():
    assert "8m" in MAP_NAMES and "3s5z" in MAP_NAMES
    for table in (ENTITY_CAPS, SCRIPTED_AGENTS, SCRIPTED):
        assert sorted(table) == sorted(MAP_NAMES)
    for name in MAP_NAMES:
        assert (CONFIGS / f"{name}.yaml").is_file(), name
        assert f"perceiver_sc2/{name}-v0" in gym.registry
