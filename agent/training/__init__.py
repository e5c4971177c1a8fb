"""Training: the typed config (config.py), the `train` command (command.py), the loop that iterates PPO,
logs and checkpoints (loop.py), and run directories and checkpoints (checkpoint.py)."""
