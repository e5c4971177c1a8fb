"""`perceiver-sc2 bench engine [--json PATH] [--quick]`: engine agent-steps per second.

Every map with enemies, one game and a batch of 64: random legal commands through the public API (each
game, each step: one command, a random verb among attack unit / attack-move / move / stop, for 1-3
random own units), finished games reset at once (`reset_game`), step_mul 8, one thread. The economy maps
are played by their scripted players (envs/scripted_economy.py: harvesting, building and training all
episode long, where random commands would leave the workers idle). The timing
covers command generation, the engine step and the RawObs construction. Reported: medians of the
repeats, per second of this process's CPU time (the one-core figure on a shared machine) and per
wall-clock second. Maps of more than LARGE units play fewer agent-steps per repeat (their steps cost
more), but always a whole episode's worth of steps, so that the figure covers the battle as well as the
approach, and fewer repeats; their single game also runs with the cell lists forced on and off
(envs/engine/grid.py), the same games either way, to show what the grid saves over scanning every unit.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import time

BATCH_SIZES = (1, 64)
LARGE = 32  # units at the start: more is a large battle


def cases() -> list[tuple[str, int]]:
    """(map, number of games) for every map with enemies (where combat costs time) and every economy map,
    and batch size."""
    from envs.engine.maps import ECONOMY_MAP_NAMES, MAP_NAMES, map_spec

    maps = [m for m in MAP_NAMES if map_spec(m).enemy] + list(ECONOMY_MAP_NAMES)
    return [(m, b) for m in maps for b in BATCH_SIZES]


def random_commands(obs, rnd: random.Random, playable) -> list:
    from envs.raw_schema import RawCommand, RawFunction

    rows = obs.raw_units[:, 1::28].tolist()  # (alliance, tag) pairs: columns 1 and 29
    own = [t for a, t in rows if a == 1]
    if not own:
        return []
    r = rnd.random
    k = min(len(own), 1 + int(r() * 3))
    start = int(r() * len(own))
    tags = tuple((own + own)[start:start + k])  # k distinct own units
    verb = int(r() * 4)
    if verb == 0:
        enemy = [t for a, t in rows if a == 4]
        if enemy:
            return [RawCommand(RawFunction.Attack_unit, False, tags, enemy[int(r() * len(enemy))])]
        verb = 1
    if verb == 3:
        return [RawCommand(RawFunction.Stop_quick, False, tags, None)]
    x0, y0, x1, y1 = playable
    point = (x0 + (x1 - x0) * r(), 64.0 - y0 - (y1 - y0) * r())  # raw pixel space, y flipped
    fn = RawFunction.Attack_pt if verb == 1 else RawFunction.Move_pt
    return [RawCommand(fn, False, tags, point)]


def measure(map_name, num_games: int, steps: int, seed: int = 0) -> tuple[float, float, int]:
    """Agent-steps per second over `steps` batched steps, by wall clock and by this process's CPU time
    (the fair figure for "one core" on a shared, oversubscribed machine); and the rejected commands.
    `map_name` may be a MapSpec."""
    from envs.engine import BatchedEngine
    from envs.engine.maps import RULES_ECONOMY
    from envs.scripted_economy import SCRIPTED_ECONOMY

    eng = BatchedEngine(map_name, num_games=num_games, seeds=[seed + i for i in range(num_games)])
    rnd = random.Random(seed)
    playable = eng.spec.playable
    players = [SCRIPTED_ECONOMY[map_name]() for _ in range(num_games)] \
        if eng.spec.rules == RULES_ECONOMY else None
    obs = eng.reset()
    eng.step([[] for _ in range(num_games)])  # warm-up: loads the compiled kernels
    rejected = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        if players:
            cmds = [player(o) for player, o in zip(players, obs, strict=True)]
        else:
            cmds = [random_commands(o, rnd, playable) for o in obs]
        obs = eng.step(cmds)
        for i, o in enumerate(obs):
            rejected += len(o.action_results)
            if o.done:
                obs[i] = eng.reset_game(i)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return steps * num_games / wall, steps * num_games / cpu, rejected


def start_units(map_name: str) -> int:
    """Units on the map when an episode starts, both sides."""
    from envs.engine.maps import map_spec

    spec = map_spec(map_name)
    return sum(n for _, n in spec.agent + spec.enemy)


def steps_per_repeat(map_name: str, num_games: int, agent_steps: int, whole_episode: bool = True) -> int:
    """Batched steps per repeat: agent_steps in all, scaled down on large maps to LARGE / units of it but,
    if `whole_episode`, never below one episode's agent steps."""
    from envs.engine.maps import LOOPS_PER_GAME_SECOND, map_spec

    units = start_units(map_name)
    if units <= LARGE:
        return max(1, agent_steps // num_games)
    episode = map_spec(map_name).time_limit_s * LOOPS_PER_GAME_SECOND // 8 if whole_episode else 1
    return max(agent_steps * LARGE // units // num_games, episode)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # the kernels are serial; keep any pool at one thread
    repeats = 2 if args.quick else 5
    agent_steps = 2_000 if args.quick else 20_000  # per repeat
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (CPU-time figures are less affected)")
    results = []
    from envs.engine.maps import map_spec
    from envs.run_record import run_info

    info = run_info()
    chosen = cases()
    if getattr(args, "maps", None):
        unknown = sorted(set(args.maps) - {m for m, _ in chosen})
        if unknown:
            from envs.errors import UserError

            raise UserError(f"bench engine has no map {', '.join(unknown)}; choose from: "
                            f"{', '.join(dict.fromkeys(m for m, _ in chosen))}")
        chosen = [(m, b) for m, b in chosen if m in args.maps]
    for map_name, num_games in chosen:
        steps = steps_per_repeat(map_name, num_games, agent_steps, whole_episode=not args.quick)
        large = start_units(map_name) > LARGE
        n = min(repeats, 3) if large else repeats
        runs = [measure(map_name, num_games, steps, seed=r) for r in range(n)]
        wall = [w for w, _, _ in runs]
        cpu = [c for _, c, _ in runs]
        rejected = sum(n for _, _, n in runs)
        grid = {}
        if num_games == 1 and large:
            for mode in ("always", "never"):
                spec = dataclasses.replace(map_spec(map_name), cell_lists=mode)
                grid[f"cell_lists_{mode}_agent_steps_per_cpu_s_median"] = statistics.median(
                    measure(spec, 1, steps, seed=r)[1] for r in range(n))
        results.append({"map": map_name, "units": start_units(map_name), "num_games": num_games,
                        "step_mul": 8, "repeats": n,
                        "agent_steps_per_repeat": steps * num_games,
                        "agent_steps_per_cpu_s_median": statistics.median(cpu),
                        "agent_steps_per_wall_s_median": statistics.median(wall),
                        "agent_steps_per_cpu_s": cpu, "agent_steps_per_wall_s": wall,
                        "rejected_commands": rejected, **grid})
        print(f"{map_name:28s} games={num_games:3d}  {statistics.median(cpu):9,.0f} agent-steps per CPU-s  "
              f"{statistics.median(wall):9,.0f} per wall-s  (medians of {n}; rejected {rejected})")
    if args.json:
        out = {**info, "benchmark": "engine", "load_average": os.getloadavg(), "results": results}
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
        print(f"wrote {args.json}")
    return 0
