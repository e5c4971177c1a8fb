"""TrainConfig -> RLlib PPOConfig (new API stack) over the batched engine vector env.

Imported by Ray workers (the env creator and the callbacks must be importable by name), so it keeps to
module-level functions and classes.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.tune.registry import register_env

from agent.config import TrainConfig
from agent.rl_module import EntityPolicyModule, policy_init_kwargs
from envs.engine_bridge import DAMAGE_DEALT
from envs.vector_env import EntityVectorEnv

SEED_STRIDE = 100_000  # games of different env runners never share a seed below this many games each
SMOOTHING_EPISODES = 32  # REFERENCE.md section 8: RLlib's default window of 100 lags the curve


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
        was_done = self._needs_reset.copy()
        obs, rewards, terminated, truncated, infos = super().step(actions)
        if self.damage_reward:
            damage = self._bridge.status[:, DAMAGE_DEALT]  # a reset game restarts from 0
            rewards = rewards + np.where(was_done, 0.0, damage - self._damage) * self.damage_reward
            self._damage = damage.copy()
        rewards = (rewards * self.reward_scale).astype(np.float32)
        live = ~was_done
        self._steps[live] += 1
        self._returns[live] += rewards[live]
        for i in np.flatnonzero(live & (terminated | truncated)):
            self.finished.append((int(self._steps[i]), float(infos["score"][i]), float(self._returns[i])))
        self._steps[was_done] = 0
        self._returns[was_done] = 0.0
        return obs, rewards, terminated, truncated, infos


class _ChunkStats:
    """What RLlib's episode metrics read from an earlier chunk of an episode, frozen at sample time."""

    def __init__(self, chunk) -> None:
        self._len, self._return, self._seconds = len(chunk), float(chunk.get_return()), chunk.get_duration_s()

    def __len__(self) -> int:
        return self._len

    def get_return(self) -> float:
        return self._return

    def get_duration_s(self) -> float:
        return self._seconds


class SnapshotEnvRunner(SingleAgentEnvRunner):
    """SingleAgentEnvRunner whose episode metrics cannot be changed by the learner.

    RLlib 2.60 keeps the chunks of unfinished episodes by reference to sum episode lengths and returns
    later. Sampling in the driver (num_env_runners=0), PPO's learner connector then appends a bootstrap
    timestep to those same objects, so every episode that spans two iterations is recorded one step
    too long (tests/test_train.py caught it against the engine's own count). Freezing the numbers at
    the end of sample() keeps RLlib's metrics equal to the games played. (`prev_episode_chunks` in
    `on_episode_end` therefore holds these snapshots: length and return, no step data.)
    """

    def sample(self, *args, **kwargs):
        episodes = super().sample(*args, **kwargs)
        for chunks in self._ongoing_episodes_for_metrics.values():
            chunks[:] = [c if isinstance(c, _ChunkStats) else _ChunkStats(c) for c in chunks]
        return episodes


def make_train_env(ctx: dict):
    """RLlib env creator: ctx = env_config plus `num_envs` (vector mode)."""
    ctx = dict(ctx)
    seed_base = int(ctx.pop("seed_base", 0))
    shaping = {"reward_scale": float(ctx.pop("reward_scale", 1.0)),
               "damage_reward": float(ctx.pop("damage_reward", 0.0))}
    map_name = ctx.pop("map_name")
    num_envs = int(ctx.pop("num_envs", 1))
    return TrainVectorEnv(map_name, num_envs, seed_base=seed_base, **shaping, **ctx)


class TrainCallbacks(RLlibCallback):
    """Per-runner seed offsets, and the map's own score and win flag as episode metrics."""

    def on_environment_created(self, *, env_runner, metrics_logger=None, env, env_context, **kwargs):
        inner = env.unwrapped
        if hasattr(inner, "worker_index"):
            inner.worker_index = int(env_runner.worker_index or 0)

    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs):
        if metrics_logger is None:
            return
        info = episode.get_infos(-1)
        if isinstance(info, dict) and "score" in info:
            metrics_logger.log_value("episode_score", float(info["score"]), window=SMOOTHING_EPISODES)
        if isinstance(info, dict) and "won" in info:
            metrics_logger.log_value("episode_won", float(info["won"]), window=SMOOTHING_EPISODES)


def env_kwargs(cfg: TrainConfig) -> dict:
    """gymnasium kwargs of the training env (the same for evaluation)."""
    return {
        "map_name": cfg.env.map,
        "max_entities": cfg.env.max_entities,
        "max_units": cfg.env.max_units,
        "grid_size": cfg.env.grid_size,
        "step_mul": cfg.env.step_mul,
        "enemy_bot": cfg.env.enemy_bot,
    }


def model_config(cfg: TrainConfig) -> dict:
    width, options = cfg.model.resolved()
    return {
        "grid_size": cfg.env.grid_size,
        "width": width,
        "key_dim": cfg.model.key_dim,
        "encoder": cfg.model.encoder,
        "encoder_options": options,
        "noop_bias": cfg.model.noop_bias,
        "ordered_decoding": cfg.model.ordered_decoding,
        "distance_bias": cfg.model.distance_bias,
    }


def policy_kwargs(cfg: TrainConfig) -> dict:
    """EntityPolicy constructor arguments for this config (no env is created)."""
    from envs.entity_env import entity_spec, observation_space

    spec = entity_spec(cfg.env.map, max_entities=cfg.env.max_entities, max_units=cfg.env.max_units,
                       grid_size=cfg.env.grid_size)
    return policy_init_kwargs(observation_space(spec), model_config(cfg))


def build_ppo_config(cfg: TrainConfig, *, env_creator=make_train_env, callbacks=TrainCallbacks) -> PPOConfig:
    ppo, scale = cfg.ppo, cfg.scale
    learners = max(1, scale.num_learners)
    # RLlib takes an env class or a registered name; the registry reaches remote runners through Ray.
    env_name = f"perceiver_sc2:{env_creator.__module__}.{env_creator.__qualname__}"
    register_env(env_name, env_creator)
    return (
        PPOConfig()
        .environment(env=env_name, env_config={**env_kwargs(cfg), "seed_base": cfg.seed,
                                                     "reward_scale": ppo.reward_scale,
                                                     "damage_reward": ppo.damage_reward})
        .framework("torch")
        .env_runners(
            num_env_runners=scale.num_env_runners,
            num_envs_per_env_runner=cfg.env.num_envs,
            gym_env_vectorize_mode="vector_entry_point",
            rollout_fragment_length="auto",
            num_cpus_per_env_runner=1,
            env_runner_cls=SnapshotEnvRunner,
        )
        .learners(num_learners=scale.num_learners, num_cpus_per_learner=1 if scale.num_learners else 0)
        .training(
            lr=ppo.lr,
            gamma=ppo.gamma,
            lambda_=ppo.gae_lambda,
            clip_param=ppo.clip_param,
            vf_clip_param=ppo.vf_clip_param,
            vf_loss_coeff=ppo.vf_loss_coeff,
            entropy_coeff=ppo.entropy_coeff,
            train_batch_size_per_learner=max(1, ppo.train_batch_size // learners),
            minibatch_size=ppo.minibatch_size,
            num_epochs=ppo.num_epochs,
            grad_clip=ppo.grad_clip,
            grad_clip_by="global_norm",
        )
        .rl_module(
            rl_module_spec=RLModuleSpec(module_class=EntityPolicyModule, model_config=model_config(cfg))
        )
        .callbacks(callbacks)
        .reporting(metrics_num_episodes_for_smoothing=SMOOTHING_EPISODES)
        .debugging(seed=cfg.seed, log_level="ERROR")
    )
