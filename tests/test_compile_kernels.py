"""The engine's kernels compiled up front: every map's games then run without numba compiling anything."""

import subprocess
import sys

from envs import compile_kernels as ck

# A fresh process: compile_kernels loads (or compiles) the kernels, then every map plays a few steps of
# random legal actions, batched and single, against every enemy bot. A kernel or signature it did not
# reach would get a new overload then (compiled, or loaded from a cache some other run left).
_PLAY_EVERY_MAP = """
import sys
import gymnasium as gym
import numpy as np
from numba.core.dispatcher import Dispatcher
from envs.compile_kernels import compile_kernels
from envs.engine import ECONOMY_MAP_NAMES, ENEMY_BOTS, MAP_NAMES
from envs.vector_env import EntityVectorEnv

def overloads():
    kernels = {f"{name}.{attr}": value for name, module in list(sys.modules.items())
               if name.startswith("envs")
               for attr, value in vars(module).items() if isinstance(value, Dispatcher)}
    return {(name, sig) for name, kernel in kernels.items() for sig in kernel.overloads}

compile_kernels()
before = overloads()
rng = np.random.default_rng(0)
for map_name in MAP_NAMES + ECONOMY_MAP_NAMES:
    for bot in (None, *ENEMY_BOTS):
        for env in (EntityVectorEnv(map_name, num_envs=2, enemy_bot=bot),
                    gym.make(f"perceiver_sc2/{map_name}-v0", enemy_bot=bot)):
            obs, _ = env.reset(seed=1)
            for _ in range(3):
                obs, *_ = env.step(np.argmax(rng.random(obs["action_mask"].shape) * obs["action_mask"], -1))
            env.close()
print(len(before), sorted(name for name, _ in overloads() - before))
"""


def test_after_compile_kernels_no_map_compiles_anything():
    out = subprocess.run([sys.executable, "-c", _PLAY_EVERY_MAP], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    reached, missed = out.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(reached) >= 5  # the entry points: reset, step and observe of the engine and the entity env
    assert missed == "[]", "kernels compile_kernels did not reach: " + missed


def test_a_slow_compilation_is_announced_and_timed(monkeypatch):
    notes = []
    monkeypatch.setattr(ck, "NOTE_AFTER_SECONDS", 0.0)
    seconds = ck.compile_kernels(note=notes.append)
    assert seconds > 0
    assert len(notes) == 2
    assert notes[0].startswith("numba is compiling the engine's kernels")
    assert notes[1] == f"engine kernels ready in {seconds:.0f} s"
