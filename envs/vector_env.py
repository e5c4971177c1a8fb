"""A gymnasium VectorEnv over the engine's batched stepping: B games advance in one engine call.

Autoreset is gymnasium's NEXT_STEP mode (what RLlib assumes): the step after a game ends returns that
game's reset observation with reward 0, and its action is ignored. Game i seeded s plays exactly like
`EntityEnv` seeded s, episode after episode.

    vec = gymnasium.make_vec("perceiver_sc2/DefeatRoaches-v0", num_envs=64,
                             vectorization_mode="vector_entry_point")
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import batch_space

from envs.entity_env import (
    action_space,
    entity_spec,
    observation_space,
    step_info,
)
from envs.errors import UserError
from envs.featurize import featurize
from envs.raw_schema import RawObs
from envs.translate import Translator


class EntityVectorEnv(gym.vector.VectorEnv):
    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, map_name: str, num_envs: int = 1, *, backend: str = "engine",
                 max_entities: int | None = None, max_units: int | None = None,
                 enemy_bot: str | None = None, step_mul: int = 8, grid_size: int = 8):
        from envs.engine import ENEMY_BOTS

        if backend != "engine":
            raise UserError(f"the vector env batches the embedded engine only, not backend {backend!r}")
        if enemy_bot is not None and enemy_bot not in ENEMY_BOTS:
            raise UserError(f"unknown enemy bot {enemy_bot!r}; known bots: {', '.join(ENEMY_BOTS)}")
        self.map_name = map_name
        self.num_envs = int(num_envs)
        self.entity_spec = entity_spec(map_name, max_entities=max_entities, max_units=max_units,
                                       grid_size=grid_size)
        self.layout = self.entity_spec.layout
        self.single_observation_space = observation_space(self.entity_spec)
        self.single_action_space = action_space(self.entity_spec)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._translate = Translator(self.entity_spec)
        self._engine_args = dict(step_mul=step_mul, **({} if enemy_bot is None else {"enemy_bot": enemy_bot}))
        self._engine = None
        self._obs = {k: np.zeros(s.shape, s.dtype) for k, s in self.observation_space.spaces.items()}
        self._slots = [None] * self.num_envs
        self._masks = [None] * self.num_envs
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        from envs.engine import BatchedEngine

        super().reset(seed=seed)
        if seed is None:
            seeds = None if self._engine is not None else self.np_random.integers(2**31, size=self.num_envs)
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if self._engine is None:
            self._engine = BatchedEngine(self.map_name, num_games=self.num_envs,
                                         seeds=[int(s) for s in seeds], **self._engine_args)
            raws = self._engine.reset()
        else:
            raws = [self._engine.reset_game(i, seed=None if seeds is None else int(seeds[i]))
                    for i in range(self.num_envs)]
        self._needs_reset[:] = False
        infos = [self._observe(i, raw, 0) for i, raw in enumerate(raws)]
        return self._batched_obs(), self._batch_infos(infos)

    def step(self, actions):
        if self._engine is None:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        commands, illegal = [], np.zeros(self.num_envs, dtype=np.int64)
        for i in range(self.num_envs):
            if self._needs_reset[i]:
                commands.append([])
                continue
            cmds, illegal[i] = self._translate(actions[i], self._masks[i], self._slots[i])
            commands.append(cmds)
        raws = self._engine.step(commands, active=~self._needs_reset)
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        terminated = np.zeros(self.num_envs, dtype=bool)
        infos = []
        for i, raw in enumerate(raws):
            if self._needs_reset[i]:
                raw = self._engine.reset_game(i)
            else:
                rewards[i] = raw.reward
                terminated[i] = raw.done
            infos.append(self._observe(i, raw, int(illegal[i])))
        self._needs_reset = terminated.copy()
        truncated = np.zeros(self.num_envs, dtype=bool)
        return self._batched_obs(), rewards, terminated, truncated, self._batch_infos(infos)

    def _observe(self, i: int, raw: RawObs, illegal: int) -> dict:
        obs, slots = featurize(raw, self.entity_spec)
        for key, value in obs.items():
            self._obs[key][i] = value
        self._slots[i] = slots
        self._masks[i] = self._obs["action_mask"][i]
        return step_info(raw, slots.num_dropped, illegal)

    def _batched_obs(self) -> dict:
        return {k: v.copy() for k, v in self._obs.items()}

    def _batch_infos(self, infos: list[dict]) -> dict:
        out = {}
        for i, info in enumerate(infos):
            out = self._add_info(out, info, i)
        return out

    def close_extras(self, **kwargs):
        self._engine = None
