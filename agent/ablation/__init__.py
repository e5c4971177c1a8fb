"""Encoder ablations: the grid spec (spec.py), the `ablate` command (command.py), the Ray Tune run and its
per-trial records (runner.py, callbacks.py), and the table and plots (report.py)."""
