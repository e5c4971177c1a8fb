"""pysc2 needs the pure-Python protobuf runtime, chosen before anything (ray, pysc2) imports protobuf;
installing the shims first lets every pysc2 test run in this process."""

import os

import pytest

from envs import pysc2_compat

pysc2_compat.install()


@pytest.fixture(scope="module")
def ray_session():
    """A local two-CPU Ray for the tests of a module that build RLlib algorithms in-process."""
    import ray

    from agent.rllib.ray_session import start_local_ray

    os.environ["RAY_AUTH_MODE"] = "disabled"
    start_local_ray(2)
    yield
    ray.shutdown()


def pytest_sessionstart(session):
    """The engine's kernels compiled once, before any test: the tests that run training in a subprocess
    under a timeout then only load numba's cache (envs/compile_kernels.py). Under pytest-xdist this runs
    in the controller before it starts the workers, which then load the cache as they need it."""
    if hasattr(session.config, "workerinput"):  # an xdist worker
        return
    from envs.compile_kernels import compile_kernels

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    compile_kernels(note=reporter.write_line if reporter else print)
