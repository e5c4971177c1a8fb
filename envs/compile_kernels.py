"""Compile the engine's numba kernels in this process before anything runs the engine in many.

numba compiles a kernel on its first call and caches the machine code beside the sources (`cache=True`),
so a fresh checkout compiles once and every later process loads the cache in seconds. The compilation is
long: about 7 minutes on a 2-core machine doing ~15 GFLOP/s. Left to the first use, Ray's env runners
would each compile the same kernels at once, silently, behind a progress bar stuck at zero, and a test's
subprocess timeout would count the compilation as its own time. Compiling here first, with a note when it
takes a while, leaves them only the cache to load.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import numpy as np

# Every map, batched or single, calls the same kernels with the same argument types, so one map's game
# reaches them all (tests/test_compile_kernels.py plays every map afterwards and checks nothing is new).
_MAP = "MoveToBeacon"
NOTE_AFTER_SECONDS = 15.0  # loading the cache takes a few seconds, even on a busy machine


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def compile_kernels(note: Callable[[str], None] = _note) -> float:
    """Reset and step a batch of engine games once, so numba compiles (or loads from its cache) every
    kernel the entity envs call. Says so through `note` if that takes longer than loading the cache;
    returns the seconds it took."""
    from envs.vector_env import EntityVectorEnv

    start = time.perf_counter()
    timer = threading.Timer(NOTE_AFTER_SECONDS, note, [
        "numba is compiling the engine's kernels: the first use of a checkout on a machine takes minutes, "
        "later runs load them from numba's cache"])
    timer.start()
    try:
        env = EntityVectorEnv(_MAP, num_envs=2)
        env.reset(seed=0)
        env.step(np.zeros(env.action_space.shape, env.action_space.dtype))  # every unit no-ops
        env.close()
    finally:
        timer.cancel()
    seconds = time.perf_counter() - start
    if seconds > NOTE_AFTER_SECONDS:
        note(f"engine kernels ready in {seconds:.0f} s")
    return seconds
