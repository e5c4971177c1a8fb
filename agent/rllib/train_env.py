"""The env RLlib trains on: the engine vector env with per-runner seeds, reward shaping and a game log.

Imported by Ray workers through the env registry (`make_train_env` is the env creator).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from envs.vector_env import EntityVectorEnv

SEED_STRIDE = 100_000  # games of different env runners never share a seed below this many games each


class TrainVectorEnv(EntityVectorEnv):
    """The engine vector env with non-overlapping seeds per env runner and a log of finished games.

    RLlib seeds runner w with `seed + w`, and the vector env seeds game i with `seed + i`, so runners
    would replay each other's games; here game i of runner w starts at seed*SEED_STRIDE + w*num_envs + i.
    `finished` holds (steps, score, summed reward) of the last games as the env itself counted them.
    PPO's reward is (map reward + `damage_reward` x enemy hit points and shields removed) x `reward_scale`.
    The damage term is SMAC's dense combat reward (Samvelyan et al. 2019): a Roach pays 10 only after
    ~145 hit points of coordinated fire, which random play almost never delivers. The scale exists
    because RLlib clamps the squared value error at `vf_clip_param`, so value targets must stay O(1)
    for the critic to learn. Episode scores (progress bar, evaluation) stay the map's own.
    """

    def __init__(self, *args, seed_base: int = 0, reward_scale: float = 1.0, damage_reward: float = 0.0,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.seed_base = seed_base
        self.reward_scale, self.damage_reward = float(reward_scale), float(damage_reward)
        self._damage = np.zeros(self.num_envs)
        self.worker_index = 0  # set by TrainCallbacks.on_environment_created
        self.finished: deque = deque(maxlen=1000)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._returns = np.zeros(self.num_envs, dtype=np.float64)

    def reset(self, *, seed=None, options=None):
        if isinstance(seed, (int, np.integer)):
            # The vector env seeds game i with seed + i.
            seed = self.seed_base * SEED_STRIDE + self.worker_index * self.num_envs
        self._steps[:] = 0
        self._returns[:] = 0.0
        self._damage[:] = 0.0
        return super().reset(seed=seed, options=options)

    def step(self, actions):
        obs, rewards, terminated, truncated, infos = super().step(actions)
        was_done = self.restarted
        if self.damage_reward:
            damage = self.damage_dealt  # a restarted game counts from 0 again
            rewards = rewards + np.where(was_done, 0.0, damage - self._damage) * self.damage_reward
            self._damage = damage
        rewards = (rewards * self.reward_scale).astype(np.float32)
        live = ~was_done
        self._steps[live] += 1
        self._returns[live] += rewards[live]
        for i in np.flatnonzero(live & (terminated | truncated)):
            self.finished.append((int(self._steps[i]), float(infos["score"][i]), float(self._returns[i])))
        self._steps[was_done] = 0
        self._returns[was_done] = 0.0
        return obs, rewards, terminated, truncated, infos


def make_train_env(ctx: dict):
    """RLlib env creator: ctx = env_config plus `num_envs` (vector mode)."""
    ctx = dict(ctx)
    seed_base = int(ctx.pop("seed_base", 0))
    shaping = {"reward_scale": float(ctx.pop("reward_scale", 1.0)),
               "damage_reward": float(ctx.pop("damage_reward", 0.0))}
    map_name = ctx.pop("map_name")
    num_envs = int(ctx.pop("num_envs", 1))
    return TrainVectorEnv(map_name, num_envs, seed_base=seed_base, **shaping, **ctx)
