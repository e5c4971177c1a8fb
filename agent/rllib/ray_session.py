"""Starting Ray for a training run or an ablation: a local Ray sized by the config, or a cluster."""

from __future__ import annotations

import os
import signal
import sys
import threading

import ray

from agent.training.config import ScaleConfig

# Environment variables a driver hands its Ray workers on a cluster: pysc2's generated protobuf code
# needs the pure-Python protobuf runtime (envs/pysc2_compat.py), chosen when a worker first imports
# protobuf, which a Ray worker does as it starts.
WORKER_ENV_VARS = ("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION",)


_STOP = threading.Event()


def _request_stop(signum, frame):
    """First Ctrl-C or SIGTERM: ask the training loop to stop after the running iteration (a
    KeyboardInterrupt raised inside RLlib's actor calls can be caught there and lost). A second one
    stops at once."""
    if _STOP.is_set():
        raise KeyboardInterrupt
    _STOP.set()


def stop_requested() -> bool:
    return _STOP.is_set()


# Ray waits a fixed 30 s for its raylet to register (ray/_private/node.py); on a machine busy with other
# runs that can pass while the raylet is still starting, so a local start is tried this many times.
LOCAL_START_ATTEMPTS = 3


def start_local_ray(num_cpus: int) -> None:
    """A local Ray, whose workers inherit this process's environment."""
    for attempt in range(1, LOCAL_START_ATTEMPTS + 1):
        try:
            ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
            return
        except Exception as error:  # Ray raises a bare Exception for this timeout
            if "timed out during startup" not in str(error) or attempt == LOCAL_START_ATTEMPTS:
                raise
            ray.shutdown()
            print(f"note: Ray's node did not start within Ray's 30 s (attempt {attempt} of "
                  f"{LOCAL_START_ATTEMPTS}; the machine is busy); starting it again", file=sys.stderr)


def start_ray(scale: ScaleConfig) -> None:
    """Start (or join) Ray, then make Ctrl-C and SIGTERM (a scheduler's stop, `kill`) ask the run to stop
    after the running iteration (`stop_requested`), so it keeps what it finished and atexit shuts Ray
    down. The handlers go in after `ray.init`, which installs one that exits at once."""
    # Ray's token authentication is for shared clusters; disabled, a local Ray prints no token notice.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if not ray.is_initialized():
        if scale.address:
            # The nodes were started elsewhere: their workers inherit none of this process's environment.
            env_vars = {name: os.environ[name] for name in WORKER_ENV_VARS if name in os.environ}
            ray.init(address=scale.address, include_dashboard=False, logging_level="ERROR",
                     runtime_env={"env_vars": env_vars} if env_vars else None)
        else:
            start_local_ray(scale.num_cpus)
    _STOP.clear()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _request_stop)
