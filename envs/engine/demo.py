"""`perceiver-sc2 demo`: a scripted raw-command agent plays a map on the embedded engine.

The agent is the map's player in envs/engine/scripted.py (move to the beacon, nearest shard, focus fire,
hunt). Prints a progress bar and a score summary (mean, min, max; win rate on maps with wins).
"""

from __future__ import annotations

import argparse

from envs.engine.maps import MAP_NAMES
from envs.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--map", default="DefeatRoaches", choices=MAP_NAMES, help="map to play")
    parser.add_argument("--episodes", type=int, default=10, help="number of episodes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode (then seed+1, ...)")
    parser.add_argument("--enemy-bot", default=None, help="idle | attack_nearest | focus_fire (map default)")
    parser.add_argument("--step-mul", type=int, default=8, help="game loops per agent step")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from envs.engine import Engine
    from envs.engine.scripted import SCRIPTED

    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    if args.step_mul < 1:
        raise UserError(f"--step-mul must be >= 1, got {args.step_mul}")
    eng = Engine(args.map, seed=args.seed, step_mul=args.step_mul, enemy_bot=args.enemy_bot)
    policy = SCRIPTED[args.map]
    scores, outcomes = [], []
    bar = tqdm(range(args.episodes), desc=f"{args.map} ({policy.__name__})", unit="ep")
    for ep in bar:
        obs = eng.reset(seed=args.seed + ep)
        total = 0.0
        while not obs.done:
            obs = eng.step(policy(obs))
            total += obs.reward
        scores.append(total)
        outcomes.append(obs.outcome)
        bar.set_postfix(score=f"{total:.0f}", mean=f"{np.mean(scores):.1f}")
    bar.close()
    line = (f"{args.map}: {len(scores)} episodes, scripted {policy.__name__} vs {eng.enemy_bot} bot: "
            f"score mean {np.mean(scores):.1f}, min {np.min(scores):.0f}, max {np.max(scores):.0f}")
    if eng.spec.has_win:
        line += f", win rate {np.mean(np.asarray(outcomes) == 1):.2f}"
    print(line)
    return 0
