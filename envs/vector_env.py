"""A gymnasium VectorEnv over the engine's batched stepping: B games advance in one engine call.

Autoreset is gymnasium's NEXT_STEP mode (what RLlib assumes): the step after a game ends returns that
game's reset observation with reward 0, and its action is ignored. Game i seeded s plays exactly like
`EntityEnv` seeded s, episode after episode: both step the engine through `EngineBridge`, here over all
games at once. After a step, `restarted` says which games sat it out to restart, and `damage_dealt` how
much each game's own units have hurt the enemy so far (what reward shaping reads).

    vec = gymnasium.make_vec("perceiver_sc2/DefeatRoaches-v0", num_envs=64,
                             vectorization_mode="vector_entry_point")
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import batch_space

from envs.engine import BatchedEngine
from envs.engine_bridge import (
    BANKED,
    DAMAGE_DEALT,
    DONE,
    IDLE_WORKERS,
    OUTCOME,
    REWARD,
    SCORE,
    EngineBridge,
)
from envs.entity_env import action_space, check_enemy_bot, entity_spec, observation_space
from envs.errors import UserError


class EntityVectorEnv(gym.vector.VectorEnv):
    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, map_name: str, num_envs: int = 1, *, backend: str = "engine",
                 max_entities: int | None = None, max_units: int | None = None,
                 enemy_bot: str | None = None, step_mul: int = 8, grid_size: int = 8):
        if backend != "engine":
            raise UserError(f"the vector env batches the embedded engine only, not backend {backend!r}")
        check_enemy_bot(enemy_bot)
        self.map_name = map_name
        self.num_envs = int(num_envs)
        self.entity_spec = entity_spec(map_name, max_entities=max_entities, max_units=max_units,
                                       grid_size=grid_size)
        self.layout = self.entity_spec.layout
        self.single_observation_space = observation_space(self.entity_spec)
        self.single_action_space = action_space(self.entity_spec)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._engine_args = dict(step_mul=step_mul, enemy_bot=enemy_bot)
        self._engine = self._bridge = None
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)
        # [B] the games the last step restarted (they ended the step before: reward 0, action ignored)
        self.restarted = np.zeros(self.num_envs, dtype=bool)

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
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
            self._bridge = EngineBridge(self.entity_spec, self._engine)
        self._needs_reset[:] = False
        self.restarted[:] = False
        obs = self._bridge.reset(None if seeds is None else [int(s) for s in seeds])
        none = np.zeros(self.num_envs, np.int64)
        return obs, self._infos(none, none, none)

    def step(self, actions):
        if self._engine is None:
            raise RuntimeError("call reset() before step()")
        # Games that ended last step restart now and sit this step out (their action is ignored).
        for i in np.flatnonzero(self._needs_reset).tolist():
            self._bridge.reset_game(i)
        self.restarted = self._needs_reset.copy()
        active = ~self.restarted
        bridge = self._bridge
        obs = bridge.step(actions, active)
        status = bridge.status
        rewards = np.where(active, status[:, REWARD], 0.0).astype(np.float32)
        terminated = active & (status[:, DONE] == 1)
        self._needs_reset = terminated.copy()
        truncated = np.zeros(self.num_envs, dtype=bool)
        return obs, rewards, terminated, truncated, self._infos(bridge.illegal.copy(), bridge.rejected.copy(),
                                                                bridge.withheld.copy())

    @property
    def damage_dealt(self) -> np.ndarray:
        """[B] enemy hit points and shields each game's own units have removed since the game (re)started."""
        return self._bridge.status[:, DAMAGE_DEALT].copy()

    @property
    def idle_workers(self) -> np.ndarray:
        """[B] each game's own workers without an order (the player vector's idle_worker_count)."""
        return self._bridge.status[:, IDLE_WORKERS].copy()

    @property
    def resources_banked(self) -> np.ndarray:
        """[B] each game's minerals and gas in the bank (brought home, less what was spent)."""
        return self._bridge.status[:, BANKED].copy()

    @property
    def value_bought(self) -> np.ndarray:
        """[B] what each game's player has paid for (envs/entity_env.py `value_bought`)."""
        return self._bridge.values_bought()

    def _infos(self, illegal: np.ndarray, rejected: np.ndarray, withheld: np.ndarray) -> dict:
        """Vector infos (gymnasium's dict of arrays with `_key` masks), as `entity_env.step_info` per game."""
        status, every = self._bridge.status, np.ones(self.num_envs, dtype=bool)
        infos = {
            "score": status[:, SCORE].copy(), "_score": every,
            "dropped": self._bridge.dropped.copy(), "_dropped": every,
            "illegal_actions": illegal, "_illegal_actions": every,
            "rejected_commands": rejected, "_rejected_commands": every,
            "withheld_actions": withheld, "_withheld_actions": every,
        }
        outcome = status[:, OUTCOME]
        decided = (status[:, DONE] == 1) & (outcome != 0)
        if decided.any():
            infos["won"] = outcome == 1
            infos["_won"] = decided
        return infos

    def close_extras(self, **kwargs):
        self._engine = self._bridge = None
