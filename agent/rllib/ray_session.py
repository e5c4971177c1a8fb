"""Starting Ray for a training run or an ablation: a local Ray sized by the config, or a cluster."""

from __future__ import annotations

import os

import ray


def start_ray(cfg) -> None:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # REFERENCE.md section 7: silences the token notice
    if ray.is_initialized():
        return
    if cfg.scale.address:
        ray.init(address=cfg.scale.address, include_dashboard=False, logging_level="ERROR")
    else:
        ray.init(num_cpus=cfg.scale.num_cpus, include_dashboard=False, logging_level="ERROR",
                 log_to_driver=False)
