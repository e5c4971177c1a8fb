"""RLlib callbacks of a training run: per-runner seed offsets, the map's score and win flag as metrics, and
which Ray node sampled how many env steps.

Imported by Ray workers by name.
"""

from __future__ import annotations

import ray
from ray.rllib.callbacks.callbacks import RLlibCallback

# Episode metrics average the last 32 games: RLlib's default (metrics_num_episodes_for_smoothing=100)
# spans several iterations early in training, so the curve lags what the policy does now.
SMOOTHING_EPISODES = 32
STEPS_BY_NODE = "env_steps_by_node"  # metrics key: {Ray node id: env steps sampled there this iteration}


class TrainCallbacks(RLlibCallback):
    """Per-runner seed offsets, the map's own score and win flag as episode metrics, env steps per node."""

    def on_environment_created(self, *, env_runner, metrics_logger=None, env, env_context, **kwargs):
        inner = env.unwrapped
        if hasattr(inner, "worker_index"):
            inner.worker_index = int(env_runner.worker_index or 0)

    def on_sample_end(self, *, env_runner=None, metrics_logger=None, samples=(), **kwargs):
        # On a cluster this shows every node contributing, and a lost node's runner coming back.
        if metrics_logger is not None and ray.is_initialized():
            node = ray.get_runtime_context().get_node_id()
            metrics_logger.log_value((STEPS_BY_NODE, node), sum(len(e) for e in samples), reduce="sum")

    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs):
        info = episode.get_infos(-1)
        # a staggered start cut short (agent/rllib/train_env.py) is not a game
        if metrics_logger is None or not isinstance(info, dict) or info.get("cut", False):
            return
        if "score" in info:
            metrics_logger.log_value("episode_score", float(info["score"]), window=SMOOTHING_EPISODES)
        if "won" in info:
            metrics_logger.log_value("episode_won", float(info["won"]), window=SMOOTHING_EPISODES)
