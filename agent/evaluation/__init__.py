"""Evaluation: the `evaluate` command (command.py), the one run loop every agent plays through
(run_loop.py), the agents `--agent` names (agents.py, scripted.py), seeded episodes and matrices
(evaluate.py), interval estimates (stats.py) and the reports (report.py)."""
