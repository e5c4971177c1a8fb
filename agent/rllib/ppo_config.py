"""TrainConfig -> RLlib PPOConfig (new API stack) over the training vector env (agent/rllib/train_env.py)."""

from __future__ import annotations

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.tune.registry import register_env

from agent.rllib.callbacks import SMOOTHING_EPISODES, TrainCallbacks
from agent.rllib.env_runner import SnapshotEnvRunner
from agent.rllib.learner import EntityPPOLearner
from agent.rllib.module import EntityPolicyModule
from agent.rllib.train_env import make_train_env
from agent.training.build import env_kwargs, policy_kwargs
from agent.training.config import TrainConfig


def learning_rate(cfg: TrainConfig) -> float | list:
    """ppo.lr, or RLlib's piecewise-linear schedule over env steps sampled: ppo.lr at 0, 0 at the budget."""
    if cfg.ppo.lr_schedule == "constant":
        return cfg.ppo.lr
    return [[0, cfg.ppo.lr], [cfg.run.max_env_steps, 0.0]]


def build_ppo_config(cfg: TrainConfig, *, env_creator=make_train_env, callbacks=TrainCallbacks,
                     module_class=EntityPolicyModule, learner_class=EntityPPOLearner) -> PPOConfig:
    """module_class and learner_class: the RLModule and PPO learner (bench train swaps in its baseline)."""
    ppo, scale = cfg.ppo, cfg.scale
    learners = max(1, scale.num_learners)
    # RLlib takes an env class or a registered name; the registry reaches remote runners through Ray.
    env_name = f"perceiver_sc2:{env_creator.__module__}.{env_creator.__qualname__}"
    register_env(env_name, env_creator)
    return (
        PPOConfig()
        .environment(env=env_name, env_config={**env_kwargs(cfg), "backend": cfg.env.backend,
                                                     "seed_base": cfg.seed,
                                                     "damage_reward": ppo.damage_reward,
                                                     "bank_reward": ppo.bank_reward,
                                                     "production_reward": ppo.production_reward,
                                                     "idle_worker_penalty": ppo.idle_worker_penalty,
                                                     "stagger": ppo.stagger_starts})
        .framework("torch")
        .env_runners(
            num_env_runners=scale.num_env_runners,
            num_envs_per_env_runner=cfg.env.num_envs,
            gym_env_vectorize_mode="vector_entry_point",
            rollout_fragment_length="auto",
            num_cpus_per_env_runner=1,
            env_runner_cls=SnapshotEnvRunner,
            # RLlib drops remote samples after 60 s by default, and the iteration then trains on none: on a
            # busy machine a runner's first batch (imports, numba compiles) takes longer. Wait instead.
            sample_timeout_s=None,
        )
        .learners(num_learners=scale.num_learners, num_cpus_per_learner=1 if scale.num_learners else 0,
                  num_gpus_per_learner=scale.num_gpus_per_learner)
        .fault_tolerance(restart_failed_env_runners=scale.restart_env_runners,
                         delay_between_env_runner_restarts_s=scale.restart_delay_s)
        .training(
            lr=learning_rate(cfg),
            gamma=ppo.gamma,
            lambda_=ppo.gae_lambda,
            clip_param=ppo.clip_param,
            vf_clip_param=ppo.vf_clip_param,
            vf_loss_coeff=ppo.vf_loss_coeff,
            entropy_coeff=ppo.entropy_coeff,
            train_batch_size_per_learner=max(1, ppo.train_batch_size // learners),
            minibatch_size=max(1, ppo.minibatch_size // learners),  # RLlib's is per learner
            num_epochs=ppo.num_epochs,
            grad_clip=ppo.grad_clip,
            grad_clip_by="global_norm",
            use_kl_loss=ppo.kl != "none",
            learner_class=learner_class,
            learner_config_dict={"return_scaling": ppo.return_scaling, "ratio": ppo.ratio},
        )
        .rl_module(
            rl_module_spec=RLModuleSpec(module_class=module_class,
                                        model_config={"policy_kwargs": policy_kwargs(cfg),
                                                      "entropy": ppo.entropy, "kl": ppo.kl,
                                                      "max_seq_len": cfg.model.memory_seq_len})
        )
        .callbacks(callbacks)
        .reporting(metrics_num_episodes_for_smoothing=SMOOTHING_EPISODES)
        .debugging(seed=cfg.seed, log_level="ERROR")
    )
