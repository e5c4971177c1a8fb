"""`perceiver-sc2` command line: one subcommand per module.

Each command module exposes `add_arguments(parser)` and `run(args) -> int`, and keeps heavy imports
(torch, ray, pysc2) inside `run` so that `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from envs.errors import UserError

# subcommand -> (module, one-line help)
COMMANDS = {
    "demo": ("envs.engine.demo", "a scripted agent plays a minigame on the embedded engine"),
    "bench": ("agent.bench", "benchmarks: `bench engine`, `bench env`, `bench encoders`"),
    "train": ("agent.train", "train a policy with RLlib PPO from a YAML config"),
    "evaluate": ("agent.evaluate", "play seeded episodes and report the mean score with a 95%% CI"),
    "ablate": ("agent.ablate", "encoder ablation grid (encoder x seed) with Ray Tune: table and plots"),
    "render": ("agent.render", "draw one episode (units, health, orders, attention) into a GIF or MP4"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perceiver-sc2", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except UserError as err:
        print(f"perceiver-sc2 {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"perceiver-sc2 {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
