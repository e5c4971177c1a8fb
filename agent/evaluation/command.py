"""`perceiver-sc2 evaluate`: play seeded episodes and report the score with a 95% CI.

One agent on one map prints one line (and `--json` writes one summary); several agents, enemy bots or
maps print a markdown table (agent/evaluation/evaluate.py plays them, report.py formats them).
"""

from __future__ import annotations

import argparse
import sys

from agent.evaluation.evaluate import evaluate, evaluate_matrix
from agent.evaluation.report import PUBLISHED_SOURCE, TABLE_PUBLISHED, markdown_table, write_csv, write_json
from agent.outputs import check_output_file
from envs import pysc2_compat
from envs.engine import ENEMY_BOTS
from envs.errors import UserError


def format_summary(s: dict) -> str:
    line = (f"{s['map']} {s['agent']}: mean {s['mean']:.2f} "
            f"(95% CI {s['ci_low']:.2f} to {s['ci_high']:.2f}), "
            f"min {s['min']:g}, max {s['max']:g} over {s['episodes']} episodes")
    if "win_rate" in s:
        line += f", win rate {s['win_rate']:.0%} (95% Wilson {s['win_low']:.0%} to {s['win_high']:.0%})"
    return line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", required=True, action="extend", nargs="+", dest="agents",
                        help="scripted, random, or a checkpoint (or run) directory; repeat for a matrix")
    parser.add_argument("--map", required=True, action="extend", nargs="+", dest="maps",
                        help="map name, e.g. DefeatRoaches; repeat for a matrix")
    parser.add_argument("--enemy-bot", action="extend", nargs="+", dest="bots", default=None,
                        help=f"{', '.join(ENEMY_BOTS)} (engine only; default: the map's own)")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="episode k uses seed SEED + k")
    parser.add_argument("--backend", default="engine", help="engine (default) or pysc2 (needs the game)")
    parser.add_argument("--sample", action="store_true",
                        help="checkpoint agents sample their actions (default: greedy)")
    parser.add_argument("--cross-map", action="store_true",
                        help="let a checkpoint play maps other than the one it was trained on")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--csv", metavar="PATH", help="also write one CSV row per (agent, bot, map) to PATH")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _dedupe(items):
    return list(dict.fromkeys(items))


def run(args: argparse.Namespace) -> int:
    # A bad seed or output path fails now, not after every episode has been played.
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0, got {args.seed}")
    check_output_file(args.json, "--json")
    check_output_file(args.csv, "--csv")
    if args.backend == "pysc2":
        # pysc2 needs pure-Python protobuf, chosen at protobuf's first import; nothing this command imports
        # loads protobuf (tests/test_cli.py checks), so installing the shims here is early enough.
        pysc2_compat.install()
    agents, maps = _dedupe(args.agents), _dedupe(args.maps)
    bots = _dedupe(args.bots) if args.bots else [None]
    common = dict(episodes=args.episodes, seed=args.seed, backend=args.backend, sample=args.sample,
                  cross_map=args.cross_map, progress=not args.quiet)
    if len(agents) == len(maps) == len(bots) == 1:
        summary = evaluate(agents[0], maps[0], enemy_bot=bots[0], **common)
        print(format_summary(summary))
        if summary["published"]:
            pub = ", ".join(f"{k} {summary['published'][k]}" for k in TABLE_PUBLISHED)
            print(f"published: {pub} [{PUBLISHED_SOURCE}]")
        rows, data = [summary], summary  # one run's JSON is its summary: the keys of one matrix row
    else:
        rows = evaluate_matrix(agents, maps, bots, **common,
                               on_row=lambda s: print(format_summary(s), file=sys.stderr))
        print(markdown_table(rows))
        data = {"seed": args.seed, "episodes": args.episodes, "backend": args.backend,
                "agents": agents, "maps": maps, "enemy_bots": bots, "rows": rows}
    if args.json:
        write_json(data, args.json)
    if args.csv:
        write_csv(rows, args.csv)
    return 0
