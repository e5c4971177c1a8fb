"""`perceiver-sc2 bench env`: the cost of the entity layer (featurize + translate + gymnasium) over the
raw engine, and the vector env's throughput.

The overhead is measured on identical games: the entity env plays random legal actions while the raw
commands it sends are recorded, then a raw engine with the same seed replays exactly those commands as
pysc2-style RawCommand lists through `Engine.step` (the baseline), and as arrays through `step_grouped`
(the kernel floor: no Python object per command and no observation objects).
The vector env (64 games, every unit a random legal action each step, observations built, finished
games reset) runs on DefeatRoaches, on SMAC's 2s3z and on SMAC's 27m_vs_30m, the workload JaxMARL's
SMAX benchmark reports (Rutherford et al. 2023, "JaxMARL: Multi-Agent RL Environments in JAX").
Two single-env workloads: "dense", every unit a uniformly random legal action each step (about one raw
command per unit, the worst case for translate), and "sparse", 1-3 units acting per step as in
`bench engine`.
Rates are per second of this process's CPU time (what one core delivers, even on a shared machine) and,
for reference, per wall-clock second. Choosing the random actions is the agent's cost and is not timed.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

MAP = "DefeatRoaches"
SMAX_MAP = "2s3z"  # the vector env's second map, beside SMAX's figure for it
LARGE_MAP = "27m_vs_30m"  # the vector env's third: SMAC's large battle (57 units)


def _random_legal(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random legal action per unit (per row of the last axis), vectorised."""
    return np.argmax(rng.random(mask.shape) * mask, axis=-1)


