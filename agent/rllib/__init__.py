"""The RLlib side of training: the RLModule adapter (module.py), the env RLlib samples (train_env.py),
its env runner (env_runner.py) and callbacks (callbacks.py), and the TrainConfig -> PPOConfig builder
(ppo_config.py). Ray workers import these modules by name."""
