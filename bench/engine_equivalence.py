"""Whether an engine change moves the games: the same seeded games on the engine of two commits, compared
step by step.

A figure is marked stale once the engine's code differs from the commit it was measured on
(bench/provenance.py). A change that leaves a map's games identical cannot have moved that map's figures,
so this plays, on every map and on the engine of each commit, the same seeded games under the same seeded
random raw commands (moves, attacks, stops, harvests, builds and trains, to random units, points and
targets, so refused commands too) and compares every observation: the units, their positions, the player,
the score and each command's result. It appends a record to docs/engine_equivalence.json naming the maps
whose games stayed identical and those that changed; provenance then counts the change as none for figures
on the identical maps only.

    python bench/engine_equivalence.py 13f7d84    # that commit's engine against the committed one (HEAD)

The old engine runs from a temporary git worktree in a subprocess (PYTHONPATH puts its `envs` first).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "engine_equivalence.json"

# pysc2 RAW_FUNCTIONS ids (pysc2 lib/actions.py): the engine's command set and the economy's
STOP, MOVE_PT, MOVE_UNIT, ATTACK_PT, ATTACK_UNIT = 453, 16, 17, 12, 13
GATHER, BUILD_DEPOT, BUILD_BARRACKS, TRAIN_SCV, TRAIN_MARINE = 102, 222, 185, 520, 511
POINT_FUNCTIONS, UNIT_FUNCTIONS = (MOVE_PT, ATTACK_PT, BUILD_DEPOT, BUILD_BARRACKS), (MOVE_UNIT, ATTACK_UNIT,
                                                                                      GATHER)
QUICK_FUNCTIONS = (STOP, TRAIN_SCV, TRAIN_MARINE)
ALL_FUNCTIONS = POINT_FUNCTIONS + UNIT_FUNCTIONS + QUICK_FUNCTIONS


def random_commands(obs, rng: np.random.Generator, share: float = 0.3) -> list:
    """A random raw command for about `share` of the agent's units: a random function of the engine's set,
    on a random point of the map or a random unit."""
    from envs.raw_schema import FeatureUnit, RawCommand

    units = obs.raw_units
    own = units[units[:, FeatureUnit.alliance] == 1, FeatureUnit.tag]
    if len(units) == 0 or len(own) == 0:
        return []
    commands = []
    for tag in own[rng.random(len(own)) < share]:
        function = int(rng.choice(ALL_FUNCTIONS))
        if function in POINT_FUNCTIONS:
            target = (float(rng.uniform(0, 64)), float(rng.uniform(0, 64)))
        elif function in UNIT_FUNCTIONS:
            target = int(units[rng.integers(len(units)), FeatureUnit.tag])
        else:
            target = None
        commands.append(RawCommand(function, False, (int(tag),), target))
    return commands


def digest(map_name: str, games: int, steps: int) -> str:
    """sha256 over every observation of `games` seeded games of `steps` steps under random commands."""
    from envs.engine import Engine

    h = hashlib.sha256()
    for game in range(games):
        rng = np.random.default_rng(game)
        engine = Engine(map_name, seed=game, step_mul=8)
        obs = engine.reset()
        for _ in range(steps):
            for part in (obs.raw_units, obs.positions, obs.player, obs.score_cumulative):
                h.update(np.ascontiguousarray(part).tobytes())
            h.update(repr(obs.action_results).encode())
            if obs.done:
                obs = engine.reset()
            obs = engine.step(random_commands(obs, rng))
    return h.hexdigest()


def digests(tree: Path, maps: list[str], games: int, steps: int) -> dict[str, str]:
    """Each map's digest on the engine in `tree` (a subprocess, so each commit's numba kernels load apart)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, __file__, "--digest", "--games", str(games), "--steps", str(steps),
                           "--maps", *maps], cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the digest on {tree} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", nargs="?", help="the commit whose engine the figures were measured on")
    parser.add_argument("--games", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300, help="agent steps of 8 game loops per game")
    parser.add_argument("--maps", nargs="*", help="default: every map both engines know")
    parser.add_argument("--digest", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.digest:  # the maps this commit's engine knows
        from envs.engine.maps import MAPS

        print(json.dumps({m: digest(m, args.games, args.steps) for m in args.maps if m in MAPS}))
        return 0
    if not args.old:
        parser.error("name the commit to compare against")
    sys.path.insert(0, str(ROOT))  # not for --digest, whose `envs` is the PYTHONPATH's

    from bench.provenance import SIMULATION, engine_commit, git, run_info

    if git("status", "--porcelain", "--", *SIMULATION).strip():
        raise SystemExit("commit the engine's changes first: the record names the committed engine")
    old = git("rev-parse", "--verify", f"{args.old}^{{commit}}").strip()
    if not old:
        raise SystemExit(f"unknown commit: {args.old}")
    new = engine_commit()
    from envs.engine import ECONOMY_MAP_NAMES, MAP_NAMES

    maps = args.maps or [*MAP_NAMES, *ECONOMY_MAP_NAMES]
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), old], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            print(f"{len(maps)} maps, {args.games} games of {args.steps} steps each, on {old[:7]} and "
                  f"{new[:7]}", file=sys.stderr)
            before = digests(tree, maps, args.games, args.steps)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    after = digests(ROOT, maps, args.games, args.steps)
    maps = [m for m in maps if m in before]  # those both engines know
    identical = [m for m in maps if before[m] == after[m]]
    record = {"from": old, "to": new, "games": args.games, "steps": args.steps, "identical": identical,
              "changed": [m for m in maps if m not in identical], **run_info()}
    records = json.loads(OUT.read_text()) if OUT.exists() else []
    OUT.write_text(json.dumps(records + [record], indent=1) + "\n")
    print(f"identical: {', '.join(identical) or 'none'}\nchanged: {', '.join(record['changed']) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