def _sparse_random_legal(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """1-3 random units take a random legal action, the rest no-op: the command rate of `bench engine`."""
    actions = np.zeros(mask.shape[0], np.int64)
    chosen = rng.choice(mask.shape[0], size=min(mask.shape[0], int(rng.integers(1, 4))), replace=False)
    actions[chosen] = _random_legal(mask[chosen], rng)
    return actions


WORKLOADS = {"dense": _random_legal, "sparse": _sparse_random_legal}


class _Clock:
    """Accumulates wall-clock and process CPU seconds over the `with` blocks it times."""

    def __init__(self):
        self.wall = self.cpu = 0.0

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


def _replay(calls, seed: int, step, clock: _Clock) -> tuple[int, float]:
    """Replay recorded calls on a fresh engine with the same seed: `step(engine, call)` per step, None
    for a reset. Timed step by step, like the env, so both pay the same clock overhead. Returns the
    final (game loop, score), to check that the replay played the env's games."""
    from envs.engine import Engine

    engine = Engine(MAP, seed=seed)
    engine.reset()
    for call in calls:
        with clock:
            if call is None:
                engine.reset()
            else:
                step(engine, call)
    obs = engine._batch.observation(0)
    return obs.game_loop, float(obs.score_cumulative[0])


def single_env_overhead(steps: int, seed: int = 0, workload: str = "dense") -> dict:
    from envs.entity_env import EntityEnv

    env = EntityEnv(MAP)
    obs, _ = env.reset(seed=seed)
    bridge = env._game.bridge
    calls = []  # what reached the engine, read after each step: its commands, or None for a reset
    rng = np.random.default_rng(seed)
    env_clock, raw_clock, array_clock = _Clock(), _Clock(), _Clock()
    policy = WORKLOADS[workload]
    for _ in range(steps):
        actions = policy(obs["action_mask"], rng)
        with env_clock:
            obs, _, terminated, _, _ = env.step(actions)
        commands = bridge.last_commands  # overwritten by the next step: convert now, outside the timing
        calls.append((commands.raw_commands(), [np.copy(a) for a in commands.engine_arrays()]))
        if terminated:
            with env_clock:
                obs, _ = env.reset()
            calls.append(None)

    final = (env.last_raw.game_loop, float(env.last_raw.score_cumulative[0]))
    # Baseline: the same games through the engine's raw-command API (pysc2's RawCommand lists).
    raw = [None if c is None else c[0] for c in calls]
    replayed = [_replay(raw, seed, lambda engine, commands: engine.step(commands), raw_clock)]
    # Floor: the same commands as arrays straight into the kernel (`step_grouped`), no observation objects.
    arrays = [None if c is None else c[1] for c in calls]
    replayed.append(_replay(arrays, seed, lambda engine, a: engine._batch.step_grouped(*a), array_clock))
    if replayed != [final, final]:
        raise RuntimeError(f"the replays did not play the env's games: {replayed} vs {final}")
    return {"env_steps_per_cpu_s": steps / env_clock.cpu, "raw_steps_per_cpu_s": steps / raw_clock.cpu,
            "overhead_cpu": env_clock.cpu / raw_clock.cpu, "overhead_wall": env_clock.wall / raw_clock.wall,
            "array_steps_per_cpu_s": steps / array_clock.cpu,
            "overhead_vs_arrays": env_clock.cpu / array_clock.cpu}


def vector_env_throughput(num_envs: int, steps: int, seed: int = 0, map_name: str = MAP) -> dict:
    import gymnasium as gym

    import envs  # noqa: F401

    vec = gym.make_vec(f"perceiver_sc2/{map_name}-v0", num_envs=num_envs,
                       vectorization_mode="vector_entry_point")
    obs, _ = vec.reset(seed=seed)
    rng = np.random.default_rng(seed)
    clock = _Clock()
    for _ in range(steps):
        actions = _random_legal(obs["action_mask"], rng)
        with clock:
            obs, *_ = vec.step(actions)
    vec.close()
    return {"per_cpu_s": num_envs * steps / clock.cpu, "per_wall_s": num_envs * steps / clock.wall}


def run(args) -> int:
    repeats, steps = (1, 200) if args.quick else (5, 2000)
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("note: set OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 to measure one core")
    single_env_overhead(50)  # warm-up: numba compilation and caches
    single = [single_env_overhead(steps, seed=r) for r in range(repeats)]
    sparse = [single_env_overhead(steps, seed=r, workload="sparse") for r in range(repeats)]
    vector = [vector_env_throughput(64, steps // 4, seed=r) for r in range(repeats)]
    vector_smax = [vector_env_throughput(64, steps // 4, seed=r, map_name=SMAX_MAP) for r in range(repeats)]
    vector_large = [vector_env_throughput(64, steps // 4, seed=r, map_name=LARGE_MAP) for r in range(repeats)]
    def median(rows, key):
        return statistics.median(r[key] for r in rows)

    from envs.run_record import run_info

    result = {
        **run_info(),
        "map": MAP,
        "repeats": repeats,
        "single_env_steps_per_cpu_s": median(single, "env_steps_per_cpu_s"),
        "raw_engine_steps_per_cpu_s": median(single, "raw_steps_per_cpu_s"),
        "entity_layer_overhead_cpu": median(single, "overhead_cpu"),
        "entity_layer_overhead_wall": median(single, "overhead_wall"),
        "kernel_floor_steps_per_cpu_s": median(single, "array_steps_per_cpu_s"),
        "entity_layer_overhead_vs_kernel_floor": median(single, "overhead_vs_arrays"),
        "sparse_single_env_steps_per_cpu_s": median(sparse, "env_steps_per_cpu_s"),
        "sparse_raw_engine_steps_per_cpu_s": median(sparse, "raw_steps_per_cpu_s"),
        "sparse_entity_layer_overhead_cpu": median(sparse, "overhead_cpu"),
        "vector_env_64_agent_steps_per_cpu_s": median(vector, "per_cpu_s"),
        "vector_env_64_agent_steps_per_wall_s": median(vector, "per_wall_s"),
        "vector_env_map_2": SMAX_MAP,
        "vector_env_64_map_2_env_steps_per_cpu_s": median(vector_smax, "per_cpu_s"),
        "vector_env_64_map_2_env_steps_per_wall_s": median(vector_smax, "per_wall_s"),
        "vector_env_64_map_2_env_steps_per_cpu_s_repeats": [r["per_cpu_s"] for r in vector_smax],
        "vector_env_large_map": LARGE_MAP,
        "vector_env_64_large_map_env_steps_per_cpu_s": median(vector_large, "per_cpu_s"),
        "vector_env_64_large_map_env_steps_per_wall_s": median(vector_large, "per_wall_s"),
        "vector_env_64_large_map_env_steps_per_cpu_s_repeats": [r["per_cpu_s"] for r in vector_large],
        "load_average_1min": os.getloadavg()[0],
    }
    r = result
    print(f"{MAP}: entity env {r['single_env_steps_per_cpu_s']:,.0f} steps per CPU-second vs raw engine "
          f"{r['raw_engine_steps_per_cpu_s']:,.0f} on the same games: overhead "
          f"x{r['entity_layer_overhead_cpu']:.2f} (wall clock x{r['entity_layer_overhead_wall']:.2f})")
    print(f"{MAP}: against the kernel floor (the same command arrays into step_grouped, no observation "
          f"objects, {r['kernel_floor_steps_per_cpu_s']:,.0f} steps per CPU-second): "
          f"x{r['entity_layer_overhead_vs_kernel_floor']:.2f}")
    print(f"{MAP}: 1-3 units acting per step (bench engine's command rate): overhead "
          f"x{r['sparse_entity_layer_overhead_cpu']:.2f} ({r['sparse_single_env_steps_per_cpu_s']:,.0f} vs "
          f"{r['sparse_raw_engine_steps_per_cpu_s']:,.0f} steps per CPU-second)")
    print(f"{MAP}: vector env, 64 games: {r['vector_env_64_agent_steps_per_cpu_s']:,.0f} agent-steps per "
          f"CPU-second ({r['vector_env_64_agent_steps_per_wall_s']:,.0f} per wall second); "
          f"load average {r['load_average_1min']:.1f}")
    print(f"{SMAX_MAP}: vector env, 64 games: {r['vector_env_64_map_2_env_steps_per_cpu_s']:,.0f} env steps "
          f"per CPU-second ({r['vector_env_64_map_2_env_steps_per_wall_s']:,.0f} per wall second)")
    print(f"{LARGE_MAP}: vector env, 64 games: {r['vector_env_64_large_map_env_steps_per_cpu_s']:,.0f} env "
          f"steps per CPU-second ({r['vector_env_64_large_map_env_steps_per_wall_s']:,.0f} per wall second)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0
