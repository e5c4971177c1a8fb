"""`perceiver-sc2 bench env`: the cost of the entity layer (featurize + translate + gymnasium) over the
raw engine, and the vector env's throughput.

The overhead is measured on identical games: the entity env plays random legal actions while the raw
commands it sends are recorded, then a raw engine with the same seed replays exactly those commands.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

MAP = "DefeatRoaches"


def _random_legal(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random legal action per unit (per row of the last axis), vectorised."""
    return np.argmax(rng.random(mask.shape) * mask, axis=-1)


class _Recorder:
    """Forwards to a backend and keeps what reached it: command lists, and None for each reset."""

    def __init__(self, backend):
        self.backend, self.calls = backend, []

    def reset(self, seed=None):
        self.calls.append(None)
        return self.backend.reset(seed=seed)

    def step(self, commands):
        self.calls.append(commands)
        return self.backend.step(commands)


def single_env_overhead(steps: int, seed: int = 0) -> dict:
    from envs.engine import Engine
    from envs.entity_env import EntityEnv

    env = EntityEnv(MAP)
    obs, _ = env.reset(seed=seed)
    env._backend = recorder = _Recorder(env._backend)
    rng = np.random.default_rng(seed)
    env_seconds = 0.0  # only the env's own time: choosing the actions is the agent's
    for _ in range(steps):
        actions = _random_legal(obs["action_mask"], rng)
        start = time.perf_counter()
        obs, _, terminated, _, _ = env.step(actions)
        if terminated:
            obs, _ = env.reset()
        env_seconds += time.perf_counter() - start

    engine = Engine(MAP, seed=seed)
    engine.reset()
    start = time.perf_counter()
    for commands in recorder.calls:
        if commands is None:
            engine.reset()
        else:
            engine.step(commands)
    raw_seconds = time.perf_counter() - start
    return {"env_steps_per_s": steps / env_seconds, "raw_steps_per_s": steps / raw_seconds,
            "overhead": env_seconds / raw_seconds}


def vector_env_throughput(num_envs: int, steps: int, seed: int = 0) -> float:
    import gymnasium as gym

    import envs  # noqa: F401

    vec = gym.make_vec(f"perceiver_sc2/{MAP}-v0", num_envs=num_envs, vectorization_mode="vector_entry_point")
    obs, _ = vec.reset(seed=seed)
    rng = np.random.default_rng(seed)
    elapsed = 0.0  # only the env's own time: choosing the actions is the agent's
    for _ in range(steps):
        actions = _random_legal(obs["action_mask"], rng)
        start = time.perf_counter()
        obs, *_ = vec.step(actions)
        elapsed += time.perf_counter() - start
    vec.close()
    return num_envs * steps / elapsed


def run(args) -> int:
    repeats, steps = (1, 200) if args.quick else (5, 2000)
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("note: set OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 to measure one core")
    single_env_overhead(50)  # warm-up: numba compilation and caches
    single = [single_env_overhead(steps, seed=r) for r in range(repeats)]
    vector = [vector_env_throughput(64, steps // 4, seed=r) for r in range(repeats)]
    result = {
        "map": MAP,
        "repeats": repeats,
        "single_env_steps_per_s": statistics.median(s["env_steps_per_s"] for s in single),
        "raw_engine_steps_per_s": statistics.median(s["raw_steps_per_s"] for s in single),
        "entity_layer_overhead": statistics.median(s["overhead"] for s in single),
        "vector_env_64_agent_steps_per_s": statistics.median(vector),
        "date": time.strftime("%Y-%m-%d"),
    }
    print(f"{MAP}: entity env {result['single_env_steps_per_s']:,.0f} steps/s vs raw engine "
          f"{result['raw_engine_steps_per_s']:,.0f} steps/s on the same games: "
          f"overhead x{result['entity_layer_overhead']:.2f}")
    print(f"{MAP}: vector env, 64 games: {result['vector_env_64_agent_steps_per_s']:,.0f} agent-steps/s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0
