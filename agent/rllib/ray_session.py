"""Starting Ray for a training run or an ablation: a local Ray sized by the config, or a cluster."""

from __future__ import annotations

import os

import ray

# Environment variables a driver hands its Ray workers on a cluster: pysc2's generated protobuf code
# needs the pure-Python protobuf runtime (envs/pysc2_compat.py), chosen when a worker first imports
# protobuf, which a Ray worker does as it starts.
WORKER_ENV_VARS = ("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION",)


def start_ray(cfg) -> None:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # REFERENCE.md section 7: silences the token notice
    if ray.is_initialized():
        return
    if cfg.scale.address:
        # The nodes were started elsewhere: their workers inherit none of this process's environment.
        env_vars = {name: os.environ[name] for name in WORKER_ENV_VARS if name in os.environ}
        ray.init(address=cfg.scale.address, include_dashboard=False, logging_level="ERROR",
                 runtime_env={"env_vars": env_vars} if env_vars else None)
    else:
        # A local Ray's workers inherit this process's environment.
        ray.init(num_cpus=cfg.scale.num_cpus, include_dashboard=False, logging_level="ERROR",
                 log_to_driver=False)
