"""A stand-in for StarCraft II in training tests: pysc2's own SC2TestEnv showing a MoveToBeacon scene.

`BeaconTestEnv` takes SC2Env's arguments (it is given to the training env as `sc2_env_cls`), ends every
episode after 10 steps as SC2TestEnv does, and turns every action it is sent into the game's action
proto with pysc2's own `transform_action`, keeping the unit commands in `BeaconTestEnv.sent` (per process:
a Ray worker keeps its own). Importing this module installs pysc2's shims first.
"""

from __future__ import annotations

import importlib

from envs import pysc2_compat

pysc2_compat.install()
mock_sc2_env = importlib.import_module("pysc2.env.mock_sc2_env")
environment = importlib.import_module("pysc2.env.environment")
dummy_observation = importlib.import_module("pysc2.tests.dummy_observation")
common_pb2 = importlib.import_module("s2clientprotocol.common_pb2")

MARINE, BEACON = 48, 317  # pysc2 lib/units.py Terran.Marine; the beacon id the engine uses (unverified)
SELF, NEUTRAL = 1, 3  # pysc2 features.PlayerRelative
MARINE_TAG = 1  # dummy_observation.Builder numbers units 1..N in the order given
REWARD = 1.0  # every step after the first pays this, so an episode of 10 steps returns 10
SCORE = 7  # the map score (score_cumulative[0]) every observation shows


class BeaconTestEnv(mock_sc2_env.SC2TestEnv):
    sent: list[tuple[int, tuple[int, ...]]] = []  # (ability id, unit tags) of every unit command received

    def __init__(self, **sc2_env_kwargs):
        super().__init__(**sc2_env_kwargs)
        unit = dummy_observation.FeatureUnit
        units = [  # world positions inside MoveToBeacon's playable area
            unit(MARINE, SELF, owner=1, pos=common_pb2.Point(x=30.0, y=28.0, z=0), radius=0.375, health=45,
                 health_max=45, is_on_screen=True),
            unit(BEACON, NEUTRAL, owner=16, pos=common_pb2.Point(x=36.0, y=31.0, z=0), radius=1.25, health=0,
                 health_max=0, is_on_screen=True),
        ]
        builder = dummy_observation.Builder(self.observation_spec()[0])
        builder.player_common(food_workers=0, idle_worker_count=0)  # MoveToBeacon has no workers
        obs = self._features[0].transform_obs(builder.feature_units(units).score(SCORE).game_loop(8).build())
        self.next_timestep = [environment.TimeStep(environment.StepType.MID, REWARD, 1.0, obs)]

    def step(self, actions, step_mul=None):
        for call in actions[0] or ():  # reset() steps with [None]
            action = self._features[0].transform_action(None, call)  # raises on what pysc2 refuses
            if action.action_raw.HasField("unit_command"):
                command = action.action_raw.unit_command
                BeaconTestEnv.sent.append((command.ability_id, tuple(command.unit_tags)))
        return super().step(actions, step_mul)
