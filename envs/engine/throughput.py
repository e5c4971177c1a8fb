"""`perceiver-sc2 bench engine [--json PATH] [--quick]`: engine agent-steps per second.

Every map with enemies, one game and a batch of 64: random legal commands through the public API (each
game, each step: one command, a random verb among attack unit / attack-move / move / stop, for 1-3
random own units), finished games reset at once (`reset_game`), step_mul 8, one thread. The economy maps
are played by their scripted players (envs/scripted_economy.py: harvesting, building and training all
episode long, where random commands would leave the workers idle). The timing
covers command generation, the engine step and the RawObs construction. Reported: medians of the
repeats, per second of this process's CPU time (the one-core figure on a shared machine) and per
wall-clock second.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time

BATCH_SIZES = (1, 64)


def cases() -> list[tuple[str, int]]:
    """(map, number of games) for every map with enemies (where combat costs time) and every economy map,
    and batch size."""
    from envs.engine.maps import ECONOMY_MAP_NAMES, MAP_NAMES, map_spec

    maps = [m for m in MAP_NAMES if map_spec(m).enemy] + list(ECONOMY_MAP_NAMES)
    return [(m, b) for m in maps for b in BATCH_SIZES]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for smoke tests")
    parser.add_argument("--maps", nargs="+", metavar="MAP", help="only these maps (default: all of them)")


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


def measure(map_name: str, num_games: int, steps: int, seed: int = 0) -> tuple[float, float, int]:
    """Agent-steps per second over `steps` batched steps, by wall clock and by this process's CPU time
    (the fair figure for "one core" on a shared, oversubscribed machine); and the rejected commands."""
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


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # the kernels are serial; keep any pool at one thread
    repeats = 2 if args.quick else 5
    agent_steps = 2_000 if args.quick else 20_000  # per repeat
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (CPU-time figures are less affected)")
    results = []
    chosen = cases()
    if args.maps:
        unknown = sorted(set(args.maps) - {m for m, _ in chosen})
        if unknown:
            from envs.errors import UserError

            raise UserError(f"bench engine has no map {', '.join(unknown)}; choose from: "
                            f"{', '.join(dict.fromkeys(m for m, _ in chosen))}")
        chosen = [(m, b) for m, b in chosen if m in args.maps]
    for map_name, num_games in chosen:
        steps = max(1, agent_steps // num_games)
        runs = [measure(map_name, num_games, steps, seed=r) for r in range(repeats)]
        wall = [w for w, _, _ in runs]
        cpu = [c for _, c, _ in runs]
        rejected = sum(n for _, _, n in runs)
        results.append({"map": map_name, "num_games": num_games, "step_mul": 8, "repeats": repeats,
                        "agent_steps_per_repeat": steps * num_games,
                        "agent_steps_per_cpu_s_median": statistics.median(cpu),
                        "agent_steps_per_wall_s_median": statistics.median(wall),
                        "agent_steps_per_cpu_s": cpu, "agent_steps_per_wall_s": wall,
                        "rejected_commands": rejected})
        print(f"{map_name:28s} games={num_games:3d}  {statistics.median(cpu):9,.0f} agent-steps per CPU-s  "
              f"{statistics.median(wall):9,.0f} per wall-s  (medians of {repeats}; rejected {rejected})")
    if args.json:
        out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "benchmark": "engine",
               "load_average": os.getloadavg(), "results": results}
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
        print(f"wrote {args.json}")
    return 0
