"""A gymnasium VectorEnv over the engine's batched stepping: B games advance in one engine call.

Autoreset is gymnasium's NEXT_STEP mode (what RLlib assumes): the step after a game ends returns that
game's reset observation with reward 0, and its action is ignored. Game i seeded s plays exactly like
`EntityEnv` seeded s, episode after episode: both run the same featurize and translate kernels, here
over all games at once and without building a Python object per command.

    vec = gymnasium.make_vec("perceiver_sc2/DefeatRoaches-v0", num_envs=64,
                             vectorization_mode="vector_entry_point")
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import batch_space

from envs.entity_env import action_space, entity_spec, observation_space
from envs.errors import UserError
from envs.featurize import empty_observation, featurize_into
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
        self._engine_args = dict(step_mul=step_mul, enemy_bot=enemy_bot)
        self._engine = None
        self._obs = empty_observation(self.entity_spec, self.num_envs)
        self._tags = np.zeros((self.num_envs, self.entity_spec.max_entities), np.int64)
        self._dropped = np.zeros(self.num_envs, np.int64)
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        from envs.engine import BatchedEngine

        super().reset(seed=seed if isinstance(seed, int) else None)  # gymnasium seeds its own rng from an int
        if seed is None:
            seeds = None if self._engine is not None else self.np_random.integers(2**31, size=self.num_envs)
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if self._engine is None:
            self._engine = BatchedEngine(self.map_name, num_games=self.num_envs,
                                         seeds=[int(s) for s in seeds], **self._engine_args)
        self._engine.reset(None if seeds is None else [int(s) for s in seeds])
        self._needs_reset[:] = False
        state = self._observe()
        none = np.zeros(self.num_envs, np.int64)
        return self._copy_obs(), self._infos(state, none, none)

    def step(self, actions):
        if self._engine is None:
            raise RuntimeError("call reset() before step()")
        active = ~self._needs_reset
        commands = self._translate.group(np.asarray(actions), self._obs["action_mask"], self._tags, active)
        results = self._engine.step_grouped(*self._command_arrays(commands), active=active)
        rejected = np.bincount(commands.game[results != 0], minlength=self.num_envs)
        for i in np.flatnonzero(self._needs_reset).tolist():
            self._engine.reset_game(i)
        state = self._observe()
        rewards = np.where(active, state.reward, 0.0).astype(np.float32)
        terminated = active & state.done
        self._needs_reset = terminated.copy()
        truncated = np.zeros(self.num_envs, dtype=bool)
        infos = self._infos(state, commands.illegal, rejected)
        return self._copy_obs(), rewards, terminated, truncated, infos

    def _command_arrays(self, c):
        """Grouped layout actions -> the engine's batched raw-command arrays."""
        t = self._translate
        target = t.target_of_action[c.action]
        N, G = self._tags.shape[1], len(t.cell_points)
        target_tag = np.where(t.is_entity_target[c.action], self._tags[c.game, np.minimum(target, N - 1)], 0)
        point = np.where(t.is_point_target[c.action][:, None], t.cell_points[np.minimum(target, G - 1)], 0.0)
        queued = np.zeros(len(c.action), np.int64)
        return (c.game, t.function_of_action[c.action], queued, c.start, c.count, c.tags, target_tag,
                point[:, 0].copy(), point[:, 1].copy())

    def _observe(self):
        state = self._engine.arrays()
        featurize_into(self.entity_spec, state.units, state.positions, state.radii, state.counts,
                       state.game_loop, self._obs, self._tags, self._dropped)
        return state

    def _copy_obs(self) -> dict:
        return {k: v.copy() for k, v in self._obs.items()}

    def _infos(self, state, illegal: np.ndarray, rejected: np.ndarray) -> dict:
        """Vector infos (gymnasium's dict of arrays with `_key` masks), as `entity_env.step_info` per game."""
        every = np.ones(self.num_envs, dtype=bool)
        infos = {
            "score": state.score.astype(np.float64), "_score": every,
            "dropped": self._dropped.copy(), "_dropped": every,
            "illegal_actions": np.asarray(illegal, np.int64), "_illegal_actions": every,
            "rejected_commands": rejected, "_rejected_commands": every,
        }
        decided = state.done & (state.outcome != 0)
        if decided.any():
            infos["won"] = state.outcome == 1
            infos["_won"] = decided
        return infos

    def close_extras(self, **kwargs):
        self._engine = None
